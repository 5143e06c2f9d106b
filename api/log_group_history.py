"""A log group's history, a page at a time: one search_after request per page.

Paging by key (eventTime, eventID) rather than by offset works past 10,000 calls, and a call
indexed later never shifts the pages after a cursor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import strawberry

from api.context import Context
from api.filters import EventFilter, event_query
from api.log_group_changes import LogGroupChange, change_from_event, history_calls_query
from api.pagination import (
    EVENT_POSITION,
    Connection,
    Edge,
    encode_cursor,
    event_sort,
    page_info,
    page_size,
    resume_after,
)
from api.selection import selects
from schema.paths import LOG_GROUP_NAME

_ORDER = "asc"  # oldest first


@strawberry.type(description="A page of a log group's history, oldest first.")
class LogGroupChangeConnection(Connection[LogGroupChange]):
    """A page of history and how long the whole history is."""

    total_count: int | None = strawberry.field(
        description="How many calls the whole history holds, exactly (not only on this page)."
    )


def names_group_query(name: str) -> dict[str, Any]:
    """Events whose request names the group.

    ``trailql.logGroupName`` is derived at indexing from logGroupName, logGroupIdentifier(s)
    and log-group resourceArns, so one term finds them all.
    """
    return {"term": {LOG_GROUP_NAME: name}}


@dataclass(frozen=True)
class HistorySearch:
    """One page's search, ready to send, with what reading its answer needs."""

    first: int | None
    after: str | None
    request: dict[str, Any]


async def history_search(
    context: Context,
    *,
    name: str,
    event_filter: EventFilter | None,
    first: int | None,
    after: str | None,
    count_total: bool,
) -> HistorySearch:
    """The search for one page of the calls of the kinds LogGroupChangeKind lists."""
    after_values = resume_after(after, _ORDER, EVENT_POSITION)
    query = {
        "bool": {
            "filter": [
                await event_query(context, event_filter),
                names_group_query(name),
                history_calls_query(),
            ]
        }
    }
    request: dict[str, Any] = {
        "query": query,
        "sort": event_sort(_ORDER),
        "size": page_size(first) + 1,  # one more than asked: is there another page?
        "track_total_hits": count_total,
    }
    if after_values is not None:
        request["search_after"] = after_values
    return HistorySearch(first, after, request)


def history_page(search: HistorySearch, response: Any) -> LogGroupChangeConnection:
    """The page ``search`` asked for, from Elasticsearch's answer to it."""
    size = search.request["size"] - 1
    hits = response["hits"]["hits"]
    edges = []
    for hit in hits[:size]:
        change = change_from_event(hit["_source"])
        if change is not None:
            edges.append(Edge(cursor=encode_cursor(_ORDER, hit["sort"]), node=change))
    counted = search.request["track_total_hits"]
    return LogGroupChangeConnection(
        edges=edges,
        nodes=[edge.node for edge in edges],
        page_info=page_info(
            [edge.cursor for edge in edges], more=len(hits) > size, resumed=search.after is not None
        ),
        total_count=response["hits"]["total"]["value"] if counted else None,
    )


async def find_history(
    context: Context,
    info: strawberry.Info[Context, None],
    *,
    name: str,
    event_filter: EventFilter | None,
    first: int | None,
    after: str | None,
    answered: tuple[HistorySearch, Any] | None = None,
) -> LogGroupChangeConnection:
    """One page of the group's history.

    ``answered``: a page searched already, with its answer or the error its search raised
    (``logGroup`` sends its history's search with its own), used when it is this page.
    """
    if answered is not None:
        search, response = answered
        if (search.first, search.after) == (first, after):
            if isinstance(response, Exception):  # its search failed: the error is this page's
                raise response
            return history_page(search, response)
    search = await history_search(
        context,
        name=name,
        event_filter=event_filter,
        first=first,
        after=after,
        count_total=selects(info, "totalCount"),
    )
    return history_page(search, await context.search(**search.request))
