"""The events feed on its own, on a real Elasticsearch: what it notices and what it waits for."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from elasticsearch import Elasticsearch
from prometheus_client import REGISTRY

from api.live import Feed, FeedSettings, Subscriber
from api.live_events import events_feed
from common.elastic import Connection, async_client
from indexer.indices import install_template
from indexer.watermark import Watermark


def _late() -> float:
    return REGISTRY.get_sample_value("trailql_live_late_events_total", {"stream": "events"}) or 0.0


def _raw_event(es: Elasticsearch, alias: str, event_id: str, indexed_at: int) -> None:
    """An event written as no TrailQL indexer writes it: stamped, but with no watermark."""
    record = {"eventID": event_id, "eventTime": "2025-03-01T00:00:00Z", "eventName": "x"}
    document = {**record, "trailql": {"text": "x", "indexedAt": indexed_at}}
    es.index(index=f"{alias}-2025.03", id=event_id, document=document, refresh=True)


async def _until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(60):  # a hang guard
        while not condition():  # noqa: ASYNC110  the feed is looked at from outside
            await asyncio.sleep(0.05)


def _feed(connection: Connection, alias: str, **settings: Any) -> tuple[Feed, Any]:
    client = async_client(connection)
    return events_feed(client, alias, FeedSettings(interval=0.05, **settings)), client


def test_an_event_that_turns_up_behind_the_frontier_is_counted_as_late(
    es: Elasticsearch, es_connection, alias
):
    install_template(es, alias)
    _raw_event(es, alias, "first", time.time_ns() // 1_000_000)

    async def scenario() -> tuple[float, list[str]]:
        feed, client = _feed(es_connection, alias, late_check=0.1)
        late_before = _late()
        received: list[str] = []
        running = asyncio.create_task(feed.run())
        try:
            start = await feed.current()
            subscriber = feed.subscribe("all", lambda _: True, start, lambda: None)
            # Within the first whole second the feed counts, and behind where it will be.
            stamp = (start[0] // 1000 + 1) * 1000 + 500
            await _until(lambda: feed.frontier[0] > stamp + 2_000)
            _raw_event(es, alias, "late", stamp)
            await _until(lambda: _late() > late_before)
            received.extend(item.source["eventID"] for item in _drain(subscriber))
            return _late() - late_before, received
        finally:
            running.cancel()
            await client.close()

    late, received = asyncio.run(scenario())
    assert late == 1
    assert "late" not in received


def _drain(subscriber: Subscriber) -> list[Any]:
    items = []
    while subscriber.waiting:
        items.append(subscriber._items.popleft())
    return items


def test_the_feed_waits_for_a_pipeline_still_sending(es: Elasticsearch, es_connection, alias):
    install_template(es, alias)

    async def scenario() -> tuple[int, int, int]:
        feed, client = _feed(es_connection, alias, settle=0.0)  # the clock alone: no wait
        try:
            with Watermark(es, alias, settle_every=3600) as watermark:
                _, stamp = await asyncio.to_thread(watermark.stamp, b"")
                # While the request stamped so is on its way, the feed stops short of it.
                waiting = await feed.horizon()
                watermark.done(stamp)
                await asyncio.to_thread(watermark.settle)
                settled = await feed.horizon()
            return stamp, waiting, settled
        finally:
            await client.close()

    stamp, waiting, settled = asyncio.run(scenario())
    assert waiting < stamp <= settled
