"""On the shared real samples, each rule's hits are the records a predicate written here picks.

The predicates read the sample files with the standard library (tests/samples.py) and say
each rule's conditions in plain Python, independently of the detections' own code.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from detections import Finding, load_rules
from tests.detections.conftest import by_rule, ok

Record = dict[str, Any]


def _params(record: Record) -> dict[str, Any]:
    parameters = record.get("requestParameters")
    return parameters if isinstance(parameters, dict) else {}


def _call(source: str, *names: str) -> Callable[[Record], bool]:
    return lambda r: r.get("eventSource") == source and r.get("eventName") in names and ok(r)


def _not_by_service(record: Record) -> bool:
    identity = record.get("userIdentity") or {}
    invoked = str(identity.get("invokedBy") or "")
    return identity.get("type") != "AWSService" and not invoked.lower().endswith(".amazonaws.com")


def _arn_account(arn: object) -> str | None:
    parts = str(arn).split(":")
    return parts[4] if len(parts) > 5 and parts[0] == "arn" and len(parts[4]) == 12 else None


def _foreign_destination(record: Record) -> bool:
    account = _arn_account(_params(record).get("destinationArn"))
    return account is not None and account != record.get("recipientAccountId")


def _untrusted_policy(record: Record) -> bool:
    for key in ("accessPolicy", "policyDocument", "policy"):
        text = _params(record).get(key)
        try:
            policy = json.loads(text) if isinstance(text, str) else None
        except ValueError:
            continue
        statements = (policy or {}).get("Statement", [])
        for statement in statements if isinstance(statements, list) else [statements]:
            if statement.get("Effect") != "Allow":
                continue
            principal = statement.get("Principal")
            aws = principal.get("AWS", []) if isinstance(principal, dict) else principal
            for who in aws if isinstance(aws, list) else [aws]:
                account = who if str(who).isdigit() else _arn_account(who)
                if who == "*" or (account and account != record.get("recipientAccountId")):
                    return True
    return False


def _drops_management(record: Record) -> bool:
    selectors = _params(record).get("eventSelectors") or []
    advanced = _params(record).get("advancedEventSelectors") or []
    if advanced:
        return not any(
            any(
                f.get("field") == "eventCategory" and "Management" in (f.get("equals") or [])
                for f in selector.get("fieldSelectors", [])
            )
            for selector in advanced
        )
    return bool(selectors) and all(
        selector.get("includeManagementEvents") is False
        or selector.get("readWriteType") == "ReadOnly"
        for selector in selectors
    )


TAMPERING = {
    "DeleteLogGroup", "DeleteSubscriptionFilter", "DeleteMetricFilter", "PutRetentionPolicy",
    "DisassociateKmsKey", "DeleteDataProtectionPolicy", "StopLogging", "DeleteTrail",
    "UpdateTrail", "PutEventSelectors", "DeleteAlarms",
}  # fmt: skip
SOURCES = {"logs.amazonaws.com", "cloudtrail.amazonaws.com", "monitoring.amazonaws.com"}

#: Rules whose findings are single events, and the predicate each event must meet.
SINGLE: dict[str, Callable[[Record], bool]] = {
    "cloudtrail_logging_stopped": _call("cloudtrail.amazonaws.com", "StopLogging", "DeleteTrail"),
    "cloudtrail_trail_updated": _call("cloudtrail.amazonaws.com", "UpdateTrail"),
    "cloudtrail_management_events_dropped": lambda r: (
        _call("cloudtrail.amazonaws.com", "PutEventSelectors")(r) and _drops_management(r)
    ),
    "cloudwatch_alarms_deleted": _call("monitoring.amazonaws.com", "DeleteAlarms"),
    "logs_log_group_deleted": lambda r: (
        _call("logs.amazonaws.com", "DeleteLogGroup")(r) and _not_by_service(r)
    ),
    "logs_subscription_filter_deleted": _call("logs.amazonaws.com", "DeleteSubscriptionFilter"),
    "logs_kms_key_disassociated": _call("logs.amazonaws.com", "DisassociateKmsKey"),
    "logs_data_protection_policy_deleted": _call(
        "logs.amazonaws.com", "DeleteDataProtectionPolicy"
    ),
    "logs_metric_filter_deleted": _call("logs.amazonaws.com", "DeleteMetricFilter"),
    "logs_subscription_to_foreign_account": lambda r: (
        _call("logs.amazonaws.com", "PutSubscriptionFilter")(r) and _foreign_destination(r)
    ),
    "logs_policy_grants_untrusted": lambda r: (
        _call("logs.amazonaws.com", "PutDestinationPolicy", "PutResourcePolicy")(r)
        and _untrusted_policy(r)
    ),
    "logs_export_task_unlisted_bucket": lambda _: False,  # no allow-list configured: off
    "logs_tampering_attempt_failed": lambda r: (
        r.get("eventSource") in SOURCES and r.get("eventName") in TAMPERING and not ok(r)
    ),
}


def _when(record: Record) -> datetime:
    return datetime.fromisoformat(str(record["eventTime"]))


def _principal(record: Record) -> str | None:
    identity = record.get("userIdentity") or {}
    arn = str(identity.get("arn") or "")
    if identity.get("type") == "Root":
        return "root"
    if identity.get("type") == "AssumedRole" and ":assumed-role/" in arn:
        return arn.split(":assumed-role/", 1)[1]
    for key in ("userName", "invokedBy", "principalId", "accountId"):
        if identity.get(key):
            return str(identity[key])
    return None


def _first_seen(records: list[Record], names: set[str], days: int) -> set[tuple[str, ...]]:
    earliest: dict[str, datetime] = {}
    for record in records:
        account = str(record.get("recipientAccountId"))
        earliest[account] = min(earliest.get(account, _when(record)), _when(record))
    lookback = timedelta(days=days)
    candidates = sorted(
        (r for r in records if r.get("eventSource") == "logs.amazonaws.com"
         and r.get("eventName") in names and ok(r) and _principal(r)),
        key=lambda r: (_when(r), r["eventID"]),
    )  # fmt: skip
    last: dict[tuple[str, str], datetime] = {}
    found: set[tuple[str, ...]] = set()
    for record in candidates:
        group = (str(record.get("recipientAccountId")), str(_principal(record)))
        before = last.get(group)
        when = _when(record)
        if (before is None and when >= earliest[group[0]] + lookback) or (
            before is not None and when - before > lookback
        ):
            found.add((record["eventID"],))
        last[group] = when
    return found


def _burst(records: list[Record], keep: Callable[[Record], bool], bar: int) -> set[frozenset[str]]:
    groups: dict[tuple[str, str, int], list[str]] = defaultdict(list)
    for record in records:
        if keep(record) and _principal(record):
            window = int(_when(record).timestamp()) // 600
            key = (str(_principal(record)), str(record.get("recipientAccountId")), window)
            groups[key].append(record["eventID"])
    return {frozenset(ids) for ids in groups.values() if len(ids) >= bar}


def test_every_single_event_rule_hits_exactly_the_records_its_predicate_picks(
    sample_records, sample_findings: list[Finding]
):
    found = by_rule(sample_findings)
    for rule, predicate in SINGLE.items():
        expected = {(r["eventID"],) for r in sample_records if predicate(r)}
        assert found.get(rule, set()) == expected, rule
    # The samples do exercise the rules: trails stopped and deleted, a log group deleted.
    assert found["cloudtrail_logging_stopped"]
    assert found["logs_log_group_deleted"]


def test_first_seen_rules_hit_exactly_a_principals_first_event_after_a_quiet_spell(
    sample_records, sample_findings: list[Finding]
):
    found = by_rule(sample_findings)
    reads = {"GetLogEvents", "FilterLogEvents", "StartQuery", "StartLiveTail"}
    assert found.get("logs_contents_read_new_principal", set()) == _first_seen(
        sample_records, reads, 14
    )
    assert found.get("logs_export_task_new_principal", set()) == _first_seen(
        sample_records, {"CreateExportTask"}, 30
    )


def test_retention_rule_hits_cuts_below_the_floor_or_the_previous_retention(
    sample_records, sample_findings: list[Finding]
):
    changes = sorted(
        (r for r in sample_records if r.get("eventSource") == "logs.amazonaws.com"
         and r.get("eventName") in {"PutRetentionPolicy", "DeleteRetentionPolicy"} and ok(r)),
        key=_when,
    )  # fmt: skip
    kept: dict[tuple[str, str, str], float] = {}
    expected = set()
    for record in changes:
        group = (
            str(record.get("recipientAccountId")),
            str(record.get("awsRegion")),
            str(_params(record).get("logGroupName")),
        )
        if record["eventName"] == "DeleteRetentionPolicy":
            kept[group] = float("inf")
            continue
        days = float(_params(record).get("retentionInDays", "nan"))
        if days < 7 or days < kept.get(group, float("-inf")):
            expected.add((record["eventID"],))
        kept[group] = days
    assert by_rule(sample_findings).get("logs_retention_shortened", set()) == expected


def test_correlations_hit_exactly_the_bursts_counted_here(
    sample_records, sample_findings: list[Finding]
):
    found = by_rule(sample_findings)
    denied = {
        "AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
        "Client.UnauthorizedOperation", "UnauthorizedAccess",
    }  # fmt: skip
    expected_denied = _burst(
        sample_records,
        lambda r: r.get("eventSource") == "logs.amazonaws.com" and r.get("errorCode") in denied,
        20,
    )
    expected_streams = _burst(
        sample_records,
        _call("logs.amazonaws.com", "DeleteLogStream"),
        10,
    )
    got = {name: {frozenset(ids) for ids in found.get(name, set())} for name in found}
    assert got.get("logs_access_denied_burst", set()) == expected_denied
    assert got.get("logs_log_streams_deleted_burst", set()) == expected_streams


def test_every_shipped_rule_is_checked_here():
    pack = {rule.info.name for rule in load_rules([]).rules}
    checked = set(SINGLE) | {
        "logs_contents_read_new_principal",
        "logs_export_task_new_principal",
        "logs_retention_shortened",
        "logs_access_denied_burst",
        "logs_log_streams_deleted_burst",
    }
    assert pack == checked


@pytest.mark.parametrize(
    "rule_file",
    ["aws_cloudtrail_disable_logging.yml"],
)
def test_a_sigma_project_rule_runs_unmodified_and_hits_its_predicate(
    es, samples_alias, sample_records, rule_file
):
    from pathlib import Path  # noqa: PLC0415

    from detections import Detector, Trust  # noqa: PLC0415
    from tests.detections.conftest import EVERYTHING  # noqa: PLC0415

    path = Path(__file__).parent / "sigma" / rule_file
    pack = load_rules([(str(path), path.read_text())], include_pack=False)
    [rule] = pack.rules
    assert rule.info.id == "4db60cc0-36fb-42b7-9b58-a5b53019fb74"
    _, findings = Detector(es, samples_alias[0], pack, Trust()).evaluate(EVERYTHING, store=False)
    expected = {
        r["eventID"]
        for r in sample_records
        if r.get("eventSource") == "cloudtrail.amazonaws.com"
        and r.get("eventName") in {"StopLogging", "UpdateTrail", "DeleteTrail"}
    }
    assert expected  # the samples hold such calls
    assert {finding.event_ids[0] for finding in findings} == expected
