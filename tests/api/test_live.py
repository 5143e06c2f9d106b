"""Live subscriptions end to end: a real WebSocket client, the API under uvicorn, a real
Elasticsearch, and trail files indexed while the client listens.

Expected events come from the files themselves (read with the standard library). Events are
handed out in the order they were indexed, so each test indexes a *sentinel* last, an event
of its own that the filter matches: once it arrives, everything indexed before it has
arrived, and what arrived can be compared exactly, with no waiting for "nothing more".
"""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch
from starlette.applications import Starlette

from api.app import create_app
from api.settings import ApiSettings
from bench.api_server import in_thread
from common.elastic import Connection
from generator import DEFAULT_START, generate
from indexer.run import index_sources
from tests.api.credentials import api_key
from tests.api.live_client import EVENTS_ADDED, LEGACY, Received, StalledClient, connect
from tests.samples import records_of

Record = dict[str, Any]
#: The generator's three accounts: one tenant sees the first, the other the two others.
ALPHA_ACCOUNT = "234567890123"
BETA_ACCOUNTS = ("345678901234", "123456789012")


@dataclass(frozen=True)
class Served:
    """The API over one alias under uvicorn: its URL, and the app (to see its feed)."""

    url: str
    app: Starlette

    @property
    def subscribers(self) -> int:
        return int(self.app.state.live.feeds["events"].subscribers)


@contextmanager
def serving(connection: Connection, alias: str, **settings: Any) -> Iterator[Served]:
    options = {"auth_disabled": True, **settings}
    app = create_app(connection, alias, ApiSettings(**options))
    with in_thread(app) as url:
        yield Served(f"{url}/graphql", app)


def trail(folder: Path, *, events: int, seed: int, days_later: int = 0) -> list[Record]:
    """Generated trail files under ``folder``, and their records as the files hold them."""
    generate(folder, events=events, seed=seed, start=DEFAULT_START + timedelta(days=days_later))
    return [r for path in sorted(folder.rglob("*.json.gz")) for r in records_of(path)]


def sentinel(folder: Path, like: Record, **changes: Any) -> str:
    """A file of one new event, like ``like``; its eventID."""
    event_id = f"sentinel-{uuid.uuid4()}"
    folder.mkdir(parents=True, exist_ok=True)
    record = {**like, "eventID": event_id, **changes}
    with gzip.open(folder / f"{event_id}.json.gz", "wt") as handle:
        json.dump({"Records": [record]}, handle)
    return event_id


async def index(es: Elasticsearch, alias: str, folder: Path) -> None:
    """``trailql index`` on a folder, on a thread of its own (the client keeps listening)."""
    summary = await asyncio.to_thread(index_sources, [str(folder)], client=es, alias=alias)
    assert summary.clean, summary


async def until_subscribed(served: Served, count: int) -> None:
    """Until the feed serves ``count`` subscriptions (a hang guard bounds it)."""
    async with asyncio.timeout(30):
        while served.subscribers < count:  # noqa: ASYNC110  the feed is looked at from outside
            await asyncio.sleep(0.02)


def arrived(operation: str, event_id: str) -> Callable[[dict[str, Received]], bool]:
    return lambda received: event_id in received.get(operation, Received()).ids


def before(ids: list[str], event_id: str) -> list[str]:
    assert ids[-1] == event_id
    return ids[:-1]


def test_a_subscription_receives_exactly_the_matching_events_as_they_are_indexed(
    es, es_connection, alias, tmp_path
):
    records = trail(tmp_path / "trail", events=400, seed=31)
    event_filter = {"eventSource": ["logs.amazonaws.com"], "readOnly": False}
    expected = {r["eventID"] for r in records if r["readOnly"] is False}
    assert 0 < len(expected) < len(records)
    writes = next(r for r in records if r["readOnly"] is False)
    last = sentinel(tmp_path / "last", writes)

    async def scenario(served: Served) -> Received:
        async with connect(served.url) as client:
            assert (await client.init())["type"] == "connection_ack"
            await client.subscribe("1", filter=event_filter)
            await until_subscribed(served, 1)
            await index(es, alias, tmp_path / "trail")
            await index(es, alias, tmp_path / "last")
            received = await client.collect(arrived("1", last), {})
        return received["1"]

    with serving(es_connection, alias) as served:
        received = asyncio.run(scenario(served))
    assert received.errors == []
    ids = before(received.ids, last)
    assert len(ids) == len(set(ids))
    assert set(ids) == expected


def test_a_client_that_reconnects_with_its_last_cursor_gets_exactly_what_it_missed(
    es, es_connection, alias, tmp_path
):
    first = trail(tmp_path / "first", events=300, seed=41)
    second = trail(tmp_path / "second", events=200, seed=42, days_later=20)
    everything = {r["eventID"] for r in first + second}
    assert len(everything) == len(first) + len(second)
    last = sentinel(tmp_path / "last", second[0])

    async def scenario(served: Served) -> tuple[list[str], list[str]]:
        async with connect(served.url) as client:
            await client.init()
            await client.subscribe("1")
            await until_subscribed(served, 1)
            indexing = asyncio.create_task(index(es, alias, tmp_path / "first"))
            # Mid-stream: 50 events in, the connection drops.
            early = await client.collect(lambda r: len(r.get("1", Received()).edges) >= 50, {})
            client.connection.transport.abort()
        await indexing
        await index(es, alias, tmp_path / "second")
        async with connect(served.url) as client:
            await client.init()
            # Resumed from a cursor, nothing is missed whenever indexing happens: no wait.
            await client.subscribe("2", after=early["1"].last_cursor)
            indexing = asyncio.create_task(index(es, alias, tmp_path / "last"))
            resumed = await client.collect(arrived("2", last), {})
            await indexing
        return early["1"].ids, before(resumed["2"].ids, last)

    with serving(es_connection, alias) as served:
        early, resumed = asyncio.run(scenario(served))
    assert len(early) >= 50
    assert not set(early) & set(resumed)
    assert len(resumed) == len(set(resumed))
    assert set(early) | set(resumed) == everything


def test_two_tenants_never_see_each_others_events(es, es_connection, alias, tmp_path):
    records = trail(tmp_path / "trail", events=400, seed=51)
    alpha_key, alpha_line = api_key("alpha", ALPHA_ACCOUNT)
    beta_key, beta_line = api_key("beta", *BETA_ACCOUNTS)
    alpha_last = sentinel(tmp_path / "last", records[0], recipientAccountId=ALPHA_ACCOUNT)
    beta_last = sentinel(tmp_path / "last", records[0], recipientAccountId=BETA_ACCOUNTS[0])
    expected = {
        "alpha": {r["eventID"] for r in records if r["recipientAccountId"] == ALPHA_ACCOUNT},
        "beta": {r["eventID"] for r in records if r["recipientAccountId"] in BETA_ACCOUNTS},
    }
    assert expected["alpha"]
    assert expected["beta"]

    async def scenario(served: Served) -> dict[str, list[str]]:
        async with connect(served.url) as alpha, connect(served.url) as beta:
            assert (await alpha.init({"X-API-Key": alpha_key}))["type"] == "connection_ack"
            assert (await beta.init({"x-api-key": beta_key}))["type"] == "connection_ack"
            await alpha.subscribe("a")
            await beta.subscribe("b")
            await until_subscribed(served, 2)
            await index(es, alias, tmp_path / "trail")
            await index(es, alias, tmp_path / "last")
            seen_by_alpha = await alpha.collect(arrived("a", alpha_last), {})
            seen_by_beta = await beta.collect(arrived("b", beta_last), {})
        return {"alpha": seen_by_alpha["a"].ids, "beta": seen_by_beta["b"].ids}

    with serving(
        es_connection, alias, auth_disabled=False, api_keys=f"{alpha_line};{beta_line}"
    ) as served:
        seen = asyncio.run(scenario(served))
    assert set(seen["alpha"]) == expected["alpha"] | {alpha_last}
    assert set(seen["beta"]) == expected["beta"] | {beta_last}


#: A selection that makes each message large (30 copies of the record): the buffers between
#: the server and a client that stops reading fill after a few hundred events.
WHOLE_RECORDS = (
    "subscription { eventsAdded { cursor node { eventID } "
    + " ".join(f"copy{number}: node {{ record }}" for number in range(30))
    + " } }"
)


def test_a_client_that_stops_reading_is_cut_off_while_others_keep_receiving(
    es, es_connection, alias, tmp_path
):
    records = trail(tmp_path / "trail", events=600, seed=61)
    last = sentinel(tmp_path / "last", records[0])

    async def scenario(served: Served) -> tuple[list[str], tuple[int | None, str], int]:
        slow = StalledClient(served.url)
        slow.send(
            {"type": "connection_init", "payload": {}},
            {"id": "slow", "type": "subscribe", "payload": {"query": WHOLE_RECORDS}},
        )
        async with connect(served.url) as reader:
            await reader.init()
            await reader.subscribe("reader", WHOLE_RECORDS)
            await until_subscribed(served, 2)
            reading = asyncio.create_task(reader.collect(arrived("reader", last), {}))
            await index(es, alias, tmp_path / "trail")
            await index(es, alias, tmp_path / "last")
            received = await reading
            subscribers = served.subscribers
        # The slow client reads at last: what was sent before the cut, then the close.
        closed = await asyncio.to_thread(slow.closed)
        return received["reader"].ids, closed, subscribers

    with serving(es_connection, alias, live_queue=40, live_slow_grace=1.0) as served:
        ids, closed, subscribers = asyncio.run(scenario(served))
        metrics = served_metrics(served)
    assert set(before(ids, last)) == {r["eventID"] for r in records}
    assert closed == (
        1013,
        "too slow: more than 40 events waiting unread; reconnect with your last cursor",
    )
    assert subscribers == 1
    assert 'trailql_live_disconnects_total{reason="slow"}' in metrics


def served_metrics(served: Served) -> str:
    """/metrics of the served API (the process's own registry)."""
    with urllib.request.urlopen(served.url.removesuffix("/graphql") + "/metrics") as answer:  # noqa: S310  our loopback URL
        return str(answer.read().decode())


def test_a_client_that_does_not_answer_pings_is_closed_and_one_that_does_stays(
    es, es_connection, alias, tmp_path
):
    records = trail(tmp_path / "trail", events=20, seed=71)
    last = sentinel(tmp_path / "last", records[0])

    async def scenario(served: Served) -> tuple[tuple[int | None, str], list[str]]:
        async with connect(served.url) as silent, connect(served.url) as answering:
            await silent.init()
            await answering.init()
            await answering.subscribe("1")
            await until_subscribed(served, 1)
            # The answering one reads (and pongs) all along; the silent one reads only the
            # close: the pings it gets go unanswered.
            answered = asyncio.create_task(answering.collect(arrived("1", last), {}))
            closed = await silent.closed()
            await index(es, alias, tmp_path / "last")
            received = await answered
        return closed, received["1"].ids

    with serving(es_connection, alias, live_ping_interval=0.3, live_ping_timeout=0.5) as served:
        closed, ids = asyncio.run(scenario(served))
        metrics = served_metrics(served)
    assert closed == (1011, "no pong within 0.5 s of a ping")
    assert ids == [last]
    assert 'trailql_live_disconnects_total{reason="no_pong"}' in metrics


def test_the_legacy_graphql_ws_protocol_delivers_the_same_events(
    es, es_connection, alias, tmp_path
):
    records = trail(tmp_path / "trail", events=150, seed=81)
    event_filter = {"eventName": ["CreateLogGroup", "DeleteLogGroup"]}
    expected = {r["eventID"] for r in records if r["eventName"] in event_filter["eventName"]}
    assert expected
    last = sentinel(tmp_path / "last", records[0], eventName="DeleteLogGroup")

    async def scenario(served: Served) -> Received:
        async with connect(served.url, LEGACY) as client:
            assert (await client.init())["type"] == "connection_ack"
            await client.subscribe("1", filter=event_filter)
            await until_subscribed(served, 1)
            await index(es, alias, tmp_path / "trail")
            await index(es, alias, tmp_path / "last")
            received = await client.collect(arrived("1", last), {})
        return received["1"]

    with serving(es_connection, alias) as served:
        received = asyncio.run(scenario(served))
        metrics = served_metrics(served)
    assert set(before(received.ids, last)) == expected
    assert 'trailql_live_subscriptions{stream="events"} 0.0' in metrics
    pushed = re.search(r'trailql_live_events_pushed_total\{stream="events"\} (\S+)', metrics)
    assert pushed is not None
    assert float(pushed.group(1)) >= len(expected) + 1
    assert 'trailql_live_poll_seconds_count{stream="events"}' in metrics


def test_subscriptions_asking_different_things_of_one_event_each_get_their_own(
    es, es_connection, alias, tmp_path
):
    records = trail(tmp_path / "trail", events=5, seed=91)
    last = sentinel(tmp_path / "last", records[0])
    names = "subscription { eventsAdded { node { eventID eventName } } }"
    times = (
        "subscription($f: EventFilter) { eventsAdded(filter: $f) { node { eventID eventTime } } }"
    )

    async def scenario(served: Served) -> dict[str, list[dict[str, Any]]]:
        async with connect(served.url) as one, connect(served.url) as other:
            await one.init()
            await other.init()
            await one.subscribe("names", names)
            await one.subscribe("ids", EVENTS_ADDED)
            await other.subscribe("times", times, f={"eventName": [last_record["eventName"]]})
            await until_subscribed(served, 3)
            await index(es, alias, tmp_path / "last")
            both = await one.collect(
                lambda r: all(last in r.get(key, Received()).ids for key in ("names", "ids")), {}
            )
            alone = await other.collect(arrived("times", last), {})
        return {
            "names": both["names"].edges,
            "ids": both["ids"].edges,
            "times": alone["times"].edges,
        }

    last_record = records[0]
    with serving(es_connection, alias) as served:
        seen = asyncio.run(scenario(served))
    assert seen["names"] == [{"node": {"eventID": last, "eventName": last_record["eventName"]}}]
    [ids] = seen["ids"]
    assert ids["node"] == {"eventID": last, "recipientAccountId": last_record["recipientAccountId"]}
    when = datetime.fromisoformat(last_record["eventTime"]).isoformat()
    assert seen["times"] == [{"node": {"eventID": last, "eventTime": when}}]
