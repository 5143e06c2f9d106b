"""The ``event`` and ``events`` queries: filters, pages, and the one search behind each."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from typing import Any

import strawberry

from api.context import WITHIN, Context
from api.errors import ErrorCode, user_error
from api.filters import EventFilter, event_query, searching_its_months
from api.input_conversion import fast_input
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
from api.slices import slices
from api.types import Event, record_keys
from schema import paths

#: What boundedCount counts up to unless asked, and the most it may be asked to.
DEFAULT_COUNT_BOUND = 10_000
MAX_COUNT_BOUND = 100_000


@strawberry.enum(description="Which way a list is ordered.")
class OrderDirection(Enum):
    """Ascending or descending."""

    ASC = "asc"
    DESC = "desc"


@strawberry.enum(description="What events can be ordered by.")
class EventOrderField(Enum):
    """The order key; eventID always breaks ties."""

    EVENT_TIME = paths.EVENT_TIME


@fast_input
@strawberry.input(description="How to order events: by time, newest first unless asked.")
class EventOrder:
    """GitHub's ordering input."""

    field: EventOrderField = EventOrderField.EVENT_TIME
    direction: OrderDirection = OrderDirection.DESC


@strawberry.type(description="A count that stops at a bound: exact below it, at least it above.")
class BoundedCount:
    """What ``boundedCount`` found."""

    count: int = strawberry.field(description="The events counted: all of them when exact.")
    exact: bool = strawberry.field(
        description="Whether count is the exact number; false: at least count events match."
    )


@strawberry.type(description="A page of events, in the order asked for.")
class EventConnection(Connection[Event]):
    """A page of events and how many match in all."""

    total_count: int | None = strawberry.field(
        description=(
            "How many events match the filter, exactly (not only on this page). Exact "
            "counting reads every matching event's entry: on a store of billions with a "
            "narrow filter, boundedCount answers sooner."
        )
    )
    query: strawberry.Private[dict[str, Any]] = strawberry.field(default_factory=dict)
    #: What a count of ``query`` also sends (see api/filters.py skipping_other_months).
    count_options: strawberry.Private[dict[str, Any]] = strawberry.field(default_factory=dict)

    @strawberry.field(
        description=(
            "How many events match, counted up to `upTo` (at most 100,000) and no further: "
            "exact below the bound, and otherwise the bound with exact false. Cheaper than "
            "totalCount when many events match."
        )
    )
    async def bounded_count(
        self, info: strawberry.Info[Context, None], up_to: int = DEFAULT_COUNT_BOUND
    ) -> BoundedCount:
        """Elasticsearch's own bounded hit count (track_total_hits as a number)."""
        if not 1 <= up_to <= MAX_COUNT_BOUND:
            raise user_error(
                ErrorCode.BAD_USER_INPUT, f"`upTo` must be between 1 and {MAX_COUNT_BOUND:,}."
            )
        response = await info.context.search(
            query=self.query, size=0, track_total_hits=up_to, **self.count_options
        )
        total = response["hits"]["total"]
        return BoundedCount(count=int(total["value"]), exact=total["relation"] == "eq")


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


#: What of a connection is read off the page's hits; totalCount and boundedCount are not.
_NEEDS_THE_PAGE = frozenset({"nodes", "edges", "pageInfo"})


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
    """A page of events, read a few months at a time until it is full (api/slices.py).

    Paging backwards (``last``/``before``) searches in the reverse order and turns the page
    round. The exact total, when selected, is counted by a search of its own, sent with the
    page's first: the page's searches then stop at the page, however many events match.
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
    position = resume_after(cursor, direction, EVENT_POSITION)
    search_order = {"asc": "desc", "desc": "asc"}[direction] if backwards else direction
    query = await event_query(context, event_filter)
    count_options = await searching_its_months(context, event_filter)
    count = (
        {"query": query, "size": 0, "track_total_hits": True, **count_options}
        if selects(info, "totalCount")
        else None
    )
    if selected_names(info) & _NEEDS_THE_PAGE:
        hits, counted = await _page(
            context,
            query,
            search_order,
            size=size,
            position=position,
            source=_source(info),
            count=count,
        )
    else:
        hits, counted = [], await context.search(**count) if count is not None else None
    total = counted["hits"]["total"]["value"] if counted is not None else None
    more = len(hits) > size
    page = hits[:size][::-1] if backwards else hits[:size]
    # A cursor per event only when edges are asked for; pageInfo needs the two at the ends.
    edges = (
        [
            Edge(cursor=encode_cursor(direction, hit["sort"]), node=hit.get("_source"))
            for hit in page
        ]
        if "edges" in selected_names(info)
        else []
    )
    ends = [encode_cursor(direction, hit["sort"]) for hit in (page[:1] + page[1:][-1:])]
    return EventConnection(
        edges=edges,
        nodes=[hit.get("_source") for hit in page],
        page_info=page_info(ends, more=more, resumed=cursor is not None, backwards=backwards),
        total_count=total,
        query=query,
        count_options=count_options,
    )


async def _page(
    context: Context,
    query: dict[str, Any],
    order: str,
    *,
    size: int,
    position: list[int | str] | None,
    source: bool | dict[str, list[str]],
    count: dict[str, Any] | None,
) -> tuple[list[dict[str, Any]], Any | None]:
    """Up to ``size`` + 1 hits in ``order`` after ``position``: one more says there are more.

    The ``count`` search, if any, goes with the first of the page's (one round trip), and
    its answer comes back beside the hits.
    """
    months = await context.months.of(context.elasticsearch, context.alias)
    now = datetime.now(UTC)
    resume_at = None if position is None else datetime.fromtimestamp(int(position[0]) / 1000, UTC)
    hits: list[dict[str, Any]] = []
    counted = None
    for piece in slices(months, newest_first=order == "desc", resume_at=resume_at):
        in_time = piece.range_query(paths.EVENT_TIME)
        request: dict[str, Any] = {
            "query": query if in_time is None else {"bool": {"filter": [query, in_time]}},
            "sort": event_sort(order),
            "size": size + 1 - len(hits),
            "track_total_hits": False,
            "source": source,
        }
        named = await context.months.named(context.elasticsearch, context.alias, piece, now)
        if named is not None:
            request[WITHIN] = named
        if position is not None:
            request["search_after"] = position
        if count is not None and counted is None:
            answer, counted = await context.search_together(request, count)
        else:
            answer = await context.search(**request)
        found = answer["hits"]["hits"]
        hits += found
        if len(hits) > size:
            break
        if found:
            position = found[-1]["sort"]
    if count is not None and counted is None:  # no month to read a page from
        counted = await context.search(**count)
    return hits, counted


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
    "boundedCount": FieldCost(searches=True),
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
