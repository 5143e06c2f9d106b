"""Findings and rules over GraphQL, and the one mutation, ``updateFindingStatus``.

Queries: ``findings``, ``finding``, ``findingStats``, ``rules``.
Every search goes through :meth:`api.context.Context.search_findings`, confined to the
caller's accounts exactly as events are; a finding's evidence ``events`` through
:meth:`~api.context.Context.search`. Changing a status needs the ``triage`` scope.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from functools import cache
from typing import Any

import strawberry
from elasticsearch import ConflictError

from api.context import Context
from api.errors import ErrorCode, user_error
from api.events import OrderDirection
from api.input_conversion import fast_input
from api.limits import FieldCost
from api.pagination import (
    DEFAULT_PAGE_SIZE,
    Connection,
    Edge,
    encode_cursor,
    page_info,
    page_size,
    resume_after,
)
from api.tenancy import TRIAGE
from api.types import Event
from common.times import utc
from detections import (
    DetectionSettings,
    RuleError,
    StatusChangeError,
    findings_index,
    load_rules,
    status_change,
)
from detections.rules import RuleInfo

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Most evidence events a finding lists.
MAX_EVIDENCE_EVENTS = 100
_STATS_TERMS = 10
_CONFLICT_RETRIES = 3


@strawberry.enum(description="Where a finding is in triage.")
class FindingStatus(Enum):
    """The four states; each change is kept in the finding's history."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    FALSE_POSITIVE = "false_positive"


@strawberry.enum(description="How serious a rule's findings are (Sigma's levels).")
class Severity(Enum):
    """Sigma's levels, least serious first."""

    INFORMATIONAL = "informational"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


@strawberry.type(description="The rule that raised a finding.")
class FindingRule:
    """What a finding records of its rule."""

    id: str = strawberry.field(description="The rule's Sigma id.")
    name: str = strawberry.field(description="The rule's readable name.")
    title: str
    severity: Severity
    techniques: list[str] = strawberry.field(description="MITRE ATT&CK techniques, as T1562.008.")


@strawberry.type(description="One change of a finding's status: who, when, why.")
class StatusChange:
    """An entry of a finding's history."""

    status: FindingStatus
    by: str = strawberry.field(description="The credential's name (an API key's, or jwt:sub).")
    at: datetime
    note: str | None


@strawberry.type(description="What a detection rule raised: evidence, who, where, and triage.")
class Finding:
    """One finding."""

    id: strawberry.ID
    rule: FindingRule
    summary: str = strawberry.field(description="One sentence saying what happened.")
    first_event_time: datetime | None
    last_event_time: datetime | None
    account_id: str
    region: str
    principal: str = strawberry.field(description="Who, as events' `principal` says it.")
    log_groups: list[str]
    event_ids: list[str] = strawberry.field(description="The evidence events' eventIDs.")
    event_count: int = strawberry.field(description="How many events (a burst may list fewer).")
    status: FindingStatus
    history: list[StatusChange]
    created_at: datetime | None = strawberry.field(description="When TrailQL raised it.")
    updated_at: datetime | None

    @strawberry.field(description="The evidence events, oldest first (at most 100).")
    async def events(self, info: strawberry.Info[Context, None]) -> list[Event]:
        """The evidence, by eventID, through the caller's confined search."""
        ids = list(self.event_ids)[:MAX_EVIDENCE_EVENTS]
        if not ids:
            return []
        response = await info.context.search(
            query={"terms": {"eventID": ids}},
            sort=[{"eventTime": "asc"}, {"eventID": "asc"}],
            size=len(ids),
        )
        return [hit["_source"] for hit in response["hits"]["hits"]]


def _time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _severity(value: object) -> Severity:
    try:
        return Severity(value)
    except ValueError:
        return Severity.MEDIUM


def finding_of(source: dict[str, Any]) -> Finding:
    """A stored finding as the API shows it."""
    rule = source.get("rule") or {}
    return Finding(
        id=strawberry.ID(str(source.get("id", ""))),
        rule=FindingRule(
            id=str(rule.get("id", "")),
            name=str(rule.get("name", "")),
            title=str(rule.get("title", "")),
            severity=_severity(rule.get("severity")),
            techniques=list(rule.get("techniques") or []),
        ),
        summary=str(source.get("summary", "")),
        first_event_time=_time(source.get("firstEventTime")),
        last_event_time=_time(source.get("lastEventTime")),
        account_id=str(source.get("accountId", "")),
        region=str(source.get("region", "")),
        principal=str(source.get("principal", "")),
        log_groups=list(source.get("logGroups") or []),
        event_ids=list(source.get("eventIds") or []),
        event_count=int(source.get("eventCount") or 0),
        status=FindingStatus(source.get("status", "open")),
        history=[
            StatusChange(
                status=FindingStatus(entry.get("status", "open")),
                by=str(entry.get("by", "")),
                at=_time(entry.get("at")) or _EPOCH,
                note=entry.get("note"),
            )
            for entry in source.get("history") or []
        ],
        created_at=_time(source.get("createdAt")),
        updated_at=_time(source.get("updatedAt")),
    )


@fast_input
@strawberry.input(description="Which findings: conditions side by side combine with AND.")
class FindingFilter:
    """Lists mean "any of"; an empty list is the same as leaving it out."""

    from_: datetime | None = strawberry.field(
        name="from", default=None, description="Findings whose last event is at or after this."
    )
    to: datetime | None = strawberry.field(
        default=None, description="Findings whose first event is before this."
    )
    rule: list[str] | None = strawberry.field(default=None, description="Rule ids or names.")
    severity: list[Severity] | None = None
    status: list[FindingStatus] | None = None
    account_id: list[str] | None = None
    region: list[str] | None = None
    principal: list[str] | None = None
    log_group_name: list[str] | None = None


def finding_query(finding_filter: FindingFilter | None, limit: int) -> dict[str, Any]:
    """The findings query for a filter (``match_all`` for none); lists of at most ``limit``."""
    if finding_filter is None:
        return {"match_all": {}}
    clauses: list[dict[str, Any]] = []
    lists: list[tuple[str, list[Any] | None]] = [
        ("severity", [s.value for s in finding_filter.severity or []]),
        ("status", [s.value for s in finding_filter.status or []]),
        ("accountId", finding_filter.account_id),
        ("region", finding_filter.region),
        ("principal", finding_filter.principal),
        ("logGroups", finding_filter.log_group_name),
    ]
    for field, values in lists:
        if values:
            if len(values) > limit:
                raise user_error(ErrorCode.BAD_USER_INPUT, f"at most {limit:,} values per list.")
            target = "rule.severity" if field == "severity" else field
            clauses.append({"terms": {target: values}})
    if finding_filter.rule:
        names = finding_filter.rule[:limit]
        clauses.append(
            {
                "bool": {
                    "should": [{"terms": {"rule.id": names}}, {"terms": {"rule.name": names}}],
                    "minimum_should_match": 1,
                }
            }
        )
    if finding_filter.from_ is not None:
        start = utc(finding_filter.from_).isoformat()
        clauses.append({"range": {"lastEventTime": {"gte": start}}})
    if finding_filter.to is not None:
        end = utc(finding_filter.to).isoformat()
        clauses.append({"range": {"firstEventTime": {"lt": end}}})
    return {"bool": {"filter": clauses}} if clauses else {"match_all": {}}


@strawberry.enum(description="What findings can be ordered by.")
class FindingOrderField(Enum):
    """The order key; the finding's id always breaks ties."""

    CREATED_AT = "createdAt"
    FIRST_EVENT_TIME = "firstEventTime"
    SEVERITY = "rule.severityRank"


@fast_input
@strawberry.input(description="How to order findings: newest first unless asked.")
class FindingOrder:
    """GitHub's ordering input."""

    field: FindingOrderField = FindingOrderField.CREATED_AT
    direction: OrderDirection = OrderDirection.DESC


@strawberry.type(description="A page of findings, in the order asked for.")
class FindingConnection(Connection[Finding]):
    """A page of findings and how many match in all."""


_POSITION = (int, str)


async def _findings(
    info: strawberry.Info[Context, None],
    *,
    filter: FindingFilter | None = None,  # noqa: A002  GraphQL's own name
    order_by: FindingOrder | None = None,
    first: int | None = None,
    after: str | None = None,
) -> FindingConnection:
    context = info.context
    size = page_size(first)
    order = order_by or FindingOrder()
    kind = f"findings:{order.field.name}:{order.direction.value}"
    after_values = resume_after(after, kind, _POSITION)
    direction = order.direction.value
    request: dict[str, Any] = {
        "query": finding_query(filter, context.limits.max_list_length),
        "sort": [{order.field.value: {"order": direction}}, {"id": {"order": direction}}],
        "size": size + 1,
        "track_total_hits": True,
    }
    if after_values is not None:
        request["search_after"] = after_values
    response = await context.search_findings(**request)
    hits = response["hits"]["hits"]
    page = hits[:size]
    edges = [
        Edge(
            cursor=encode_cursor(kind, _sort_position(hit["sort"])), node=finding_of(hit["_source"])
        )
        for hit in page
    ]
    return FindingConnection(
        edges=edges,
        nodes=[edge.node for edge in edges],
        page_info=page_info(
            [edge.cursor for edge in edges], more=len(hits) > size, resumed=after is not None
        ),
        total_count=response["hits"]["total"]["value"],
    )


def _sort_position(values: list[Any]) -> list[int | str]:
    return [int(values[0]) if values[0] is not None else 0, str(values[1])]


async def _finding(info: strawberry.Info[Context, None], id: strawberry.ID) -> Finding | None:  # noqa: A002
    source = await _find(info.context, str(id))
    return None if source is None else finding_of(source[0])


async def _find(context: Context, finding_id: str) -> tuple[dict[str, Any], int, int] | None:
    """A finding the caller may see, with its sequence number and primary term."""
    if not finding_id:
        return None
    response = await context.search_findings(
        query={"ids": {"values": [finding_id]}}, size=1, seq_no_primary_term=True
    )
    hits = response["hits"]["hits"]
    if not hits:
        return None
    return hits[0]["_source"], hits[0]["_seq_no"], hits[0]["_primary_term"]


@strawberry.type(description="A value and how many findings have it.")
class FindingBucket:
    """One term of a breakdown."""

    key: str
    count: int


@strawberry.type(description="How many findings a day, from the first to the last.")
class FindingTimelineBucket:
    """One day of the timeline (by the findings' first event)."""

    start: datetime
    count: int


@strawberry.type(description="Findings counted, broken down, and over time: one search.")
class FindingStats:
    """Statistics over the findings a filter selects."""

    count: int
    by_rule: list[FindingBucket]
    by_severity: list[FindingBucket]
    by_status: list[FindingBucket]
    by_principal: list[FindingBucket]
    by_account: list[FindingBucket]
    timeline: list[FindingTimelineBucket]


_BREAKDOWNS = {
    "by_rule": "rule.name",
    "by_severity": "rule.severity",
    "by_status": "status",
    "by_principal": "principal",
    "by_account": "accountId",
}


async def _finding_stats(
    info: strawberry.Info[Context, None],
    filter: FindingFilter | None = None,  # noqa: A002
) -> FindingStats:
    context = info.context
    aggs: dict[str, Any] = {
        name: {"terms": {"field": field, "size": _STATS_TERMS}}
        for name, field in _BREAKDOWNS.items()
    }
    aggs["timeline"] = {"date_histogram": {"field": "firstEventTime", "calendar_interval": "1d"}}
    response = await context.search_findings(
        query=finding_query(filter, context.limits.max_list_length),
        size=0,
        track_total_hits=True,
        aggs=aggs,
    )
    found = response.get("aggregations", {})

    def buckets(name: str) -> list[FindingBucket]:
        return [
            FindingBucket(key=str(b["key"]), count=b["doc_count"])
            for b in found.get(name, {}).get("buckets", [])
        ]

    return FindingStats(
        count=response["hits"]["total"]["value"],
        by_rule=buckets("by_rule"),
        by_severity=buckets("by_severity"),
        by_status=buckets("by_status"),
        by_principal=buckets("by_principal"),
        by_account=buckets("by_account"),
        timeline=[
            FindingTimelineBucket(start=_time(b["key_as_string"]) or _EPOCH, count=b["doc_count"])
            for b in found.get("timeline", {}).get("buckets", [])
        ],
    )


@strawberry.type(description="A detection rule: what it catches, how serious, which technique.")
class Rule:
    """One rule of the shipped pack or of TRAILQL_RULES_DIR."""

    id: str
    name: str
    title: str
    description: str
    severity: Severity
    techniques: list[str]
    tactics: list[str]
    false_positives: list[str]
    kind: str = strawberry.field(description="event, event_count or value_count.")
    source: str = strawberry.field(description="pack, or the file it was loaded from.")


@cache
def _rule_infos() -> tuple[RuleInfo, ...]:
    settings = DetectionSettings()
    return tuple(rule.info for rule in load_rules([], rules_dir=settings.rules_dir).rules)


async def _rules() -> list[Rule]:
    try:
        infos = _rule_infos()
    except RuleError as exc:
        raise user_error(ErrorCode.INTERNAL, f"the rules cannot be loaded: {exc}") from None
    return [
        Rule(
            id=info.id,
            name=info.name,
            title=info.title,
            description=info.description,
            severity=_severity(info.severity),
            techniques=list(info.techniques),
            tactics=list(info.tactics),
            false_positives=list(info.false_positives),
            kind=info.kind,
            source=info.source,
        )
        for info in infos
    ]


async def _update_finding_status(
    info: strawberry.Info[Context, None],
    id: strawberry.ID,  # noqa: A002
    status: FindingStatus,
    note: str | None = None,
) -> Finding:
    context = info.context
    if not context.tenant.may(TRIAGE):
        raise user_error(
            ErrorCode.FORBIDDEN,
            "changing a finding's status needs the triage scope; this credential may only read.",
        )
    for _ in range(_CONFLICT_RETRIES):
        found = await _find(context, str(id))
        if found is None:
            raise user_error(ErrorCode.NOT_FOUND, f"no finding {str(id)!r}.")
        source, seq_no, primary_term = found
        try:
            change = status_change(source, status.value, by=context.tenant.name, note=note)
        except StatusChangeError as exc:
            raise user_error(ErrorCode.BAD_USER_INPUT, f"{exc}.") from None
        try:
            await context.elasticsearch.update(
                index=findings_index(context.alias),
                id=str(id),
                doc=change,
                if_seq_no=seq_no,
                if_primary_term=primary_term,
                refresh="wait_for",
            )
        except ConflictError:
            continue  # changed meanwhile: read it again and apply on top
        return finding_of({**source, **change})
    raise user_error(ErrorCode.TIMEOUT, "the finding kept changing meanwhile; try again.")


#: What the fields of this area cost (api/limits.py).
FIELD_COSTS = {
    "findings": FieldCost(searches=True, size_arguments=("first",), default_size=DEFAULT_PAGE_SIZE),
    "finding": FieldCost(searches=True),
    "findingStats": FieldCost(searches=True),
    "rules": FieldCost(),
    "updateFindingStatus": FieldCost(searches=True),
}


@strawberry.type
class FindingQueries:
    """Findings, their statistics, and the rules that raise them."""

    findings: FindingConnection = strawberry.field(
        resolver=_findings,
        description=(
            "Findings matching `filter`, newest first unless `orderBy` says; the id breaks "
            "ties. Page with `first` (default 50, at most 500) and `after`."
        ),
    )
    finding: Finding | None = strawberry.field(
        resolver=_finding, description="One finding by its id, or null."
    )
    finding_stats: FindingStats = strawberry.field(
        resolver=_finding_stats,
        description="Count, breakdowns (rule, severity, status, principal, account) and a daily "
        "timeline of the findings `filter` selects, in one search.",
    )
    rules: list[Rule] = strawberry.field(resolver=_rules, description="Every detection rule.")


@strawberry.type
class FindingMutations:
    """Triage."""

    update_finding_status: Finding = strawberry.field(
        resolver=_update_finding_status,
        description=(
            "Move a finding to `status`, with an optional `note`; the change joins its history "
            "(who, when, note). Needs a credential with the triage scope."
        ),
    )
