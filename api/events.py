"""The ``event`` and ``events`` queries: filters, pages, and the one search behind each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import strawberry
from elasticsearch import AsyncElasticsearch

from api.cursor import InvalidCursorError, decode_cursor, encode_cursor
from api.errors import ErrorCode, user_error
from api.filters import EventFilter, filter_query
from api.selection import selects
from api.types import Event

MAX_PAGE_SIZE = 500
_NEWEST_FIRST = [{"eventTime": {"order": "desc"}}, {"eventID": {"order": "desc"}}]


@dataclass(frozen=True)
class Context:
    """What every resolver needs: the cluster and the alias the events are behind."""

    elasticsearch: AsyncElasticsearch
    alias: str


@strawberry.type(description="Where a page ends, for asking for the next one.")
class PageInfo:
    """Relay's page information."""

    has_next_page: bool
    has_previous_page: bool = strawberry.field(
        description="True when this page was asked for after a cursor."
    )
    start_cursor: str | None
    end_cursor: str | None = strawberry.field(description="Pass as `after` for the next page.")


@strawberry.type(description="An event and its cursor.")
class EventEdge:
    """One event on a page."""

    cursor: str
    node: Any = strawberry.field(graphql_type=Event)


@strawberry.type(description="A page of events, newest first (eventTime, then eventID).")
class EventConnection:
    """A page of events and how many match in all."""

    edges: list[EventEdge]
    page_info: PageInfo
    total_count: int | None = strawberry.field(
        description="How many events match the filter, exactly (not only on this page)."
    )

    nodes: list[Any] = strawberry.field(
        graphql_type=list[Event], description="The events on this page, without cursors."
    )


async def find_event(context: Context, event_id: str) -> dict[str, Any] | None:
    """One event by eventID, from whichever monthly index holds it."""
    response = await context.elasticsearch.search(
        index=context.alias,
        query={"ids": {"values": [event_id]}},
        size=1,
        ignore_unavailable=True,
        allow_no_indices=True,
    )
    hits = response["hits"]["hits"]
    return hits[0]["_source"] if hits else None


async def find_events(
    context: Context,
    info: strawberry.Info[Context, None],
    event_filter: EventFilter | None,
    first: int,
    after: str | None,
) -> EventConnection:
    """A page of events; one search, asking only for what the client selected."""
    if not 0 <= first <= MAX_PAGE_SIZE:
        raise user_error(
            ErrorCode.BAD_USER_INPUT, f"`first` must be between 0 and {MAX_PAGE_SIZE}."
        )
    search_after = None
    if after is not None:
        try:
            search_after = decode_cursor(after)
        except InvalidCursorError as exc:
            raise user_error(ErrorCode.INVALID_CURSOR, str(exc)) from None
    wants_nodes = selects(info, "nodes") or selects(info, "edges", "node")
    request: dict[str, Any] = {
        "query": filter_query(event_filter),
        "sort": _NEWEST_FIRST,
        "size": first + 1,  # one more than asked: is there a next page?
        "track_total_hits": selects(info, "totalCount"),
        "source": wants_nodes,
    }
    if search_after is not None:
        request["search_after"] = search_after
    response = await context.elasticsearch.search(
        index=context.alias, ignore_unavailable=True, allow_no_indices=True, **request
    )
    hits = response["hits"]["hits"]
    page = hits[:first]
    edges = [EventEdge(cursor=encode_cursor(hit["sort"]), node=hit.get("_source")) for hit in page]
    nodes = [edge.node for edge in edges]
    total = response["hits"]["total"]["value"] if request["track_total_hits"] else None
    return EventConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(hits) > first,
            has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        total_count=total,
        nodes=nodes,
    )


async def _event(info: strawberry.Info[Context, None], id: strawberry.ID) -> Any:  # noqa: A002  GraphQL's own name
    return await find_event(info.context, str(id))


async def _events(
    info: strawberry.Info[Context, None],
    filter: EventFilter | None = None,  # noqa: A002  GraphQL's own name
    first: int = 50,
    after: str | None = None,
) -> EventConnection:
    return await find_events(info.context, info, filter, first, after)


@strawberry.type
class EventQueries:
    """Events, one at a time or a page at a time."""

    event: Any = strawberry.field(
        resolver=_event, graphql_type=Event | None, description="One event by its eventID, or null."
    )
    events: EventConnection = strawberry.field(
        resolver=_events,
        description=(
            "Events matching `filter`, newest first (eventTime, then eventID): `first` of them "
            "(at most 500) after the cursor `after`."
        ),
    )
