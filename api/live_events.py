"""The ``eventsAdded`` subscription: every event newly indexed that matches a filter.

"Added" means added to TrailQL: an old file loaded now is new. Each event comes as an
``EventEdge``, its cursor a position in the order of indexing (indexed time, eventID); a
subscription started ``after`` such a cursor first gets, from Elasticsearch, every matching
event it missed, then the new ones as the process's events feed finds them (``api.live``).
The filter is the same EventFilter as queries, confined to the caller's accounts, and is
matched in-process from the very query Elasticsearch would run (``api.matching``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

import orjson
import strawberry
from elasticsearch import AsyncElasticsearch

from api.context import Context
from api.errors import ErrorCode, user_error
from api.execution import SHARED_RESULTS
from api.filters import EventFilter, filter_query, needs_file_lookup
from api.limits import FieldCost
from api.live import (
    CatchUp,
    Feed,
    FeedSettings,
    Item,
    LiveConnection,
    LiveHub,
    LiveStream,
    Position,
    Predicate,
    TooManySubscriptionsError,
    catch_up_page,
)
from api.matching import IndexedEvent, UnsupportedSearchError, compile_query
from api.pagination import EVENT_POSITION, Edge, encode_cursor, resume_after
from api.tenancy import EVERY_ACCOUNT
from api.types import Event
from common.writers import HEARTBEAT, PENDING_SINCE, STALE_AFTER_MS, writers_index
from schema import paths, unindexed_field

#: The stream's name, in metrics and logs.
STREAM = "events"
#: The kind of cursor ``eventsAdded`` issues: positions in the order of indexing.
ADDED_ORDER = "added"


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
    """The next page of matching events after ``after``, up to ``upto``, from Elasticsearch."""
    # A long-lived context: no tally of searches; and retries are catch_up_page's.
    once = dataclasses.replace(
        context, elasticsearch=context.elasticsearch.options(max_retries=0), search_took_ms=[]
    )
    return await catch_up_page(
        once.search,
        query,
        time_field=paths.INDEXED_AT,
        id_field=paths.EVENT_ID,
        after=after,
        upto=upto,
    )


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
    live, connection = over_websocket(context)
    if needs_file_lookup(filter):
        # A file's verdict lives in the state index and can change after its events arrive
        # (its digest comes later): matching as events arrive cannot know it.
        raise user_error(
            ErrorCode.BAD_USER_INPUT,
            "`logFileIntegrity`: eventsAdded cannot match a trail file's integrity verdict as "
            "events arrive (a file's digest may come later); leave it out, and ask `events` "
            "or `integrity` for it.",
        )
    query = filter_query(filter, context.limits)
    try:
        predicate = compile_query(context.tenant.restrict(query))
    except UnsupportedSearchError as exc:
        raise user_error(
            ErrorCode.BAD_USER_INPUT,
            f"`search`: {exc}; eventsAdded cannot match that as events arrive: leave ~ out.",
        ) from None

    async def catch_up(last: Position, upto: Position) -> list[Item]:
        return await _catch_up(context, query, last, upto)

    return live_stream(
        context,
        live,
        connection,
        stream=STREAM,
        query=query,
        predicate=predicate,
        after=resume_after(after, ADDED_ORDER, EVENT_POSITION),
        catch_up=catch_up,
        render=_edge,
        waiting="events",
    )


def over_websocket(context: Context) -> tuple[LiveHub, LiveConnection]:
    """The process's feeds and the caller's connection: a subscription needs both."""
    if context.live is None or context.connection is None:
        raise user_error(ErrorCode.BAD_REQUEST, "subscriptions are served over WebSocket.")
    return context.live, context.connection


def live_stream(
    context: Context,
    live: LiveHub,
    connection: LiveConnection,
    *,
    stream: str,
    query: dict[str, Any],
    predicate: Predicate,
    after: list[int | str] | None,
    catch_up: CatchUp,
    render: Callable[[Item], Any],
    waiting: str,
) -> LiveStream:
    """A subscription to the feed ``stream``, admitted against the limits on subscriptions.

    It starts at ``after`` (a resumed cursor's position) and is cut off when it reads too
    slowly. Subscriptions of one tenant with the same query share their results (the key).
    """
    start = (int(after[0]), str(after[1])) if after is not None else None
    try:
        release = live.admit(context.tenant.name, connection)
    except TooManySubscriptionsError as exc:
        raise user_error(ErrorCode.RATE_LIMITED, str(exc)) from None
    feed = live.feeds[stream]
    return LiveStream(
        feed,
        (context.tenant.accounts, orjson.dumps(query, option=orjson.OPT_SORT_KEYS)),
        predicate,
        after=start,
        catch_up=catch_up,
        render=render,
        on_overflow=lambda: connection.cut_off(
            f"too slow: more than {feed.settings.capacity:,} {waiting} waiting unread; "
            "reconnect with your last cursor"
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
