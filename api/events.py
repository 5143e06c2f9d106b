"""The ``event`` and ``events`` queries: filters, pages, and the one search behind each."""

from __future__ import annotations

from enum import Enum
from typing import Any

import strawberry

from api.context import Context
from api.errors import ErrorCode, user_error
from api.filters import EventFilter, event_query
from api.limits import FieldCost
from api.pagination import (
    DEFAULT_PAGE_SIZE,
    EVENT_POSITION,
    Connection,
    Edge,
    encode_cursor,
    event_sort,
    page_info,
    page_size,
    plan_connection,
    resume_after,
)
from api.selection import selected_names, selects
from api.types import Event, record_keys
from schema import paths


@strawberry.enum(description="Which way a list is ordered.")
class OrderDirection(Enum):
    """Ascending or descending."""

    ASC = "asc"
    DESC = "desc"


@strawberry.enum(description="What events can be ordered by.")
class EventOrderField(Enum):
    """The order key; eventID always breaks ties."""

    EVENT_TIME = paths.EVENT_TIME


@strawberry.input(description="How to order events: by time, newest first unless asked.")
class EventOrder:
    """GitHub's ordering input."""

    field: EventOrderField = EventOrderField.EVENT_TIME
    direction: OrderDirection = OrderDirection.DESC


@strawberry.type(description="A page of events, in the order asked for.")
class EventConnection(Connection[Event]):
    """A page of events and how many match in all."""

    total_count: int | None = strawberry.field(
        description="How many events match the filter, exactly (not only on this page)."
    )


plan_connection(EventConnection, "Event")


def _source(info: strawberry.Info[Context, None]) -> bool | dict[str, list[str]]:
    """What of each record to fetch: only the keys the selected Event fields read."""
    selected = selected_names(info, "nodes") | selected_names(info, "edges", "node")
    if not selected:
        return False
    keys = record_keys(selected)
    return True if keys is None else {"includes": keys}


async def find_event(context: Context, event_id: str) -> dict[str, Any] | None:
    """One event by eventID, from whichever index holds it.

    By the indexed ``eventID``, not the ``_id``: an eventID too long to be an ``_id`` is
    stored under one derived from it. The indexer refuses eventIDs too long to be indexed.
    """
    if not event_id:  # no event has an empty eventID
        return None
    response = await context.search(query={"term": {"eventID": event_id}}, size=1)
    hits = response["hits"]["hits"]
    return hits[0]["_source"] if hits else None


async def find_events(
    context: Context,
    info: strawberry.Info[Context, None],
    event_filter: EventFilter | None,
    *,
    order: EventOrder | None = None,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
) -> EventConnection:
    """A page of events; one search, asking only for what the client selected.

    Paging backwards (``last``/``before``) searches in the reverse order and turns the page
    round, so both directions are one search_after request.
    """
    size = page_size(first, last)
    backwards = last is not None or before is not None
    if backwards and (first is not None or after is not None):
        raise user_error(
            ErrorCode.BAD_USER_INPUT,
            "page forwards with first/after or backwards with last/before.",
        )
    direction = (order or EventOrder()).direction.value
    cursor = before if backwards else after
    after_values = resume_after(cursor, direction, EVENT_POSITION)
    reverse = {"asc": "desc", "desc": "asc"}[direction]
    request: dict[str, Any] = {
        "query": await event_query(context, event_filter),
        "sort": event_sort(reverse if backwards else direction),
        "size": size + 1,  # one more than asked: is there another page?
        "track_total_hits": selects(info, "totalCount"),
        "source": _source(info),
    }
    if after_values is not None:
        request["search_after"] = after_values
    response = await context.search(**request)
    hits = response["hits"]["hits"]
    more = len(hits) > size
    page = hits[:size][::-1] if backwards else hits[:size]
    edges = [
        Edge(cursor=encode_cursor(direction, hit["sort"]), node=hit.get("_source")) for hit in page
    ]
    return EventConnection(
        edges=edges,
        nodes=[edge.node for edge in edges],
        page_info=page_info(
            [edge.cursor for edge in edges],
            more=more,
            resumed=cursor is not None,
            backwards=backwards,
        ),
        total_count=response["hits"]["total"]["value"] if request["track_total_hits"] else None,
    )


async def _event(info: strawberry.Info[Context, None], id: strawberry.ID) -> Any:  # noqa: A002  GraphQL's own name
    return await find_event(info.context, str(id))


async def _events(
    info: strawberry.Info[Context, None],
    *,
    filter: EventFilter | None = None,  # noqa: A002  GraphQL's own name
    order_by: EventOrder | None = None,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
) -> EventConnection:
    return await find_events(
        info.context,
        info,
        filter,
        order=order_by,
        first=first,
        after=after,
        last=last,
        before=before,
    )


#: What the fields of this area cost (api/limits.py).
FIELD_COSTS = {
    "event": FieldCost(searches=True),
    "events": FieldCost(
        searches=True, size_arguments=("first", "last"), default_size=DEFAULT_PAGE_SIZE
    ),
}


@strawberry.type
class EventQueries:
    """Events, one at a time or a page at a time."""

    event: Any = strawberry.field(
        resolver=_event, graphql_type=Event | None, description="One event by its eventID, or null."
    )
    events: EventConnection = strawberry.field(
        resolver=_events,
        description=(
            "Events matching `filter`, in `orderBy` order (newest first unless asked; eventID "
            "breaks ties). Page forwards with `first` (default 50, at most 500) after the "
            "cursor `after`, or backwards with `last` before the cursor `before`."
        ),
    )
