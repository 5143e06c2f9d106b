"""Measure 8: live subscriptions, on one API process (``trailql serve --workers 1``).

- **Delivery latency**: one subscriber; each round, ``trailql index`` (a process of its own,
  as a person runs it) loads a small file of new events; the clock starts when it returns,
  and stops for each event when it arrives at the client. Negative: it arrived before the
  command had exited.
- **Many subscribers**: ``subscribers`` connections, each with one subscription of every
  event, opened and left idle; then one file of ``events`` is indexed and every subscriber
  must receive all of it.
- **Searches per second**: Elasticsearch's own count of searches on the events indices and
  the writers index, over ``window`` seconds of nothing new, with 1 subscriber and then with
  all of them: the poller's cost does not follow the number of subscribers.
- **Memory per idle subscriber**: the API process's resident memory with all of them open,
  less with one, divided by the difference.

The client is the ``websockets`` library in this process's event loop.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import websockets
from elasticsearch import Elasticsearch
from websockets.asyncio.client import ClientConnection
from websockets.typing import Subprotocol

from bench.api_server import Served, serving
from bench.cluster import Aliases
from bench.datasets import TrailFolder, trail_records
from bench.peak_rss import connection_environment
from bench.stats import percentile
from common.elastic import Connection, sync_client
from common.writers import writers_index

SUBSCRIPTION = "subscription { eventsAdded { cursor node { eventID eventName principal } } }"
#: A guard against a hang, never a measurement.
_HANG_GUARD = 300.0


@dataclass(frozen=True)
class LiveFigures:
    """What measure 8 found."""

    latencies_s: list[float]
    subscribers: int
    events: int
    delivery_seconds: float
    crowd_latency_p50_s: float
    searches_per_second_one: float
    searches_per_second_many: float
    rss_mb_one: float
    rss_mb_many: float

    @property
    def p50(self) -> float:
        """Delivery latency, median."""
        return percentile(self.latencies_s, 0.50)

    @property
    def p95(self) -> float:
        """Delivery latency, 95th percentile."""
        return percentile(self.latencies_s, 0.95)

    @property
    def searches_ratio(self) -> float:
        """Searches per second with every subscriber ÷ with one."""
        return self.searches_per_second_many / max(self.searches_per_second_one, 1e-9)

    @property
    def kib_per_subscriber(self) -> float:
        """Resident memory each idle subscriber adds."""
        return (self.rss_mb_many - self.rss_mb_one) * 1024 / max(self.subscribers - 1, 1)

    @property
    def events_per_second(self) -> float:
        """Events delivered (to every subscriber) per second."""
        return self.events * self.subscribers / self.delivery_seconds

    def as_dict(self) -> dict[str, Any]:
        """For results.json."""
        return {
            "latency_p50_s": round(self.p50, 3),
            "latency_p95_s": round(self.p95, 3),
            "latency_samples": len(self.latencies_s),
            "subscribers": self.subscribers,
            "events": self.events,
            "delivered_events_per_second": round(self.events_per_second),
            "crowd_latency_p50_s": round(self.crowd_latency_p50_s, 3),
            "searches_per_second_one": round(self.searches_per_second_one, 2),
            "searches_per_second_many": round(self.searches_per_second_many, 2),
            "searches_ratio": round(self.searches_ratio, 3),
            "rss_mb_one": round(self.rss_mb_one, 1),
            "rss_mb_many": round(self.rss_mb_many, 1),
            "kib_per_idle_subscriber": round(self.kib_per_subscriber, 1),
        }


class _Subscriber:
    """One connection with one subscription, recording when each event arrives."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.arrivals: dict[str, float] = {}
        self.reading: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, url: str, key: str) -> _Subscriber:
        connection = await websockets.connect(
            url,
            subprotocols=[Subprotocol("graphql-transport-ws")],
            max_size=None,
            open_timeout=_HANG_GUARD,
            ping_interval=None,  # a busy benchmark process answers late: the server pings
        )
        await connection.send(
            json.dumps({"type": "connection_init", "payload": {"x-api-key": key}})
        )
        acknowledged = json.loads(await connection.recv())
        if acknowledged.get("type") != "connection_ack":
            raise RuntimeError(f"the API refused the subscriber: {acknowledged}")
        message = {"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}}
        await connection.send(json.dumps(message))
        subscriber = cls(connection)
        subscriber.reading = asyncio.create_task(subscriber._read())
        return subscriber

    async def _read(self) -> None:
        async for raw in self.connection:
            now = time.perf_counter()
            message = json.loads(raw)
            if message["type"] == "ping":
                await self.connection.send(json.dumps({"type": "pong"}))
            elif message["type"] == "next":
                self.arrivals[message["payload"]["data"]["eventsAdded"]["node"]["eventID"]] = now
            elif message["type"] in {"error", "complete"}:
                raise RuntimeError(f"the subscription ended: {message}")

    async def close(self) -> None:
        if self.reading is not None:
            self.reading.cancel()
        await self.connection.close()


def _write_file(folder: Path, records: list[dict[str, Any]], name: str) -> tuple[Path, list[str]]:
    """A file of ``records`` under new eventIDs (so each round is new to TrailQL)."""
    fresh = [{**record, "eventID": f"live-{uuid.uuid4()}"} for record in records]
    path = folder / f"{name}.json.gz"
    with gzip.open(path, "wt") as handle:
        json.dump({"Records": fresh}, handle)
    return path, [record["eventID"] for record in fresh]


def _index(connection: Connection, alias: str, path: Path) -> float:
    """``trailql index FILE`` in a process of its own; when it returned (perf_counter)."""
    command = [sys.executable, "-m", "trailql", "index", str(path)]
    done = subprocess.run(
        command,
        env=connection_environment(connection, alias),
        capture_output=True,
        check=False,
        timeout=_HANG_GUARD,
    )
    returned = time.perf_counter()
    if done.returncode != 0:
        raise RuntimeError(f"trailql index exited {done.returncode}: {done.stderr[-2000:]!r}")
    return returned


async def _until_arrived(subscribers: list[_Subscriber], ids: list[str]) -> None:
    async with asyncio.timeout(_HANG_GUARD):
        while not all(set(ids) <= sub.arrivals.keys() for sub in subscribers):
            for subscriber in subscribers:
                if subscriber.reading is not None and subscriber.reading.done():
                    subscriber.reading.result()  # a failed subscription fails the measure
            await asyncio.sleep(0.01)


def _searches(client: Elasticsearch, alias: str) -> int:
    """Searches Elasticsearch has run on the events indices and the writers index."""
    stats = client.indices.stats(index=f"{alias},{writers_index(alias)}", metric="search")
    return int(stats["_all"]["total"]["search"]["query_total"])


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


async def _searches_per_second(client: Elasticsearch, alias: str, window: float) -> float:
    before = await asyncio.to_thread(_searches, client, alias)
    started = time.perf_counter()
    await asyncio.sleep(window)
    after = await asyncio.to_thread(_searches, client, alias)
    return (after - before) / (time.perf_counter() - started)


@dataclass(frozen=True)
class LiveSizes:
    """How much measure 8 does."""

    rounds: int
    subscribers: int
    events: int
    window: float


async def _measure(
    connection: Connection,
    alias: str,
    served: Served,
    *,
    key: str,
    trail: TrailFolder,
    sizes: LiveSizes,
) -> LiveFigures:
    url = served.url.replace("http://", "ws://") + "/graphql"
    client = sync_client(connection)
    records = list(trail_records(trail))
    folder = trail.root.parent / f"live-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    one = await _Subscriber.open(url, key)
    crowd: list[_Subscriber] = []
    try:
        # Warm up: the first file creates the monthly index.
        path, ids = _write_file(folder, records[:10], "warm-up")
        await asyncio.to_thread(_index, connection, alias, path)
        await _until_arrived([one], ids)
        latencies: list[float] = []
        for number in range(sizes.rounds):
            path, ids = _write_file(folder, records[number * 10 : number * 10 + 10], f"r{number}")
            returned = await asyncio.to_thread(_index, connection, alias, path)
            await _until_arrived([one], ids)
            latencies += [one.arrivals[event_id] - returned for event_id in ids]
        searches_one = await _searches_per_second(client, alias, sizes.window)
        rss_one = _rss_mb(served.pid)
        for start in range(1, sizes.subscribers, 100):
            batch = range(start, min(start + 100, sizes.subscribers))
            crowd += await asyncio.gather(*(_Subscriber.open(url, key) for _ in batch))
        everyone = [one, *crowd]
        await asyncio.sleep(1.0)  # every subscription registered and idle
        rss_many = _rss_mb(served.pid)
        searches_many = await _searches_per_second(client, alias, sizes.window)
        path, ids = _write_file(folder, records[: sizes.events], "crowd")
        returned = await asyncio.to_thread(_index, connection, alias, path)
        await _until_arrived(everyone, ids)
        last = max(max(sub.arrivals[event_id] for event_id in ids) for sub in everyone)
        crowd_latencies = [
            sub.arrivals[event_id] - returned for sub in everyone for event_id in ids
        ]
        return LiveFigures(
            latencies_s=latencies,
            subscribers=len(everyone),
            events=len(ids),
            delivery_seconds=max(last - returned, 1e-6),
            crowd_latency_p50_s=percentile(crowd_latencies, 0.50),
            searches_per_second_one=searches_one,
            searches_per_second_many=searches_many,
            rss_mb_one=rss_one,
            rss_mb_many=rss_many,
        )
    finally:
        await asyncio.gather(*(sub.close() for sub in [one, *crowd]), return_exceptions=True)
        client.close()


def measure_live(
    connection: Connection,
    aliases: Aliases,
    trail: TrailFolder,
    server_environment: dict[str, str],
    *,
    key: str,
    sizes: LiveSizes,
) -> LiveFigures:
    """Serve the API (one process) over a fresh alias, and measure."""
    alias = aliases.new("live")
    environment = {
        **server_environment,
        "TRAILQL_LIVE_MAX_SUBSCRIPTIONS_PER_CREDENTIAL": "0",
    }
    try:
        with serving(connection, alias, environment, workers=1) as served:
            figures = asyncio.run(
                _measure(connection, alias, served, key=key, trail=trail, sizes=sizes)
            )
    finally:
        aliases.drop(alias)
    print(
        f"  latency p50 {figures.p50:.2f} s, p95 {figures.p95:.2f} s "
        f"({len(figures.latencies_s)} events); {figures.subscribers:,} subscribers: "
        f"{figures.events_per_second:,.0f} events/s delivered, searches/s "
        f"{figures.searches_per_second_one:.1f} -> {figures.searches_per_second_many:.1f}, "
        f"{figures.kib_per_subscriber:,.0f} KiB per idle subscriber",
        flush=True,
    )
    return figures
