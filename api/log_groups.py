"""The ``logGroups`` and ``logGroup`` queries: the CloudWatch Logs view of the events.

A log group is known by the events that name it (``trailql.logGroupName``, derived at index
time from logGroupName and logGroupIdentifier(s), names and ARNs alike). Listing groups is one
composite aggregation per page, keyed by name: its key is the cursor, so paging never skips
or repeats a group however many there are.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import strawberry
from graphql import GraphQLError, Undefined, value_from_ast_untyped

from api.context import Context
from api.filters import EventFilter, event_query
from api.limits import FieldCost
from api.log_group_changes import (
    CHANGE_DEFINITION,
    LogGroupChange,
    change_from_event,
    change_query,
)
from api.log_group_history import (
    HistorySearch,
    LogGroupChangeConnection,
    find_history,
    history_search,
)
from api.pagination import (
    DEFAULT_PAGE_SIZE,
    Connection,
    Edge,
    encode_cursor,
    event_sort,
    page_info,
    page_size,
    resume_after,
)
from api.selection import names_below, selects, unconditional_fields
from schema import paths

_NAME_FIELD = paths.LOG_GROUP_NAME
_CURSOR_KIND = "logGroup"  # a cursor of `events` or `history` is not one of these

#: Elasticsearch's cardinality is exact in practice below this many values, an estimate above.
COUNT_PRECISION = 3000
#: Accounts, and Regions per account, one group's ARNs are derived from.
_MAX_ACCOUNTS = 100
_MAX_REGIONS = 50

_PARTITIONS = (
    ("cn-", "aws-cn"),
    ("us-gov-", "aws-us-gov"),
    ("us-isob-", "aws-iso-b"),
    ("us-iso-", "aws-iso"),
    ("eusc-", "aws-eusc"),
)


@strawberry.type(description="A log group, as the events that name it show it.")
class LogGroup:
    """One group's summary; its history is fetched only when asked for."""

    name: str
    arns: list[str] = strawberry.field(
        description=(
            "arn:PARTITION:logs:REGION:ACCOUNT:log-group:NAME for each account "
            "(recipientAccountId) and Region (awsRegion) of the events that name the group: "
            "a name used in several accounts or Regions is several log groups, summed up here "
            "(filter on recipientAccountId and awsRegion to tell them apart)."
        )
    )
    first_seen: datetime = strawberry.field(
        description="The eventTime of the oldest event that names the group."
    )
    last_seen: datetime = strawberry.field(
        description="The eventTime of the newest event that names the group."
    )
    event_count: int = strawberry.field(
        description=(
            "How many events name the group, exactly: in logGroupName or logGroupIdentifier, "
            "or in the lists logGroupNames and logGroupIdentifiers, by name or ARN; any call, "
            "read or write, successful or not."
        )
    )
    last_change: LogGroupChange | None = strawberry.field(
        description=(
            f"The newest change among the events counted in eventCount (eventTime, then "
            f"eventID, breaks ties), or null. {CHANGE_DEFINITION}."
        )
    )
    event_filter: strawberry.Private[EventFilter | None]
    #: The page of history searched with the group, and its answer (see ``find_log_group``).
    answered_history: strawberry.Private[tuple[HistorySearch, Any] | None] = None

    @strawberry.field(
        description=(
            "The calls of the kinds of LogGroupChangeKind that name the group (what created, "
            "changed, deleted or queried it), successful or not, oldest first (eventTime, then "
            "eventID), among the events matching the filter the group was found with. Page "
            "with `first` (default 50, at most 500) after the cursor `after`."
        )
    )
    async def history(
        self,
        info: strawberry.Info[Context, None],
        first: int | None = 50,
        after: str | None = None,
    ) -> LogGroupChangeConnection:
        """The calls of this group, limited by the filter the group was found with."""
        return await find_history(
            info.context,
            info,
            name=self.name,
            event_filter=self.event_filter,
            first=first,
            after=after,
            answered=self.answered_history,
        )


@strawberry.type(description="A page of log groups, in name order.")
class LogGroupConnection(Connection[LogGroup]):
    """A page of groups and how many there are in all."""

    total_count: int | None = strawberry.field(
        description=(
            "How many log groups the matching events name, across all pages. Exact when they "
            "all fit on one page; otherwise Elasticsearch's cardinality count, exact in "
            "practice up to 3,000 groups and an estimate beyond."
        )
    )


def _partition(region: str) -> str:
    for prefix, partition in _PARTITIONS:
        if region.startswith(prefix):
            return partition
    return "aws"


def _arns(name: str, aggregations: dict[str, Any]) -> list[str]:
    where = aggregations.get("accounts", {}).get("buckets", [])
    return sorted(
        f"arn:{_partition(region['key'])}:logs:{region['key']}:{account['key']}:log-group:{name}"
        for account in where
        for region in account["regions"]["buckets"]
    )


def _time(aggregation: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(aggregation["value"] / 1000, UTC)


def _summary_aggregations(*, last_change: bool, arns: bool) -> dict[str, Any]:
    """What a group's summary needs, per group: asked only for what the client selected."""
    aggregations: dict[str, Any] = {
        "firstSeen": {"min": {"field": paths.EVENT_TIME}},
        "lastSeen": {"max": {"field": paths.EVENT_TIME}},
    }
    if last_change:
        newest = event_sort("desc")
        aggregations["lastChange"] = {
            "filter": change_query(),
            "aggs": {"newest": {"top_hits": {"size": 1, "sort": newest}}},
        }
    if arns:
        regions = {"terms": {"field": paths.AWS_REGION, "size": _MAX_REGIONS}}
        aggregations["accounts"] = {
            "terms": {"field": paths.ACCOUNT_ID, "size": _MAX_ACCOUNTS},
            "aggs": {"regions": regions},
        }
    return aggregations


def _log_group(
    name: str, count: int, aggregations: dict[str, Any], event_filter: EventFilter | None
) -> LogGroup:
    newest = aggregations.get("lastChange", {}).get("newest", {}).get("hits", {}).get("hits")
    return LogGroup(
        name=name,
        arns=_arns(name, aggregations),
        first_seen=_time(aggregations["firstSeen"]),
        last_seen=_time(aggregations["lastSeen"]),
        event_count=count,
        last_change=change_from_event(newest[0]["_source"]) if newest else None,
        event_filter=event_filter,
    )


def _node_selects(info: strawberry.Info[Context, None], name: str) -> bool:
    return selects(info, "nodes", name) or selects(info, "edges", "node", name)


async def find_log_groups(
    context: Context,
    info: strawberry.Info[Context, None],
    event_filter: EventFilter | None,
    *,
    first: int | None,
    after: str | None,
) -> LogGroupConnection:
    """A page of groups in name order: one composite aggregation, one request."""
    size = page_size(first)
    composite: dict[str, Any] = {
        "size": size + 1,  # one more than asked: is there another page?
        "sources": [{"name": {"terms": {"field": _NAME_FIELD}}}],
    }
    position = resume_after(after, _CURSOR_KIND, (str,))
    if position is not None:
        composite["after"] = {"name": position[0]}
    aggregations: dict[str, Any] = {
        "groups": {
            "composite": composite,
            "aggs": _summary_aggregations(
                last_change=_node_selects(info, "lastChange"),
                arns=_node_selects(info, "arns"),
            ),
        }
    }
    counted = selects(info, "totalCount")
    if counted:
        aggregations["count"] = {
            "cardinality": {"field": _NAME_FIELD, "precision_threshold": COUNT_PRECISION}
        }
    response = await context.search(
        query=await event_query(context, event_filter),
        size=0,
        track_total_hits=False,
        aggs=aggregations,
    )
    found = response.get("aggregations", {})
    buckets = found.get("groups", {}).get("buckets", [])
    more = len(buckets) > size
    edges = [
        Edge(
            cursor=encode_cursor(_CURSOR_KIND, [bucket["key"]["name"]]),
            node=_log_group(bucket["key"]["name"], bucket["doc_count"], bucket, event_filter),
        )
        for bucket in buckets[:size]
    ]
    total = None
    if counted:
        whole_list = after is None and not more
        total = len(edges) if whole_list else found.get("count", {}).get("value", 0)
    return LogGroupConnection(
        edges=edges,
        nodes=[edge.node for edge in edges],
        page_info=page_info([edge.cursor for edge in edges], more=more, resumed=after is not None),
        total_count=total,
    )


async def find_log_group(
    context: Context,
    info: strawberry.Info[Context, None],
    name: str,
    event_filter: EventFilter | None,
) -> LogGroup | None:
    """One group's summary (its history is resolved on demand), or None if no event names it."""
    query = {
        "bool": {
            "filter": [await event_query(context, event_filter), {"term": {_NAME_FIELD: name}}]
        }
    }
    summary = {
        "query": query,
        "size": 0,
        "track_total_hits": True,
        "aggs": _summary_aggregations(
            last_change=selects(info, "lastChange"), arns=selects(info, "arns")
        ),
    }
    history = await _history_asked(context, info, name, event_filter)
    answered = None
    if history is None:
        response = await context.search(**summary)
    else:
        # Each search's error raised where it belongs: the group's here, the page's by history.
        response, history_response = await context.search_together(
            summary, history.request, errors_in_place=True
        )
        if isinstance(response, Exception):
            raise response
        answered = (history, history_response)
    count = response["hits"]["total"]["value"]
    if not count:
        return None
    group = _log_group(name, count, response["aggregations"], event_filter)
    group.answered_history = answered
    return group


async def _history_asked(
    context: Context,
    info: strawberry.Info[Context, None],
    name: str,
    event_filter: EventFilter | None,
) -> HistorySearch | None:
    """The search of the one page of history selected below this group, if there is one.

    Sent with the group's own search, it saves a round trip. Several pages (aliases), a page
    a directive may leave out, or an argument the page's search refuses (a cursor from
    elsewhere), are left to ``history``.
    """
    nodes = unconditional_fields(info, "history")
    if nodes is None or len(nodes) != 1:
        return None
    # Read as the limits read sizes: should a value read here differ from the one ``history``
    # is given, the page is not the one searched, and ``history`` searches its own.
    read = (
        (argument.name.value, value_from_ast_untyped(argument.value, info.variable_values))
        for argument in nodes[0].arguments or ()
    )
    given = {key: value for key, value in read if value is not Undefined}  # unset variables
    first, after = given.get("first", DEFAULT_PAGE_SIZE), given.get("after")
    if not isinstance(first, int | None) or not isinstance(after, str | None):
        return None
    try:
        return await history_search(
            context,
            name=name,
            event_filter=event_filter,
            first=first,
            after=after,
            count_total="totalCount" in names_below(info, nodes[0]),
        )
    except GraphQLError:  # a cursor it refuses: refused in its place, by ``history``
        return None


async def _log_groups(
    info: strawberry.Info[Context, None],
    filter: EventFilter | None = None,  # noqa: A002  GraphQL's own name
    first: int | None = 50,
    after: str | None = None,
) -> LogGroupConnection:
    return await find_log_groups(info.context, info, filter, first=first, after=after)


async def _log_group_by_name(
    info: strawberry.Info[Context, None],
    name: str,
    filter: EventFilter | None = None,  # noqa: A002  GraphQL's own name
) -> LogGroup | None:
    return await find_log_group(info.context, info, name, filter)


#: What the fields of this area cost (api/limits.py).
FIELD_COSTS = {
    "logGroups": FieldCost(
        searches=True, size_arguments=("first",), default_size=DEFAULT_PAGE_SIZE
    ),
    "logGroup": FieldCost(searches=True),
    "history": FieldCost(searches=True, size_arguments=("first",), default_size=DEFAULT_PAGE_SIZE),
}


@strawberry.type
class LogGroupQueries:
    """The CloudWatch Logs view: the log groups the events name, and each one's history."""

    log_groups: LogGroupConnection = strawberry.field(
        resolver=_log_groups,
        description=(
            "The log groups named by events matching `filter` (all events when null), in name "
            "order, each summed up over those events. Page with `first` (default 50, at most "
            "500) after the cursor `after`."
        ),
    )
    log_group: LogGroup | None = strawberry.field(
        resolver=_log_group_by_name,
        description=(
            "One log group by name, summed up over the events matching `filter` (all events "
            "when null), or null when none of them names it."
        ),
    )
