"""TrailQL's extensions to Sigma: what a rule's ``trailql:`` block may say.

Sigma cannot say "the first time in 30 days", "an account inside a parameter that is not the
event's", or "shorter than the group's previous retention". A rule says them in a block of
its own, which pySigma keeps as a custom attribute and other Sigma tools ignore::

    trailql:
      summary: "{principal} deleted {log_groups} in {account} ({region})"
      exclude_trusted_principals: true     # TRAILQL_TRUSTED_PRINCIPALS never raise it
      first_seen: {days: 14, by: [principal]}   # only a group's first event in that long
      checks: [foreign_destination]         # each candidate must pass every check

Checks (each reads the record as CloudTrail wrote it):

- ``foreign_destination``: ``requestParameters.destinationArn`` names an account that is
  neither the event's ``recipientAccountId`` nor in ``TRAILQL_TRUSTED_ACCOUNTS``.
- ``untrusted_policy``: the policy document (``accessPolicy``, ``policyDocument`` or
  ``policy``, a JSON string) allows ``*`` or an account that is neither the event's nor
  trusted.
- ``retention_shortened``: ``retentionInDays`` is below ``TRAILQL_RETENTION_FLOOR_DAYS`` or
  below the group's previous retention (its last PutRetentionPolicy; none after a
  DeleteRetentionPolicy, which means keep forever).
- ``bucket_not_allowed``: the export's ``destination`` bucket is not in
  ``TRAILQL_EXPORT_BUCKETS`` (the check is off while that list is empty).
- ``drops_management_events``: after PutEventSelectors no selector records management write
  events.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from detections.conversion import as_number
from detections.fields import mapped_field, mapped_name
from schema import principal_name
from schema.paths import ACCOUNT_ID

Record = dict[str, Any]
_ACCOUNT_IN_ARN = re.compile(r"^arn:[^:]*:[^:]*:[^:]*:(\d{12}):")
_ACCOUNT = re.compile(r"^\d{12}$")
CHECKS = (
    "foreign_destination",
    "untrusted_policy",
    "retention_shortened",
    "bucket_not_allowed",
    "drops_management_events",
)


@dataclass(frozen=True)
class FirstSeen:
    """Only the first event of each group in ``days`` is a finding."""

    days: int
    by: tuple[str, ...]  # mapped paths; the account always among them


@dataclass(frozen=True)
class Extensions:
    """A rule's ``trailql:`` block, checked."""

    summary: str | None = None
    exclude_trusted_principals: bool = False
    first_seen: FirstSeen | None = None
    checks: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Trust:
    """What the settings say is expected: accounts, principals, buckets, a retention floor."""

    accounts: frozenset[str] = frozenset()
    principals: frozenset[str] = frozenset()
    export_buckets: frozenset[str] = frozenset()
    retention_floor_days: int = 0


_KEYS = {"summary", "exclude_trusted_principals", "first_seen", "checks"}


def extensions_of(block: object) -> Extensions:
    """The ``trailql:`` block of a rule; ValueError says what is wrong with it."""
    if block is None:
        return Extensions()
    if not isinstance(block, dict):
        raise ValueError("the trailql block must be a mapping")  # noqa: TRY004  a rule's fault
    unknown = sorted(set(block) - _KEYS)
    if unknown:
        raise ValueError(f"unknown trailql extension {unknown[0]!r} (known: {sorted(_KEYS)})")
    summary = block.get("summary")
    if summary is not None and not isinstance(summary, str):
        raise ValueError("trailql.summary must be text")
    exclude = block.get("exclude_trusted_principals", False)
    if not isinstance(exclude, bool):
        raise ValueError("trailql.exclude_trusted_principals must be true or false")  # noqa: TRY004
    checks = block.get("checks", [])
    if not isinstance(checks, list) or not all(check in CHECKS for check in checks):
        raise ValueError(f"trailql.checks must list some of {list(CHECKS)}")
    return Extensions(summary, exclude, _first_seen(block.get("first_seen")), tuple(checks))


def _first_seen(block: object) -> FirstSeen | None:
    if block is None:
        return None
    if not isinstance(block, dict) or set(block) - {"days", "by"}:
        raise ValueError("trailql.first_seen takes days and by")
    days = block.get("days")
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 366:  # noqa: PLR2004
        raise ValueError("trailql.first_seen.days must be a whole number of days, 1 to 366")
    by = block.get("by", ["principal"])
    if not isinstance(by, list) or not by or not all(isinstance(name, str) for name in by):
        raise ValueError("trailql.first_seen.by must list field names")
    paths = [mapped_name(name) for name in by]
    for path in paths:
        mapped_field(path)
    if ACCOUNT_ID not in paths:
        paths.append(ACCOUNT_ID)
    return FirstSeen(days, tuple(paths))


def trusted_principal_query(principals: frozenset[str]) -> dict[str, Any] | None:
    """Events by none of ``principals`` (by TrailQL's name, user or role name, or ARN)."""
    if not principals:
        return None
    values = sorted(principals)
    fields = (
        "trailql.principal",
        "userIdentity.arn",
        "userIdentity.userName",
        "userIdentity.sessionContext.sessionIssuer.arn",
        "userIdentity.sessionContext.sessionIssuer.userName",
    )
    return {"bool": {"must_not": [{"terms": {name: values}} for name in fields]}}


def by_trusted_principal(record: Record, principals: frozenset[str]) -> bool:
    """Whether a record's caller is one of ``principals`` (the query's test, in Python)."""
    identity = record.get("userIdentity")
    names = {principal_name(identity)}
    if isinstance(identity, dict):
        names |= {identity.get("arn"), identity.get("userName")}
        context = identity.get("sessionContext")
        issuer = context.get("sessionIssuer") if isinstance(context, dict) else None
        if isinstance(issuer, dict):
            names |= {issuer.get("arn"), issuer.get("userName")}
    return bool(names & principals)


def account_of_arn(arn: object) -> str | None:
    """The account an ARN names, if it names one."""
    if not isinstance(arn, str):
        return None
    found = _ACCOUNT_IN_ARN.match(arn)
    return found.group(1) if found else None


def _parameters(record: Record) -> dict[str, Any]:
    parameters = record.get("requestParameters")
    return parameters if isinstance(parameters, dict) else {}


def foreign_destination(record: Record, trust: Trust) -> bool:
    """The subscription's destination is in another, untrusted account."""
    account = account_of_arn(_parameters(record).get("destinationArn"))
    return (
        account is not None
        and account != record.get("recipientAccountId")
        and (account not in trust.accounts)
    )


def policy_principals(policy: object) -> list[str]:
    """The AWS principals an IAM policy (JSON text or object) allows: ``*``, accounts, ARNs."""
    if isinstance(policy, str):
        try:
            policy = orjson.loads(policy)
        except orjson.JSONDecodeError:
            return []
    if not isinstance(policy, dict):
        return []
    statements = policy.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    allowed: list[str] = []
    for statement in statements:
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal")
        if principal == "*":
            allowed.append("*")
        elif isinstance(principal, dict):
            aws = principal.get("AWS", [])
            allowed.extend(str(item) for item in (aws if isinstance(aws, list) else [aws]))
    return allowed


def untrusted_policy(record: Record, trust: Trust) -> bool:
    """The policy allows everyone, or an account that is not the event's and not trusted."""
    parameters = _parameters(record)
    own = record.get("recipientAccountId")
    for key in ("accessPolicy", "policyDocument", "policy"):
        for principal in policy_principals(parameters.get(key)):
            if principal == "*":
                return True
            account = principal if _ACCOUNT.match(principal) else account_of_arn(principal)
            if account is not None and account != own and account not in trust.accounts:
                return True
    return False


def bucket_not_allowed(record: Record, trust: Trust) -> bool:
    """The export writes to a bucket that is not on the allow-list (off while it is empty)."""
    if not trust.export_buckets:
        return False
    bucket = _parameters(record).get("destination")
    return isinstance(bucket, str) and bucket not in trust.export_buckets


def drops_management_events(record: Record, _: Trust) -> bool:
    """After this PutEventSelectors, no selector records management write events."""
    parameters = _parameters(record)
    basic = parameters.get("eventSelectors")
    advanced = parameters.get("advancedEventSelectors")
    if isinstance(advanced, list) and advanced:
        return not any(_advanced_records_management(selector) for selector in advanced)
    if isinstance(basic, list):
        return not any(_basic_records_management(selector) for selector in basic)
    return False


def _basic_records_management(selector: object) -> bool:
    if not isinstance(selector, dict):
        return False
    included = selector.get("includeManagementEvents", True)
    kind = selector.get("readWriteType", "All")
    return included not in {False, "false"} and kind in {"All", "WriteOnly"}


def _advanced_records_management(selector: object) -> bool:
    if not isinstance(selector, dict):
        return False
    fields = selector.get("fieldSelectors", [])
    if not isinstance(fields, list):
        return False
    by_name = {f.get("field"): f for f in fields if isinstance(f, dict)}
    category = by_name.get("eventCategory", {})
    if "Management" not in (category.get("equals") or []):
        return False
    read_only = by_name.get("readOnly", {})
    return "true" not in [str(value).lower() for value in read_only.get("equals") or []]


def retention_days(record: Record) -> float | None:
    """The retention a PutRetentionPolicy sets, in days."""
    return as_number(_parameters(record).get("retentionInDays"))


#: The previous retention of the group a PutRetentionPolicy changes: days, ``inf`` for
#: keep-forever, None when nothing earlier is known.
PreviousRetention = Callable[[Record], float | None]


def retention_shortened(record: Record, trust: Trust, previous: PreviousRetention) -> bool:
    """Below the floor, or below what the group kept before."""
    days = retention_days(record)
    if days is None:
        return False
    if trust.retention_floor_days and days < trust.retention_floor_days:
        return True
    before = previous(record)
    return before is not None and days < before


SIMPLE_CHECKS: dict[str, Callable[[Record, Trust], bool]] = {
    "foreign_destination": foreign_destination,
    "untrusted_policy": untrusted_policy,
    "bucket_not_allowed": bucket_not_allowed,
    "drops_management_events": drops_management_events,
}
