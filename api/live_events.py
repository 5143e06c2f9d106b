"""The ``eventsAdded`` subscription: every event newly indexed that matches a filter.

"Added" means added to TrailQL: an old file loaded now is new. Each event comes as an
``EventEdge``, its cursor a position in the order of indexing (indexed time, eventID); a
subscription started ``after`` such a cursor first gets, from Elasticsearch, every matching
event it missed, then the new ones as the process's events feed finds them (``api.live``).
The filter is the same EventFilter as queries, confined to the caller's accounts, and is
matched in-process from the very query Elasticsearch would run (``api.matching``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from itertools import count
from typing import Annotated, Any

import orjson
import strawberry
from elasticsearch import ApiError, AsyncElasticsearch, TransportError

from api.context import Context
from api.errors import ErrorCode, user_error
from api.execution import SHARED_RESULTS
from api.filters import EventFilter, filter_query
from api.limits import FieldCost
from api.live import (
    PAGE_SIZE,
    Feed,
    FeedSettings,
    Item,
    LiveStream,
    Position,
    TooManySubscriptionsError,
)
from api.matching import IndexedEvent, UnsupportedSearchError, compile_query
from api.pagination import EVENT_POSITION, Edge, encode_cursor, resume_after
from api.tenancy import EVERY_ACCOUNT
from api.types import Event
from common.retry import Backoff, transient
from common.writers import HEARTBEAT, PENDING_SINCE, STALE_AFTER_MS, writers_index
from schema import paths, unindexed_field

#: The stream's name, in metrics and logs.
STREAM = "events"
#: The kind of cursor ``eventsAdded`` issues: positions in the order of indexing.
ADDED_ORDER = "added"

_ORDER = [{paths.INDEXED_AT: "asc"}, {paths.EVENT_ID: "asc"}]
_CATCH_UP_BACKOFF = Backoff(0.25, 5.0)


def events_feed(elasticsearch: AsyncElasticsearch, alias: str, settings: FeedSettings) -> Feed:
    """The feed of newly indexed events behind ``alias``.

    Its searches see every account: each subscription is confined to its tenant's accounts
    as it is matched. It looks no further than the indexers' pending stamps allow.
    """
    # The feed retries a failed poll itself at its next interval: no client-side retries,
    # which back off for seconds while an index that was just created starts its shards.
    once = elasticsearch.options(max_retries=0)

    async def search_every_account(**request: Any) -> Any:
        return await Context(once, alias, EVERY_ACCOUNT).search(**request)

    def view(hit: dict[str, Any]) -> IndexedEvent:
        return IndexedEvent(hit["_source"], unindexed_field(alias, hit["_index"]))

    return Feed(
        STREAM,
        search_every_account,
        time_field=paths.INDEXED_AT,
        id_field=paths.EVENT_ID,
        view=view,
        settings=settings,
        pending=writers_pending(elasticsearch, alias),
    )


def writers_pending(
    elasticsearch: AsyncElasticsearch, alias: str, clock: Callable[[], float] = time.time
) -> Callable[[], Awaitable[int | None]]:
    """The earliest indexed time a running indexer still has on its way (``common.writers``)."""
    index = writers_index(alias)
    once = elasticsearch.options(max_retries=0)

    async def pending() -> int | None:
        alive = int(clock() * 1000) - STALE_AFTER_MS
        response = await once.search(
            index=index,
            query={
                "bool": {
                    "filter": [
                        {"range": {HEARTBEAT: {"gte": alive}}},
                        {"exists": {"field": PENDING_SINCE}},
                    ]
                }
            },
            sort=[{PENDING_SINCE: "asc"}],
            size=1,
            source={"includes": [PENDING_SINCE]},
            ignore_unavailable=True,
            allow_no_indices=True,
        )
        hits = response["hits"]["hits"]
        return int(hits[0]["_source"][PENDING_SINCE]) if hits else None

    return pending


def _edge(item: Item) -> Edge[Any]:
    """The payload of one event, shared by every subscription it goes to."""
    edge = Edge(cursor=encode_cursor(ADDED_ORDER, list(item.position)), node=item.source)
    setattr(edge, SHARED_RESULTS, {})
    return edge


async def _catch_up(
    context: Context, query: dict[str, Any], after: Position, upto: Position
) -> list[Item]:
    """The next page of matching events after ``after``, up to ``upto``, from Elasticsearch.

    Elasticsearch unavailable for a moment (an index just created starting its shards) is
    waited out: the subscription is not ended for it.
    """
    bounds = {"gte": after[0], "lte": upto[0], "format": "epoch_millis"}
    confined = {"bool": {"filter": [query, {"range": {paths.INDEXED_AT: bounds}}]}}
    # A long-lived context: no tally of searches; and retries are this loop's.
    once = dataclasses.replace(
        context, elasticsearch=context.elasticsearch.options(max_retries=0), search_took_ms=[]
    )
    for attempt in count():
        try:
            response = await once.search(
                query=confined,
                sort=_ORDER,
                search_after=list(after),
                size=PAGE_SIZE,
                track_total_hits=False,
            )
            break
        except (ApiError, TransportError) as exc:
            if not transient(exc):
                raise
            await asyncio.sleep(_CATCH_UP_BACKOFF.delay(attempt))
    items = []
    for hit in response["hits"]["hits"]:
        position: Position = (int(hit["sort"][0]), str(hit["sort"][1]))
        if position > upto:
            break
        items.append(Item(position, hit["_source"], None))
    return items


async def _events_added(
    info: strawberry.Info[Context, None],
    filter: Annotated[  # noqa: A002  GraphQL's own name
        EventFilter | None,
        strawberry.argument(description="Which events: the same filter as `events`."),
    ] = None,
    after: Annotated[
        str | None,
        strawberry.argument(
            description=(
                "A cursor eventsAdded sent: first every matching event added since it (as "
                "far back as the indices keep), then the new ones. Without it: from now on."
            )
        ),
    ] = None,
) -> AsyncIterator[Edge[Any]]:
    context = info.context
    if context.live is None or context.connection is None:
        raise user_error(ErrorCode.BAD_REQUEST, "subscriptions are served over WebSocket.")
    query = filter_query(filter, context.limits)
    try:
        predicate = compile_query(context.tenant.restrict(query))
    except UnsupportedSearchError as exc:
        raise user_error(
            ErrorCode.BAD_USER_INPUT,
            f"`search`: {exc}; eventsAdded cannot match that as events arrive: leave ~ out.",
        ) from None
    start: Position | None = None
    resumed = resume_after(after, ADDED_ORDER, EVENT_POSITION)
    if resumed is not None:
        start = (int(resumed[0]), str(resumed[1]))
    try:
        release = context.live.admit(context.tenant.name, context.connection)
    except TooManySubscriptionsError as exc:
        raise user_error(ErrorCode.RATE_LIMITED, str(exc)) from None
    connection = context.connection

    async def catch_up(last: Position, upto: Position) -> list[Item]:
        return await _catch_up(context, query, last, upto)

    return LiveStream(
        context.live.feeds[STREAM],
        (context.tenant.accounts, orjson.dumps(query, option=orjson.OPT_SORT_KEYS)),
        predicate,
        after=start,
        catch_up=catch_up,
        render=_edge,
        on_overflow=lambda: connection.cut_off(
            f"too slow: more than {context.live.feeds[STREAM].settings.capacity:,} events "
            "waiting unread; reconnect with your last cursor"
            if context.live is not None
            else "too slow"
        ),
        release=release,
    )


#: What the fields of this area cost (api/limits.py): catching up searches.
FIELD_COSTS = {"eventsAdded": FieldCost(searches=True)}


@strawberry.type
class EventSubscriptions:
    """Events as they are added."""

    events_added: AsyncIterator[Edge[Any]] = strawberry.subscription(
        resolver=_events_added,
        graphql_type=Edge[Event],
        description=(
            "Every event newly indexed (an old file loaded now included) that matches "
            "`filter`, as it is added, each with its cursor. Pass the last cursor received "
            "as `after` to get exactly what was added since, then the new ones."
        ),
    )
