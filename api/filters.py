"""EventFilter: the conditions every query takes, and the Elasticsearch query for them.

Every condition is a filter clause (no scoring), so Elasticsearch can cache it; lists mean
"any of", conditions side by side mean "all of", and ``and``/``or``/``not`` nest.

A filter is held to the input limits as its query is built: nesting, the length of every
list and text, and the number of clauses it produces in all, each refused with
BAD_USER_INPUT naming the limit, so Elasticsearch never sees a query it would refuse.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from typing import Any

import strawberry
from graphql import GraphQLError

from api.context import WITHIN, Context
from api.errors import ErrorCode, user_error
from api.input_conversion import fast_input
from api.integrity import FileIntegrity, files_with_verdicts
from api.limits import Limits
from api.slices import Slice
from common.times import utc
from schema.document import SCALAR_KEY, SEARCHABLE_DEPTH
from schema.paths import (
    ACCESS_KEY_ID,
    ACCOUNT_ID,
    AWS_REGION,
    ERROR_CODE,
    EVENT_CATEGORY,
    EVENT_NAME,
    EVENT_SOURCE,
    EVENT_TIME,
    EVENT_TYPE,
    ISSUER_ARN,
    ISSUER_NAME,
    LOG_FILE,
    LOG_GROUP_NAME,
    MANAGEMENT_EVENT,
    PRINCIPAL,
    PRINCIPAL_ID,
    READ_ONLY,
    REQUEST_PARAMETERS,
    RESOURCE_ARN,
    RESPONSE_ELEMENTS,
    SEARCH_TEXT,
    SOURCE_IP,
    SOURCE_IP_ADDRESS,
    USER_AGENT,
    USER_ARN,
    USER_IDENTITY_TYPE,
    USER_NAME,
)

_PRINCIPAL_FIELDS = (PRINCIPAL, USER_ARN, USER_NAME, PRINCIPAL_ID, ISSUER_ARN, ISSUER_NAME)
_MAX_NESTING = 8
#: The searchable copy of each parameter block a condition can name.
_BLOCKS = {"requestParameters": REQUEST_PARAMETERS, "responseElements": RESPONSE_ELEMENTS}

#: Paths no parameter condition may name, on any engine: OpenSearch's flat_object answers
#: them from its own subfields (every leaf's value; ``path=value`` pairs), Elasticsearch from
#: the block, so the same filter would find other events on each.
_RESERVED_PATHS = frozenset({SCALAR_KEY, "_valueAndPath"})
_SHOWN = 60


@fast_input
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


@fast_input
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
        default=None,
        description=(
            "true: only failed calls (a non-empty errorCode); false: only successful ones "
            "(no errorCode, or an empty or null one)."
        ),
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
    log_file_integrity: list[FileIntegrity] | None = strawberry.field(
        default=None,
        description=(
            "Events read from trail files with any of these integrity verdicts, as the "
            "continuous indexer found them: [VALID] for events from files CloudTrail's signed "
            "digests vouch for. At most 10,000 files may match: narrow with from/to, "
            "recipientAccountId or awsRegion beside it. Events of files with no verdict "
            "(loaded by a one-off `trailql index`) match none."
        ),
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


#: Distinct ``logFileIntegrity`` conditions one filter may hold: each costs a search.
MAX_INTEGRITY_CONDITIONS = 8

#: The trail files each ``logFileIntegrity`` condition names, by the filter level holding it.
FileLists = dict[int, list[str]]


def filter_query(
    event_filter: EventFilter | None, limits: Limits, files: FileLists | None = None
) -> dict[str, Any]:
    """The Elasticsearch query for a filter (``match_all`` for none), within ``limits``.

    A filter with ``logFileIntegrity`` needs the files it names, which :func:`event_query`
    looks up first.
    """
    if event_filter is None:
        return {"match_all": {}}
    return _QueryBuilder(limits, files or {}).query(event_filter, 0)


async def event_query(context: Context, event_filter: EventFilter | None) -> dict[str, Any]:
    """The query for a filter, the files of its ``logFileIntegrity`` conditions looked up."""
    if event_filter is None:
        return {"match_all": {}}
    levels = [f for f in _levels(event_filter, 0) if f.log_file_integrity is not None]
    files: FileLists = {}
    looked_up: dict[tuple[Any, ...], list[str]] = {}
    for level in levels:
        key = (
            tuple(sorted(v.value for v in level.log_file_integrity or [])),
            level.from_,
            level.to,
            tuple(level.recipient_account_id or ()),
            tuple(level.aws_region or ()),
        )
        if key not in looked_up:
            if len(looked_up) >= MAX_INTEGRITY_CONDITIONS:
                raise user_error(
                    ErrorCode.BAD_USER_INPUT,
                    f"a filter may hold at most {MAX_INTEGRITY_CONDITIONS} different "
                    "`logFileIntegrity` conditions.",
                )
            looked_up[key] = await files_with_verdicts(
                context,
                list(level.log_file_integrity or []),
                since=level.from_,
                until=level.to,
                accounts=level.recipient_account_id,
                regions=level.aws_region,
            )
        files[id(level)] = looked_up[key]
    return filter_query(event_filter, context.limits, files)


def open_ended(event_filter: EventFilter | None) -> bool:
    """Whether the filter leaves eventTime open at both ends (no ``from``, no ``to``)."""
    return event_filter is None or (event_filter.from_ is None and event_filter.to is None)


def skipping_other_months(event_filter: EventFilter | None) -> dict[str, Any]:
    """Search options that let Elasticsearch skip the monthly indices a time range misses.

    A search without a sort is sent to every index behind the alias; with
    ``pre_filter_shard_size`` 1 each shard first checks its own eventTime bounds and one the
    range cannot match is not searched at all, so a window over the last day costs one or two
    months however many are kept. Without a range the check would find nothing to skip.
    """
    return {} if open_ended(event_filter) else {"pre_filter_shard_size": 1}


async def searching_its_months(
    context: Context, event_filter: EventFilter | None
) -> dict[str, Any]:
    """:func:`skipping_other_months`, and the months of a window with both ends by name.

    Named (api/slices.py), the one or two months of a day's window are searched in one
    round, without first asking every month's shard whether the range could match it.
    """
    options = skipping_other_months(event_filter)
    if event_filter is None or event_filter.from_ is None or event_filter.to is None:
        return options
    window = Slice.around(utc(event_filter.from_), utc(event_filter.to))
    if window.end is None:  # to the year 9999: where an older TrailQL put absurd times
        return options
    now = datetime.now(UTC)
    named = await context.months.named(context.elasticsearch, context.alias, window, now)
    return options if named is None else {**options, WITHIN: named}


def needs_file_lookup(event_filter: EventFilter | None) -> bool:
    """Whether some level of the filter has ``logFileIntegrity`` (see :func:`event_query`)."""
    if event_filter is None:
        return False
    return any(f.log_file_integrity is not None for f in _levels(event_filter, 0))


def _levels(event_filter: EventFilter, depth: int) -> list[EventFilter]:
    """Every level of a filter, as deep as filters may nest (the builder refuses deeper)."""
    if depth > _MAX_NESTING:
        return []
    found = [event_filter]
    for inner in [*(event_filter.and_ or []), *(event_filter.or_ or [])]:
        found += _levels(inner, depth + 1)
    if event_filter.not_ is not None:
        found += _levels(event_filter.not_, depth + 1)
    return found


def _over(found: str, limit: int, setting: str) -> GraphQLError:
    return user_error(
        ErrorCode.BAD_USER_INPUT, f"{found}; at most {limit:,} (TRAILQL_{setting.upper()})."
    )


def _shown(text: str) -> str:
    return repr(text) if len(text) <= _SHOWN else repr(text[: _SHOWN - 1] + "…")


class _QueryBuilder:
    """One filter's query, counting its clauses against the limits as it goes."""

    def __init__(self, limits: Limits, files: FileLists) -> None:
        self._limits = limits
        self._files = files
        self._clauses = 0

    def _log_files(self, event_filter: EventFilter) -> dict[str, Any] | None:
        if event_filter.log_file_integrity is None:
            return None
        files = self._files.get(id(event_filter))
        if files is None:
            raise ValueError("logFileIntegrity needs its files looked up: use event_query")
        self._count(1)
        return {"terms": {LOG_FILE: files}}

    def _count(self, clauses: int) -> None:
        self._clauses += clauses
        if self._clauses > self._limits.max_filter_clauses:
            raise _over(
                f"the filter has more than {self._limits.max_filter_clauses:,} conditions "
                "and values in all",
                self._limits.max_filter_clauses,
                "max_filter_clauses",
            )

    def _text(self, field: str, text: str, *, pattern: bool = False) -> str:
        most = self._limits.max_pattern_length if pattern else self._limits.max_string_length
        if len(text) > most:
            setting = "max_pattern_length" if pattern else "max_string_length"
            raise _over(f"`{field}` {_shown(text)} is {len(text):,} characters long", most, setting)
        return text

    def _values(self, field: str, values: list[str] | None) -> list[str] | None:
        if not values:
            return values
        if len(values) > self._limits.max_list_length:
            raise _over(
                f"`{field}` lists {len(values):,} values",
                self._limits.max_list_length,
                "max_list_length",
            )
        for value in values:
            self._text(field, value)
        self._count(len(values))
        return values

    def _any_of(self, name: str, field: str, values: list[str] | None) -> dict[str, Any] | None:
        checked = self._values(name, values)
        return {"terms": {field: checked}} if checked else None

    def query(self, event_filter: EventFilter, depth: int) -> dict[str, Any]:
        """The query for one level of the filter; ``and``/``or``/``not`` one level deeper."""
        if depth > _MAX_NESTING:
            raise user_error(
                ErrorCode.BAD_USER_INPUT, f"filters nest at most {_MAX_NESTING} levels deep."
            )
        f = event_filter
        clauses = [
            _time_range(f),
            self._any_of("eventSource", EVENT_SOURCE, f.event_source),
            self._any_of("eventName", EVENT_NAME, f.event_name),
            self._any_of("awsRegion", AWS_REGION, f.aws_region),
            self._any_of("recipientAccountId", ACCOUNT_ID, f.recipient_account_id),
            self._any_of("eventType", EVENT_TYPE, f.event_type),
            self._any_of("eventCategory", EVENT_CATEGORY, f.event_category),
            self._any_of("userIdentityType", USER_IDENTITY_TYPE, f.user_identity_type),
            _principal(self._values("principal", f.principal)),
            self._any_of("accessKeyId", ACCESS_KEY_ID, f.access_key_id),
            _source_address(self._values("sourceIPAddress", f.source_ip_address)),
            _contains(
                USER_AGENT,
                None
                if f.user_agent is None
                else self._text("userAgent", f.user_agent, pattern=True),
            ),
            _flag(READ_ONLY, f.read_only),
            _flag(MANAGEMENT_EVENT, f.management_event),
            self._any_of("errorCode", ERROR_CODE, f.error_code),
            _has_error(f.has_error),
            self._any_of("resourceArn", RESOURCE_ARN, f.resource_arn),
            self._any_of("logGroupName", LOG_GROUP_NAME, f.log_group_name),
            _search(None if f.search is None else self._text("search", f.search, pattern=True)),
            self._log_files(f),
        ]
        for block, conditions in (
            ("requestParameters", f.request_parameters),
            ("responseElements", f.response_elements),
        ):
            if conditions and len(conditions) > self._limits.max_list_length:
                raise _over(
                    f"`{block}` lists {len(conditions):,} conditions",
                    self._limits.max_list_length,
                    "max_list_length",
                )
            clauses += [self._parameter(block, condition) for condition in conditions or []]
        clauses += [self.query(inner, depth + 1) for inner in self._nested("and", f.and_)]
        if f.or_:
            either = [self.query(inner, depth + 1) for inner in self._nested("or", f.or_)]
            clauses.append({"bool": {"should": either, "minimum_should_match": 1}})
        if f.not_ is not None:
            clauses.append({"bool": {"must_not": [self.query(f.not_, depth + 1)]}})
        kept = [clause for clause in clauses if clause]
        self._count(len(kept))
        return {"bool": {"filter": kept}} if kept else {"match_all": {}}

    def _nested(self, name: str, filters: list[EventFilter] | None) -> list[EventFilter]:
        if filters and len(filters) > self._limits.max_list_length:
            raise _over(
                f"`{name}` lists {len(filters):,} filters",
                self._limits.max_list_length,
                "max_list_length",
            )
        return filters or []

    def _parameter(self, block: str, condition: ParameterCondition) -> dict[str, Any]:
        path = self._text(f"{block} path", condition.path).strip().strip(".")
        if not path or "*" in path:
            raise user_error(
                ErrorCode.BAD_USER_INPUT, f"{block} path {_shown(condition.path)} is not valid."
            )
        if path in _RESERVED_PATHS:
            raise user_error(
                ErrorCode.BAD_USER_INPUT,
                f"{block} path {_shown(path)} is reserved (OpenSearch matches every value of the "
                "block by it); a block recorded as a bare value is found with `search`.",
            )
        if path.count(".") >= SEARCHABLE_DEPTH:
            raise user_error(
                ErrorCode.BAD_USER_INPUT,
                f"{block} path {_shown(path)} has more than {SEARCHABLE_DEPTH} parts; "
                "parameters are searchable that deep at most.",
            )
        field = f"{_BLOCKS[block]}.{path}"
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
                f"a {block} condition on {_shown(path)} needs exactly one of equals, in, "
                "prefix, exists.",
            )
        self._count(1)
        if condition.equals is not None:
            return {"term": {field: self._text(f"{block}.{path}", condition.equals)}}
        if condition.in_ is not None:
            return {"terms": {field: self._values(f"{block}.{path}", condition.in_)}}
        if condition.prefix is not None:
            prefix = self._text(f"{block}.{path}", condition.prefix, pattern=True)
            return {"prefix": {field: prefix}}
        return _has(field, condition.exists) or {}


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
    return {"range": {EVENT_TIME: bounds}}


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
            should.append({"term": {SOURCE_IP: _cidr(network)}})
    if exact:
        should.append({"terms": {SOURCE_IP_ADDRESS: exact}})
    return {"bool": {"should": should, "minimum_should_match": 1}}


def _cidr(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
    """A range as Elasticsearch takes it: an IPv4-mapped IPv6 range as the IPv4 range it is.

    Elasticsearch stores IPv4 addresses mapped into IPv6 and refuses CIDR notation on a
    mapped address (is ``::ffff:10.0.0.0/104`` a /104 or a /8?); the range is the same.
    """
    mapped = (
        network.network_address.ipv4_mapped if isinstance(network, ipaddress.IPv6Network) else None
    )
    if mapped is not None:
        return str(ipaddress.IPv4Network((mapped, network.prefixlen - 96)))
    return str(network)


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


def failure_query() -> dict[str, Any]:
    """Failed calls: an errorCode that is not empty (``schema.failed`` for one record).

    An empty errorCode is indexed as an empty term, which ``exists`` alone would count.
    """
    return {
        "bool": {
            "filter": [{"exists": {"field": ERROR_CODE}}],
            "must_not": [{"term": {ERROR_CODE: ""}}],
        }
    }


def _has_error(value: bool | None) -> dict[str, Any] | None:  # noqa: FBT001
    if value is None:
        return None
    return failure_query() if value else {"bool": {"must_not": [failure_query()]}}


def _search(text: str | None) -> dict[str, Any] | None:
    if not text or not text.strip():
        return None
    return {
        "simple_query_string": {
            "query": text,
            "fields": [SEARCH_TEXT],
            "default_operator": "and",
        }
    }
