"""A page names the monthly indices it reads, and still misses no month created since.

A page's search names the months its time range covers instead of the alias, so that
Elasticsearch asks one shard in one round (api/slices.py). The months behind the alias are
remembered for a minute; these tests add a month in the middle of the store (a backfill) and
a month after its newest (today's events) inside that minute, and page through everything:
every event, in order, as the files say.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import orjson
import pytest
from elasticsearch import Elasticsearch
from starlette.testclient import TestClient

from api.app import create_app
from api.context import WITHIN, Context
from api.slices import FUTURE_REACH, MOST_NAMED_MONTHS, Slice, _nameable
from api.tenancy import Tenant, UnconfinedSearchError
from common.elastic import Connection
from generator import generate
from indexer.documents import TimeWindow
from indexer.pipeline import IndexOptions
from indexer.run import index_sources
from schema.mapping import monthly_index, without_index
from tests.helpers import bodies_sent, drop_alias, graphql
from tests.samples import records_of

pytestmark = pytest.mark.engines

PAGE = """query($first: Int, $after: String, $order: EventOrder) {
  events(first: $first, after: $after, orderBy: $order) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { eventID eventTime }
  }
}"""


def _month(moment: datetime) -> datetime:
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


def _time(record: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(record["eventTime"])


def _order_key(record: dict[str, Any]) -> tuple[datetime, str]:
    return (_time(record), record["eventID"])


def _write(folder: Path, records: list[dict[str, Any]]) -> Path:
    day = folder / "AWSLogs/111122223333/CloudTrail/us-east-1/2025/01/01"
    day.mkdir(parents=True, exist_ok=True)
    with gzip.open(
        day / f"111122223333_CloudTrail_us-east-1_{uuid.uuid4().hex}.json.gz", "wt"
    ) as out:
        json.dump({"Records": records}, out)
    return folder


@dataclass
class Store:
    client: TestClient
    alias: str
    loaded: list[dict[str, Any]]  # indexed before the first page
    held_back: list[dict[str, Any]]  # a middle month, indexed later
    months: list[datetime]  # the months indexed at first, newest first
    middle: datetime  # the month held back


UNINDEXED = "userIdentity"  # one loaded record's is a string: stored without it


@pytest.fixture
def store(
    es: Elasticsearch, es_connection: Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Store]:
    """About seven months ending three months ago, one month in the middle held back.

    The API keeps the months it read for an hour, not a minute: whatever a test indexes
    after the first request is then certainly unknown to it.
    """
    monkeypatch.setattr("api.slices.MONTHS_FRESH_SECONDS", 3600.0)
    start = _month(datetime.now(UTC) - timedelta(days=300))
    generate(tmp_path / "generated", events=700, seed=52, start=start, days=200)
    records = [
        r for path in sorted((tmp_path / "generated").rglob("*.json.gz")) for r in records_of(path)
    ]
    months = sorted({_month(_time(r)) for r in records}, reverse=True)
    assert len(months) >= 6
    middle = months[2]  # between the second newest and the fourth: a slice closed both ways
    held_back = [r for r in records if _month(_time(r)) == middle]
    loaded = [r for r in records if _month(_time(r)) != middle]
    odd = next(r for r in loaded if _month(_time(r)) == months[4])
    odd[UNINDEXED] = "a string"
    alias = f"trailql-named-{uuid.uuid4().hex[:6]}"
    try:
        summary = index_sources([str(_write(tmp_path / "first", loaded))], client=es, alias=alias)
        assert summary.indexed == len(loaded), summary
        with TestClient(create_app(es_connection, alias)) as client:
            yield Store(
                client, alias, loaded, held_back, [m for m in months if m != middle], middle
            )
    finally:
        drop_alias(es, alias)


def _page_through(client: TestClient, *, newest_first: bool, size: int = 97) -> list[str]:
    seen: list[str] = []
    after = None
    order = {"direction": "DESC" if newest_first else "ASC"}
    while True:
        page = graphql(client, PAGE, first=size, after=after, order=order)["events"]
        seen += [node["eventID"] for node in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            return seen
        after = page["pageInfo"]["endCursor"]


def _searched(sent: list[tuple[str, str, bytes]], *, pages: bool) -> list[str]:
    """The indices each search of pages (they sort) or of the rest named."""
    named = []
    for _, target, body in sent:
        if "_msearch" not in target and "_search" not in target:
            continue
        lines = [orjson.loads(line) for line in body.splitlines() if line.strip()]
        if "_msearch" in target:
            pairs = zip(lines[::2], lines[1::2], strict=True)
            named += [head["index"] for head, search in pairs if ("sort" in search) is pages]
        elif ("sort" in lines[0]) is pages:
            named.append(unquote(target.split("/")[1]))
    return named


def _names(alias: str, first: datetime, last: datetime) -> str:
    """The months from ``first`` to ``last`` by name, and the index of unindexed events."""
    names, month = [], first
    while month <= last:
        names.append(monthly_index(alias, month))
        month = (month + timedelta(days=32)).replace(day=1)
    return ",".join([*names, without_index(alias, UNINDEXED)])


def test_a_first_page_names_its_month_and_those_that_may_come(store: Store) -> None:
    app = store.client.app
    with bodies_sent(app.state.elasticsearch) as sent:  # type: ignore[attr-defined]
        page = graphql(store.client, PAGE, first=5)["events"]
    newest = sorted(store.loaded, key=_order_key, reverse=True)
    assert [n["eventID"] for n in page["nodes"]] == [r["eventID"] for r in newest[:5]]
    assert page["totalCount"] == len(store.loaded)
    reach = _month(datetime.now(UTC) + FUTURE_REACH)
    assert _searched(sent, pages=True) == [_names(store.alias, store.months[0], reach)]
    assert _searched(sent, pages=False) == [store.alias]  # the count: every month


STATS = """query($f: EventFilter) {
  eventStats(filter: $f) { count terms(field: EVENT_NAME, size: 3) { key count } }
  events(filter: $f, first: 1) { totalCount boundedCount { count exact } }
}"""


def test_a_window_names_its_months_and_counts_a_month_backfilled_since(
    store: Store, es: Elasticsearch, tmp_path: Path
) -> None:
    start = store.middle - timedelta(days=10, minutes=7)
    end = (store.middle + timedelta(days=40)).replace(day=10, minute=13)
    window = {"from": start.isoformat(), "to": end.isoformat()}

    def inside(records: list[dict[str, Any]]) -> int:
        return sum(1 for r in records if start <= _time(r) < end)

    with bodies_sent(store.client.app.state.elasticsearch) as sent:  # type: ignore[attr-defined]
        answer = graphql(store.client, STATS, f=window)
    expected = inside(store.loaded)
    assert answer["eventStats"]["count"] == answer["events"]["totalCount"] == expected
    assert answer["events"]["boundedCount"] == {"count": expected, "exact": True}
    named = _names(store.alias, _month(start), _month(end))
    assert _searched(sent, pages=False) == [named] * 3  # statistics, total, bounded count
    summary = index_sources(
        [str(_write(tmp_path / "later", store.held_back))], client=es, alias=store.alias
    )
    assert summary.indexed == len(store.held_back), summary
    with bodies_sent(store.client.app.state.elasticsearch) as sent:  # type: ignore[attr-defined]
        answer = graphql(store.client, STATS, f=window)
    expected = inside(store.loaded + store.held_back)
    assert expected > inside(store.loaded)
    assert answer["eventStats"]["count"] == answer["events"]["totalCount"] == expected
    assert answer["events"]["boundedCount"] == {"count": expected, "exact": True}
    assert _searched(sent, pages=False) == [named] * 3  # by name still: the month unknown


def test_months_created_since_the_months_were_read_are_paged_through(
    store: Store, es: Elasticsearch, tmp_path: Path
) -> None:
    """A backfilled middle month and today's month, both new within the minute remembered."""
    first = _page_through(store.client, newest_first=True)  # the months are read and kept
    assert first == [r["eventID"] for r in sorted(store.loaded, key=_order_key, reverse=True)]
    today = dict(store.loaded[0], eventID=str(uuid.uuid4()))
    today["eventTime"] = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert _month(_time(today)) > store.months[0]  # a month no index held
    later = [*store.held_back, today]
    summary = index_sources([str(_write(tmp_path / "later", later))], client=es, alias=store.alias)
    assert summary.indexed == len(later), summary
    everything = store.loaded + later
    for newest_first in (True, False):
        expected = sorted(everything, key=_order_key, reverse=newest_first)
        with bodies_sent(store.client.app.state.elasticsearch) as sent:  # type: ignore[attr-defined]
            seen = _page_through(store.client, newest_first=newest_first)
        assert seen == [r["eventID"] for r in expected]
        # Neither new month was known to the API: each was read because it was named.
        named = ",".join(_searched(sent, pages=True)).split(",")
        assert monthly_index(store.alias, store.middle) in named
        assert monthly_index(store.alias, _month(_time(today))) in named


def test_a_month_beyond_the_clock_known_to_the_api_is_still_paged_to(
    store: Store, es: Elasticsearch, tmp_path: Path
) -> None:
    """A month years ahead (an indexer allowed far-future times, or an older TrailQL's): the
    last slice oldest first, open towards the future, must not stop at the clock's reach."""
    ahead = dict(store.loaded[0], eventID=str(uuid.uuid4()))
    ahead["eventTime"] = (datetime.now(UTC) + timedelta(days=3 * 365)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    options = IndexOptions(window=TimeWindow(max_future=timedelta(days=4 * 365)))
    folder = _write(tmp_path / "ahead", [ahead])
    summary = index_sources([str(folder)], client=es, alias=store.alias, options=options)
    assert summary.indexed == 1, summary
    everything = [*store.loaded, ahead]
    for newest_first in (False, True):
        expected = sorted(everything, key=_order_key, reverse=newest_first)
        assert _page_through(store.client, newest_first=newest_first) == [
            r["eventID"] for r in expected
        ]


def test_slices_name_every_month_they_cover_known_or_not() -> None:
    now = datetime(2026, 12, 3, 12, tzinfo=UTC)
    closed = Slice(datetime(2025, 11, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))
    assert closed.named_indices("a", now) == "a-2025.11,a-2025.12,a-2026.01"
    # The indices of unindexed events, whatever the range (their events may lie anywhere).
    assert closed.named_indices("a", now, unindexed=("a_without_useridentity",)) == (
        "a-2025.11,a-2025.12,a-2026.01,a_without_useridentity"
    )
    # Towards the future: up to the month holding the clock plus FUTURE_REACH (32 days).
    future = Slice(datetime(2026, 10, 1, tzinfo=UTC), None)
    assert future.named_indices("a", now) == "a-2026.10,a-2026.11,a-2026.12,a-2027.01"
    assert future.named_indices("a", now, newest_known=datetime(2027, 1, 1, tzinfo=UTC)) == (
        "a-2026.10,a-2026.11,a-2026.12,a-2027.01"
    )
    # A known month past the reach (an older TrailQL's absurd time): the alias, which holds it.
    assert future.named_indices("a", now, newest_known=datetime(2030, 1, 1, tzinfo=UTC)) is None
    # Towards the past a backfill may create any month: the alias.
    assert Slice(None, datetime(2026, 2, 1, tzinfo=UTC)).named_indices("a", now) is None
    assert Slice(None, None).named_indices("a", now) is None
    # A window: the months of its instants, its end excluded.
    month = datetime(2026, 2, 1, tzinfo=UTC)
    assert Slice.around(month, datetime(2026, 3, 1, tzinfo=UTC)).named_indices("a", now) == (
        "a-2026.02"
    )
    assert Slice.around(month, datetime(2026, 3, 1, 0, 0, 0, 1, tzinfo=UTC)).named_indices(
        "a", now
    ) == ("a-2026.02,a-2026.03")
    # Too many to name: the alias.
    years = Slice(datetime(2020, 1, 1, tzinfo=UTC), datetime(2023, 1, 1, tzinfo=UTC))
    assert MOST_NAMED_MONTHS == 36
    assert years.named_indices("a", now) == ",".join(
        [f"a-{y}.{m:02d}" for y in (2020, 2021, 2022) for m in range(1, 13)]
    )
    longer = Slice(datetime(2019, 12, 1, tzinfo=UTC), datetime(2023, 1, 1, tzinfo=UTC))
    assert longer.named_indices("a", now) is None
    # A long alias names fewer months: a search alone carries the names in its URL.
    long_alias = "a" * 200
    assert len(closed.named_indices(long_alias, now) or "") == 3 * 208 + 2
    assert years.named_indices(long_alias, now) is None
    # A store whose newest month lies past the reach (the clock set back): the alias.
    assert Slice(datetime(2027, 3, 1, tzinfo=UTC), None).named_indices("a", now) is None


def test_an_alias_that_filters_or_holds_other_indices_is_searched_as_the_alias() -> None:
    month, without = (
        monthly_index("a", datetime(2026, 1, 1, tzinfo=UTC)),
        without_index("a", "errorCode"),
    )
    assert _nameable("a", {month: {"aliases": {"a": {}}}, without: {"aliases": {"a": {}}}})
    assert not _nameable("a", {month: {"aliases": {"a": {"filter": {"term": {"x": 1}}}}}})
    assert not _nameable("a", {month: {"aliases": {"a": {"search_routing": "1"}}}})
    assert not _nameable("a", {month: {"aliases": {"a": {}}}, "elsewhere": {"aliases": {"a": {}}}})
    assert _nameable("a", {})


@pytest.mark.parametrize(
    "within",
    [
        "b-2026.01",
        "a-2026.01,b-2026.01",
        "a-*",
        "a_hours-2026.01",
        "a-2026.13",
        "*",
        "",
        "a_without_*",  # would reach another alias's: a_without_pii-2026.01
        "a_without_pii-2026.01",
        "a_without_nosuchfield",
    ],
)
def test_a_search_naming_an_index_not_of_its_alias_is_refused(within: str) -> None:
    """Refused before anything is sent (there is no client to send it with), alone or
    with another search."""
    context = Context(elasticsearch=None, alias="a", tenant=Tenant("t", None))  # type: ignore[arg-type]
    with pytest.raises(UnconfinedSearchError, match="may not name"):
        asyncio.run(context.search(query={"match_all": {}}, **{WITHIN: within}))
    together = [{"query": {"match_all": {}}, "size": 0}, {"size": 1, WITHIN: within}]
    with pytest.raises(UnconfinedSearchError, match="may not name"):
        asyncio.run(context.search_together(*together))
