"""A log group's history, a page at a time: one search_after request per page.

Paging by key (eventTime, eventID) rather than by offset works past 10,000 calls, and a call
indexed later never shifts the pages after a cursor.
"""

from __future__ import annotations

from typing import Any

import strawberry

from api.context import Context
from api.cursor import encode_cursor, search_after
from api.errors import ErrorCode, user_error
from api.events import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, PageInfo
from api.filters import EventFilter, filter_query
from api.log_group_changes import LogGroupChange, change_from_event, history_calls_query
from api.selection import selects
from schema import DERIVED

_ORDER = "asc"  # oldest first
_SORT = [{"eventTime": {"order": _ORDER}}, {"eventID": {"order": _ORDER}}]


@strawberry.type(description="A call in a log group's history and its cursor.")
class LogGroupChangeEdge:
    """One history entry on a page."""

    cursor: str
    node: LogGroupChange


@strawberry.type(description="A page of a log group's history, oldest first.")
class LogGroupChangeConnection:
    """A page of history and how long the whole history is."""

    edges: list[LogGroupChangeEdge]
    nodes: list[LogGroupChange] = strawberry.field(
        description="The calls on this page, without cursors."
    )
    page_info: PageInfo
    total_count: int | None = strawberry.field(
        description="How many calls the whole history holds, exactly (not only on this page)."
    )


def page_size(first: int | None) -> int:
    """``first`` checked against the API's page limits (None means the default)."""
    size = DEFAULT_PAGE_SIZE if first is None else first
    if not 0 <= size <= MAX_PAGE_SIZE:
        raise user_error(
            ErrorCode.BAD_USER_INPUT, f"`first` must be between 0 and {MAX_PAGE_SIZE}."
        )
    return size


def names_group_query(name: str) -> dict[str, Any]:
    """Events whose request names the group.

    ``trailql.logGroupName`` is derived at indexing from logGroupName, logGroupIdentifier(s)
    and log-group resourceArns, so one term finds them all.
    """
    return {"term": {f"{DERIVED}.logGroupName": name}}


async def find_history(
    context: Context,
    info: strawberry.Info[Context, None],
    *,
    name: str,
    event_filter: EventFilter | None,
    first: int | None,
    after: str | None,
) -> LogGroupChangeConnection:
    """One page of the calls of the kinds LogGroupChangeKind lists that name the group."""
    size = page_size(first)
    after_values = search_after(after, _ORDER)
    query = {
        "bool": {
            "filter": [
                filter_query(event_filter, context.limits),
                names_group_query(name),
                history_calls_query(),
            ]
        }
    }
    request: dict[str, Any] = {
        "query": query,
        "sort": _SORT,
        "size": size + 1,  # one more than asked: is there another page?
        "track_total_hits": selects(info, "totalCount"),
    }
    if after_values is not None:
        request["search_after"] = after_values
    response = await context.search(**request)
    hits = response["hits"]["hits"]
    edges = []
    for hit in hits[:size]:
        change = change_from_event(hit["_source"])
        if change is not None:
            edges.append(LogGroupChangeEdge(cursor=encode_cursor(_ORDER, hit["sort"]), node=change))
    return LogGroupChangeConnection(
        edges=edges,
        nodes=[edge.node for edge in edges],
        page_info=PageInfo(
            has_next_page=len(hits) > size,
            has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        total_count=response["hits"]["total"]["value"] if request["track_total_hits"] else None,
    )
