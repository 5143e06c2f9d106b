"""Live subscriptions: what is newly indexed, found once per process and fanned out in-process.

One :class:`Feed` per stream (events; findings when detections exist) asks Elasticsearch what
is new every ``interval``, whatever the number of subscribers: a ``search_after`` in the
order of (indexed time, id) from its *frontier*, the position of the last item it handed out.
Each new item is matched against every subscription's filter here (``api.matching``), and
appended to the bounded queue of each subscription it matches; one predicate serves all the
subscriptions that asked the same thing. No subscriber costs Elasticsearch anything but the
catching up it asks for.

**Order, and how far the feed looks.** Items are handed out in position order and a position
is never handed out twice, so a cursor resumes exactly: what follows it is what the client
has not had. That holds only if nothing can appear *behind* the frontier later. The indexer
stamps each ``_bulk`` request as it sends it, and its events become searchable at the first
refresh after Elasticsearch answers: a request can take seconds (the first event of a month
creates its index; a busy cluster queues writes), so one stamped early may show after one
stamped later. A fixed delay would have to be as long as the slowest request ever (seconds,
then every event late by as much) and would still be a guess. So the feed looks no further
than ``horizon``: ``settle`` behind the clock (the clock difference between hosts), and
before the earliest stamp any running indexer still has on its way (``pending``, which each
indexing pipeline publishes: ``indexer.watermark``). Everything at or before the horizon is
searchable, and nothing stamped at or before it can turn up afterwards. A point-in-time view
would not do it: it fixes what one search sees, not what a refresh has yet to show. Should an
item turn up behind the frontier anyway (an indexer that died mid-request, a writer other
than TrailQL's indexer, clocks further apart than ``settle``), a periodic count behind the
frontier notices, logs it and counts it in ``trailql_live_late_events_total``.

**Bounded memory.** A subscription's queue holds at most ``capacity`` items. The feed hands
out a burst (a large file loaded at once) half a queue at a time, and before the next half
waits for every queue to have room again; a client that stops reading blocks its socket,
its queue stays full, and after ``grace`` seconds it is cut off (``on_overflow``, which
closes the connection with a reason) rather than holding the process's memory or everyone
else's events: it can reconnect and resume from its last cursor.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from itertools import count
from typing import Any, Protocol

from elasticsearch import ApiError, TransportError

from common.metrics import (
    LIVE_EVENTS_PUSHED,
    LIVE_LAG_SECONDS,
    LIVE_LATE_EVENTS,
    LIVE_POLL_SECONDS,
    LIVE_SUBSCRIPTIONS,
)
from common.retry import Backoff, transient

logger = logging.getLogger("trailql.api.live")

#: Where an item stands: its indexed time (epoch milliseconds) and its id.
Position = tuple[int, str]
#: One Elasticsearch search: the request's keys in, the response out.
Search = Callable[..., Awaitable[Any]]
#: Whether a subscription wants an item (given the item's view).
Predicate = Callable[[Any], bool]

#: Items asked for per search, when polling and when catching up.
PAGE_SIZE = 500
#: How long the feed waits after Elasticsearch failed, at most.
_MAX_BACKOFF_SECONDS = 5.0
#: How often a burst looks whether the queues have room again.
_ROOM_CHECK_SECONDS = 0.02
#: How far behind the frontier the late-item count looks.
_LATE_WINDOW_MS = 60_000


class LiveConnection(Protocol):
    """The connection subscriptions run on (``api.websocket``), as the live feeds see it."""

    #: Subscriptions open on this connection.
    live_subscriptions: int

    def cut_off(self, reason: str) -> None:
        """Close the connection because it cannot keep up; ``reason`` says so to the client."""


class TooManySubscriptionsError(Exception):
    """One more subscription would pass a limit; the message names it and its setting."""


class SlowSubscriberError(Exception):
    """The subscriber fell ``capacity`` items behind and was cut off."""


class FeedStoppedError(Exception):
    """The feed stopped (the process is shutting down)."""


@dataclass(frozen=True, slots=True)
class Item:
    """One new document: where it stands, what clients read, and what filters look at.

    ``rendered`` keeps what each rendering made of it, so the subscriptions it goes to
    share one payload (and the results computed from it: ``api.execution``).
    """

    position: Position
    source: dict[str, Any]
    view: Any
    rendered: dict[Any, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FeedSettings:
    """How often a feed polls, how far behind now it looks, and how much it queues."""

    interval: float = 0.25
    settle: float = 1.0
    capacity: int = 1_000
    #: How long a burst waits for a subscriber's queue to have room before cutting it off.
    grace: float = 5.0
    #: How often the items indexed in the last minute behind the frontier are counted.
    late_check: float = 10.0

    @property
    def page_size(self) -> int:
        """Items handed out at once: half a queue, so a reader keeping up never overflows."""
        return max(1, min(PAGE_SIZE, self.capacity // 2))


class Subscriber:
    """One subscription's end of a feed: the items it wants, queued until it reads them."""

    __slots__ = ("_after", "_failure", "_items", "_on_overflow", "_wake", "capacity", "key")

    @property
    def waiting(self) -> int:
        """Items queued and not yet read."""
        return len(self._items)

    def __init__(
        self,
        key: Hashable,
        after: Position,
        capacity: int,
        on_overflow: Callable[[], None],
    ) -> None:
        self.key = key
        self.capacity = capacity
        self._after = after
        self._items: deque[Item] = deque()
        self._wake = asyncio.Event()
        self._failure: Exception | None = None
        self._on_overflow = on_overflow

    def offer(self, item: Item) -> bool:
        """Queue a matching item; False when the queue is full and the subscriber is cut off."""
        if item.position <= self._after:
            return True  # it came here already ahead of this process's feed
        if len(self._items) >= self.capacity:
            self.cut_off()
            return False
        self._items.append(item)
        self._wake.set()
        return True

    def cut_off(self) -> None:
        """End a subscriber too slow to keep its queue from filling; its client is told."""
        self.fail(SlowSubscriberError(f"more than {self.capacity:,} events waiting unread"))
        self._on_overflow()

    def fail(self, failure: Exception) -> None:
        """End the subscription: :meth:`next` raises ``failure`` once what is queued is read."""
        self._failure = failure
        self._items.clear()
        self._wake.set()

    async def next(self) -> Item:
        """The next item, waiting for one."""
        while not self._items:
            if self._failure is not None:
                raise self._failure
            self._wake.clear()
            await self._wake.wait()
        return self._items.popleft()


class _Group:
    """Subscriptions that asked the same thing: one predicate, matched once per item."""

    __slots__ = ("predicate", "subscribers")

    def __init__(self, predicate: Predicate) -> None:
        self.predicate = predicate
        self.subscribers: list[Subscriber] = []


class Feed:
    """One stream's poller: its frontier, its subscribers, its searches.

    ``search`` searches the stream's index (every account: tenants are filtered per
    subscription); ``time_field`` and ``id_field`` order it; ``view`` turns a hit into what
    predicates read.
    """

    def __init__(
        self,
        name: str,
        search: Search,
        *,
        time_field: str,
        id_field: str,
        view: Callable[[dict[str, Any]], Any],
        settings: FeedSettings,
        pending: Callable[[], Awaitable[int | None]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.settings = settings
        self._search = search
        self._time_field = time_field
        self._id_field = id_field
        self._view = view
        self._pending = pending
        self._clock = clock
        self._groups: dict[Hashable, _Group] = {}
        self._count = 0
        self.frontier: Position = (0, "")
        self._wake = asyncio.Event()
        self._stopped = False
        self._delivered_by_second: dict[int, int] = {}
        self._late_checked = 0.0
        #: Items are counted per second from here on (while the feed is polling).
        self._counted_from = 0

    @property
    def subscribers(self) -> int:
        """How many subscriptions this feed serves."""
        return self._count

    async def current(self) -> Position:
        """The frontier as it stands now: while nobody listens, it follows the horizon."""
        if not self._groups:
            self.frontier = max(self.frontier, (await self.horizon(), ""))
            if not self._groups:
                self._counted_from = self.frontier[0] // 1000 + 1
                self._delivered_by_second.clear()
        return self.frontier

    async def horizon(self) -> int:
        """How far the feed may look: everything indexed at or before it is searchable.

        ``settle`` behind the clock, and before the earliest indexed time a writer still
        has on its way (``pending``).
        """
        horizon = int((self._clock() - self.settings.settle) * 1000)
        pending = await self._pending() if self._pending is not None else None
        return horizon if pending is None else min(horizon, pending - 1)

    def subscribe(
        self,
        key: Hashable,
        predicate: Predicate,
        after: Position,
        on_overflow: Callable[[], None],
    ) -> Subscriber:
        """A new subscriber, handed every item after ``after`` that ``predicate`` accepts.

        Synchronous: between reading :attr:`frontier` and subscribing, no poll can run, so
        a subscriber caught up to the frontier misses nothing.
        """
        if self._stopped:
            raise FeedStoppedError(f"the {self.name} feed has stopped")
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group(predicate)
        subscriber = Subscriber(key, after, self.settings.capacity, on_overflow)
        group.subscribers.append(subscriber)
        self._count += 1
        LIVE_SUBSCRIPTIONS.labels(stream=self.name).inc()
        self._wake.set()
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Stop handing items to ``subscriber`` (once; later calls do nothing)."""
        group = self._groups.get(subscriber.key)
        if group is None or subscriber not in group.subscribers:
            return
        group.subscribers.remove(subscriber)
        if not group.subscribers:
            del self._groups[subscriber.key]
        self._count -= 1
        LIVE_SUBSCRIPTIONS.labels(stream=self.name).dec()

    async def run(self) -> None:
        """Poll until cancelled; an Elasticsearch outage is waited out, subscribers kept."""
        failures = 0
        while True:
            if not self._groups:
                self._wake.clear()
                await self._wake.wait()  # nobody listens: no searches at all
                continue
            try:
                await self.poll()
                await self._check_late()
            except Exception as exc:
                if not transient(exc):
                    logger.exception("the %s feed failed to poll", self.name)
                else:
                    logger.warning("the %s feed cannot reach Elasticsearch: %s", self.name, exc)
                failures += 1
            else:
                failures = 0
            pause = self.settings.interval * (2 ** min(failures, 5))
            await asyncio.sleep(min(pause, max(_MAX_BACKOFF_SECONDS, self.settings.interval)))

    def stop(self) -> None:
        """End every subscription (the process is stopping)."""
        self._stopped = True
        for group in list(self._groups.values()):
            for subscriber in list(group.subscribers):
                subscriber.fail(FeedStoppedError("the server is shutting down"))
                self.unsubscribe(subscriber)

    async def poll(self) -> int:
        """Hand out everything new up to the horizon; how many items were found."""
        started = time.perf_counter()
        horizon = await self.horizon()
        found = 0
        size = self.settings.page_size
        try:
            while True:
                hits = await self._page(self.frontier, horizon, size)
                for hit in hits:
                    self._hand_out(hit)
                found += len(hits)
                if len(hits) < size:
                    break
                await self._room_for(size)
        finally:
            LIVE_POLL_SECONDS.labels(stream=self.name).observe(time.perf_counter() - started)
        # Nothing at or before the horizon is left: later items are stamped after it.
        self.frontier = max(self.frontier, (horizon, ""))
        return found

    async def _room_for(self, size: int) -> None:
        """Wait until every queue has room for ``size`` more; cut off those still full later."""
        deadline = time.monotonic() + self.settings.grace
        most = self.settings.capacity - size
        while True:
            full = [
                subscriber
                for group in self._groups.values()
                for subscriber in group.subscribers
                if subscriber.waiting > most
            ]
            if not full:
                return
            if time.monotonic() >= deadline:
                for subscriber in full:
                    subscriber.cut_off()
                    self.unsubscribe(subscriber)
                return
            await asyncio.sleep(_ROOM_CHECK_SECONDS)

    async def _page(self, after: Position, horizon: int, size: int) -> list[dict[str, Any]]:
        bounds = {"gte": after[0], "lte": horizon, "format": "epoch_millis"}
        response = await self._search(
            query={"range": {self._time_field: bounds}},
            sort=[{self._time_field: "asc"}, {self._id_field: "asc"}],
            search_after=list(after),
            size=size,
            track_total_hits=False,
        )
        hits: list[dict[str, Any]] = response["hits"]["hits"]
        return hits

    def _hand_out(self, hit: dict[str, Any]) -> None:
        milliseconds, identifier = hit["sort"]
        position: Position = (int(milliseconds), str(identifier))
        self.frontier = position
        second = position[0] // 1000
        self._delivered_by_second[second] = self._delivered_by_second.get(second, 0) + 1
        LIVE_LAG_SECONDS.labels(stream=self.name).observe(
            max(0.0, self._clock() - position[0] / 1000)
        )
        item = Item(position, hit["_source"], self._view(hit))
        for group in list(self._groups.values()):
            try:
                wanted = group.predicate(item.view)
            except Exception as exc:  # a bug in matching: end these subscriptions, loudly
                logger.exception("matching an item of the %s feed failed", self.name)
                for subscriber in list(group.subscribers):
                    subscriber.fail(exc)
                    self.unsubscribe(subscriber)
                continue
            if wanted:
                for subscriber in list(group.subscribers):
                    if not subscriber.offer(item):
                        self.unsubscribe(subscriber)

    async def _check_late(self) -> None:
        """Count items that became searchable behind the frontier: a settle too short.

        Every few seconds, the count of items indexed in the last minute behind the
        frontier is compared with how many this feed handed out from that span.
        """
        now = time.monotonic()
        if now - self._late_checked < self.settings.late_check:
            return
        self._late_checked = now
        end_second = self.frontier[0] // 1000  # whole seconds before the frontier's
        start_second = max(end_second - _LATE_WINDOW_MS // 1000, self._counted_from)
        for second in [s for s in self._delivered_by_second if s < start_second]:
            del self._delivered_by_second[second]
        if start_second >= end_second:
            return
        bounds = {"gte": start_second * 1000, "lt": end_second * 1000, "format": "epoch_millis"}
        response = await self._search(
            query={"range": {self._time_field: bounds}},
            size=0,
            track_total_hits=False,
            aggs={
                "seconds": {
                    "date_histogram": {
                        "field": self._time_field,
                        "fixed_interval": "1s",
                        "min_doc_count": 1,
                    }
                }
            },
        )
        buckets = response.get("aggregations", {}).get("seconds", {}).get("buckets", [])
        for bucket in buckets:  # none at all when no index is there yet
            second = int(bucket["key"]) // 1000
            late = int(bucket["doc_count"]) - self._delivered_by_second.get(second, 0)
            if late > 0 and second >= start_second:
                LIVE_LATE_EVENTS.labels(stream=self.name).inc(late)
                logger.warning(
                    "%d %s item(s) indexed at second %d became searchable after the feed had "
                    "passed them: raise TRAILQL_LIVE_SETTLE (now %g s)",
                    late,
                    self.name,
                    second,
                    self.settings.settle,
                )
                self._delivered_by_second[second] = int(bucket["doc_count"])


#: Catching up: the items after a position up to another (inclusive), a page at a time.
CatchUp = Callable[[Position, Position], Awaitable[list[Item]]]

_CATCH_UP_BACKOFF = Backoff(0.25, 5.0)


async def catch_up_page(
    search: Search,
    query: dict[str, Any],
    *,
    time_field: str,
    id_field: str,
    after: Position,
    upto: Position,
) -> list[Item]:
    """The next page of items ``query`` matches after ``after``, up to ``upto``.

    ``search`` confines it to the subscriber's tenant. Elasticsearch unavailable for a moment
    (an index just created starting its shards) is waited out: the subscription is not ended
    for it.
    """
    bounds = {"gte": after[0], "lte": upto[0], "format": "epoch_millis"}
    confined = {"bool": {"filter": [query, {"range": {time_field: bounds}}]}}
    for attempt in count():
        try:
            response = await search(
                query=confined,
                sort=[{time_field: "asc"}, {id_field: "asc"}],
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


class LiveStream:
    """One subscription's items: first those it missed (from Elasticsearch), then new ones.

    An async iterator of ``render(item)``. Closing it (``aclose``) unsubscribes and calls
    ``release`` once, however far it got.
    """

    def __init__(
        self,
        feed: Feed,
        key: Hashable,
        predicate: Predicate,
        *,
        after: Position | None,
        catch_up: CatchUp,
        render: Callable[[Item], Any],
        on_overflow: Callable[[], None],
        release: Callable[[], None],
    ) -> None:
        self._feed = feed
        self._key = key
        self._predicate = predicate
        self._after = after
        self._catch_up = catch_up
        self._render = render
        self._on_overflow = on_overflow
        self._release: Callable[[], None] | None = release
        self._subscriber: Subscriber | None = None
        self._items: AsyncIterator[Item] = self._generate()
        self._pushed = LIVE_EVENTS_PUSHED.labels(stream=feed.name)

    def __aiter__(self) -> LiveStream:
        return self

    async def __anext__(self) -> Any:
        item = await self._items.__anext__()
        self._pushed.inc()
        rendered = item.rendered.get(self._render)
        if rendered is None:
            rendered = item.rendered[self._render] = self._render(item)
        return rendered

    async def aclose(self) -> None:
        """Stop: unsubscribe, and give back what the subscription held."""
        try:
            await self._items.aclose()  # type: ignore[attr-defined]
        finally:
            if self._subscriber is not None:
                self._feed.unsubscribe(self._subscriber)
            release, self._release = self._release, None
            if release is not None:
                release()

    async def _generate(self) -> AsyncIterator[Item]:
        last = self._after
        while last is not None and last < await self._feed.current():
            frontier = self._feed.frontier
            page = await self._catch_up(last, frontier)
            for item in page:
                yield item
                last = item.position
            if len(page) < PAGE_SIZE:
                last = max(last, frontier)
        start = last if last is not None else await self._feed.current()
        self._subscriber = self._feed.subscribe(
            self._key, self._predicate, start, self._on_overflow
        )
        while True:
            yield await self._subscriber.next()


class LiveHub:
    """This process's feeds, run while the application runs, and the subscription limits."""

    def __init__(self, feeds: dict[str, Feed], *, per_connection: int, per_credential: int) -> None:
        self.feeds = feeds
        self._per_connection = per_connection
        self._per_credential = per_credential
        self._by_credential: dict[str, int] = {}
        self._tasks: list[asyncio.Task[None]] = []

    def admit(self, credential: str, connection: LiveConnection) -> Callable[[], None]:
        """Count one more subscription; the function that gives it back (once). 0: no limit.

        Raises:
            TooManySubscriptionsError: the connection or the credential is at its limit.
        """
        if 0 < self._per_connection <= connection.live_subscriptions:
            raise TooManySubscriptionsError(
                f"at most {self._per_connection} subscriptions per connection "
                "(TRAILQL_LIVE_MAX_SUBSCRIPTIONS_PER_CONNECTION); complete one first."
            )
        held = self._by_credential.get(credential, 0)
        if 0 < self._per_credential <= held:
            raise TooManySubscriptionsError(
                f"at most {self._per_credential} subscriptions per credential at once "
                "(TRAILQL_LIVE_MAX_SUBSCRIPTIONS_PER_CREDENTIAL); complete one first."
            )
        connection.live_subscriptions += 1
        self._by_credential[credential] = held + 1
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            connection.live_subscriptions -= 1
            left = self._by_credential[credential] - 1
            if left:
                self._by_credential[credential] = left
            else:
                del self._by_credential[credential]

        return release

    def start(self) -> None:
        """Run every feed (from the application's lifespan)."""
        self._tasks = [
            asyncio.create_task(feed.run(), name=f"live-{name}")
            for name, feed in self.feeds.items()
        ]

    async def stop(self) -> None:
        """Stop the feeds and end their subscriptions."""
        for feed in self.feeds.values():
            feed.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
