"""EventFilter: the conditions every query takes, and the Elasticsearch query for them.

Every condition is a filter clause (no scoring), so Elasticsearch can cache it; lists mean
"any of", conditions side by side mean "all of", and ``and``/``or``/``not`` nest.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from typing import Any

import strawberry

from api.errors import ErrorCode, user_error
from schema import DERIVED

_PRINCIPAL_FIELDS = (
    f"{DERIVED}.principal",
    "userIdentity.arn",
    "userIdentity.userName",
    "userIdentity.principalId",
    "userIdentity.sessionContext.sessionIssuer.arn",
    "userIdentity.sessionContext.sessionIssuer.userName",
)
_MAX_NESTING = 8


@strawberry.input(
    description=(
        "A condition on one path inside requestParameters or responseElements. Give exactly "
        "one of equals, in, prefix or exists. Values compare as text, so 50 matches both "
        'the number 50 and the string "50" (CloudTrail records some parameters both ways); '
        'booleans are "true" and "false".'
    )
)
class ParameterCondition:
    """One path, one test."""

    path: str = strawberry.field(
        description="Dotted path, such as logGroupName or tags.Environment; list items "
        "are matched by the list's path."
    )
    equals: str | None = None
    in_: list[str] | None = strawberry.field(name="in", default=None)
    prefix: str | None = None
    exists: bool | None = None


@strawberry.input(description="Which events to return. Conditions side by side combine with AND.")
class EventFilter:
    """What people ask of CloudTrail: when, what, who, from where, how it went."""

    from_: datetime | None = strawberry.field(
        name="from",
        default=None,
        description="Events at or after this time (inclusive). No zone means UTC.",
    )
    to: datetime | None = strawberry.field(
        default=None, description="Events before this time (exclusive). No zone means UTC."
    )
    event_source: list[str] | None = strawberry.field(
        default=None,
        description="Any of these services, such as logs.amazonaws.com. Empty means any.",
    )
    event_name: list[str] | None = strawberry.field(
        default=None, description="Any of these actions, such as CreateLogGroup. Empty means any."
    )
    aws_region: list[str] | None = strawberry.field(default=None, description="Any of these.")
    recipient_account_id: list[str] | None = strawberry.field(
        default=None, description="Any of these accounts (the account the event belongs to)."
    )
    event_type: list[str] | None = strawberry.field(
        default=None, description="Any of these, such as AwsApiCall or AwsServiceEvent."
    )
    event_category: list[str] | None = strawberry.field(
        default=None, description="Any of these, such as Management or Data."
    )
    user_identity_type: list[str] | None = strawberry.field(
        default=None, description="Any of these, such as IAMUser, AssumedRole or Root."
    )
    principal: list[str] | None = strawberry.field(
        default=None,
        description=(
            "Who, as a person means it: each value matches the caller's ARN, user name or "
            "principal ID, the session issuer's ARN or user name (the role behind an assumed "
            "role), or TrailQL's `principal` name."
        ),
    )
    access_key_id: list[str] | None = strawberry.field(default=None, description="Any of these.")
    source_ip_address: list[str] | None = strawberry.field(
        name="sourceIPAddress",
        default=None,
        description=(
            "Addresses and CIDR ranges, IPv4 or IPv6 (10.0.0.0/8, 2001:db8::/32), matched "
            "as addresses; anything else (logs.amazonaws.com, AWS Internal) matches the "
            "recorded value exactly."
        ),
    )
    user_agent: str | None = strawberry.field(
        default=None, description="Events whose userAgent contains this text, ignoring case."
    )
    read_only: bool | None = None
    management_event: bool | None = None
    error_code: list[str] | None = strawberry.field(
        default=None, description="Any of these error codes, such as AccessDenied."
    )
    has_error: bool | None = strawberry.field(
        default=None, description="true: only failed calls; false: only successful ones."
    )
    request_parameters: list[ParameterCondition] | None = strawberry.field(
        default=None, description="All of these conditions on requestParameters."
    )
    response_elements: list[ParameterCondition] | None = strawberry.field(
        default=None, description="All of these conditions on responseElements."
    )
    resource_arn: list[str] | None = strawberry.field(
        default=None, description="Events naming any of these resources in `resources`."
    )
    log_group_name: list[str] | None = strawberry.field(
        default=None,
        description="Events naming any of these log groups (by name or ARN in the request).",
    )
    search: str | None = strawberry.field(
        default=None,
        description=(
            "Free text over names, messages and parameter values: words must all appear "
            '(any order); "quotes" for a phrase, a trailing * for a prefix, - to exclude. '
            "Words are split as Elasticsearch's standard analyzer does: a dotted name such as "
            "logs.amazonaws.com is one word."
        ),
    )
    and_: list[EventFilter] | None = strawberry.field(
        name="and", default=None, description="All of these filters."
    )
    or_: list[EventFilter] | None = strawberry.field(
        name="or", default=None, description="At least one of these filters."
    )
    not_: EventFilter | None = strawberry.field(
        name="not", default=None, description="Events this filter does not match."
    )


def utc(moment: datetime) -> datetime:
    """A time in UTC; a time without a zone is taken as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _any_of(field: str, values: list[str] | None) -> dict[str, Any] | None:
    return {"terms": {field: values}} if values else None


def _time_range(event_filter: EventFilter) -> dict[str, Any] | None:
    start = utc(event_filter.from_) if event_filter.from_ else None
    end = utc(event_filter.to) if event_filter.to else None
    if start and end and start >= end:
        raise user_error(ErrorCode.BAD_USER_INPUT, "`from` must be earlier than `to`.")
    if not (start or end):
        return None
    bounds: dict[str, str] = {}
    if start:
        bounds["gte"] = start.isoformat()
    if end:
        bounds["lt"] = end.isoformat()
    return {"range": {"eventTime": bounds}}


def _principal(values: list[str] | None) -> dict[str, Any] | None:
    if not values:
        return None
    should = [{"terms": {field: values}} for field in _PRINCIPAL_FIELDS]
    return {"bool": {"should": should, "minimum_should_match": 1}}


def _source_address(values: list[str] | None) -> dict[str, Any] | None:
    if not values:
        return None
    should: list[dict[str, Any]] = []
    exact: list[str] = []
    for value in values:
        try:
            network = ipaddress.ip_network(value, strict=False)
        except ValueError:
            exact.append(value)
        else:
            should.append({"term": {f"{DERIVED}.sourceIp": str(network)}})
    if exact:
        should.append({"terms": {"sourceIPAddress": exact}})
    return {"bool": {"should": should, "minimum_should_match": 1}}


def _contains(field: str, text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    escaped = text.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")
    return {"wildcard": {field: {"value": f"*{escaped}*", "case_insensitive": True}}}


def _flag(field: str, value: bool | None) -> dict[str, Any] | None:  # noqa: FBT001
    return None if value is None else {"term": {field: value}}


def _has(field: str, value: bool | None) -> dict[str, Any] | None:  # noqa: FBT001
    if value is None:
        return None
    exists = {"exists": {"field": field}}
    return exists if value else {"bool": {"must_not": [exists]}}


def _parameter(block: str, condition: ParameterCondition) -> dict[str, Any]:
    path = condition.path.strip().strip(".")
    if not path or "*" in path:
        raise user_error(ErrorCode.BAD_USER_INPUT, f"{block} path {condition.path!r} is not valid.")
    field = f"{DERIVED}.{block}.{path}"
    given = [
        name
        for name, value in (
            ("equals", condition.equals),
            ("in", condition.in_),
            ("prefix", condition.prefix),
            ("exists", condition.exists),
        )
        if value is not None
    ]
    if len(given) != 1:
        raise user_error(
            ErrorCode.BAD_USER_INPUT,
            f"a {block} condition on {path!r} needs exactly one of equals, in, prefix, exists.",
        )
    if condition.equals is not None:
        return {"term": {field: condition.equals}}
    if condition.in_ is not None:
        return {"terms": {field: condition.in_}}
    if condition.prefix is not None:
        return {"prefix": {field: condition.prefix}}
    return _has(field, condition.exists) or {}


def _search(text: str | None) -> dict[str, Any] | None:
    if not text or not text.strip():
        return None
    return {
        "simple_query_string": {
            "query": text,
            "fields": [f"{DERIVED}.text"],
            "default_operator": "and",
        }
    }


def filter_query(event_filter: EventFilter | None, depth: int = 0) -> dict[str, Any]:
    """The Elasticsearch query for a filter (``match_all`` for none)."""
    if event_filter is None:
        return {"match_all": {}}
    if depth > _MAX_NESTING:
        raise user_error(
            ErrorCode.BAD_USER_INPUT, f"filters nest at most {_MAX_NESTING} levels deep."
        )
    f = event_filter
    clauses = [
        _time_range(f),
        _any_of("eventSource", f.event_source),
        _any_of("eventName", f.event_name),
        _any_of("awsRegion", f.aws_region),
        _any_of("recipientAccountId", f.recipient_account_id),
        _any_of("eventType", f.event_type),
        _any_of("eventCategory", f.event_category),
        _any_of("userIdentity.type", f.user_identity_type),
        _principal(f.principal),
        _any_of("userIdentity.accessKeyId", f.access_key_id),
        _source_address(f.source_ip_address),
        _contains("userAgent", f.user_agent),
        _flag("readOnly", f.read_only),
        _flag("managementEvent", f.management_event),
        _any_of("errorCode", f.error_code),
        _has("errorCode", f.has_error),
        _any_of("resources.ARN", f.resource_arn),
        _any_of(f"{DERIVED}.logGroupName", f.log_group_name),
        _search(f.search),
    ]
    clauses += [_parameter("requestParameters", c) for c in f.request_parameters or []]
    clauses += [_parameter("responseElements", c) for c in f.response_elements or []]
    clauses += [filter_query(inner, depth + 1) for inner in f.and_ or []]
    if f.or_:
        either = [filter_query(inner, depth + 1) for inner in f.or_]
        clauses.append({"bool": {"should": either, "minimum_should_match": 1}})
    if f.not_ is not None:
        clauses.append({"bool": {"must_not": [filter_query(f.not_, depth + 1)]}})
    kept = [clause for clause in clauses if clause]
    return {"bool": {"filter": kept}} if kept else {"match_all": {}}
