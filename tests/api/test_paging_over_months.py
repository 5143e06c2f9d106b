"""Pages over many months: read a few months at a time, they answer exactly as the files say.

4,000 generated events over 400 days (fourteen monthly indices). Every page, cursor, total
and bounded count is compared with the records read from the files, in both directions,
with and without a filter that matches a few events a month.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from api.slices import Slice, slices
from tests.helpers import graphql

# Correctness that must hold on every engine: scripts/test-engines runs these on each.
pytestmark = pytest.mark.engines

PAGE = """query($first: Int, $after: String, $last: Int, $before: String,
               $filter: EventFilter, $order: EventOrder) {
  events(first: $first, after: $after, last: $last, before: $before, filter: $filter,
         orderBy: $order) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    nodes { eventID }
  }
}"""
RARE = {"eventName": ["DeleteLogGroup", "PutRetentionPolicy"]}


@pytest.fixture(scope="module")
def months(generated_api):
    data = generated_api(events=4000, seed=18, days=400)
    assert len({r["eventTime"][:7] for r in data.records}) >= 13
    return data


def _order_key(record: dict[str, Any]) -> tuple[float, str]:
    return (datetime.fromisoformat(record["eventTime"]).timestamp(), record["eventID"])


def _expected(records: list[dict[str, Any]], *, newest_first: bool, rare: bool) -> list[str]:
    chosen = [r for r in records if not rare or r["eventName"] in RARE["eventName"]]
    return [r["eventID"] for r in sorted(chosen, key=_order_key, reverse=newest_first)]


def _forwards(client, size: int, **variables: Any) -> tuple[list[str], set[int]]:
    seen: list[str] = []
    totals: set[int] = set()
    after = None
    while True:
        page = graphql(client, PAGE, first=size, after=after, **variables)["events"]
        seen += [node["eventID"] for node in page["nodes"]]
        totals.add(page["totalCount"])
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        if not page["pageInfo"]["hasNextPage"]:
            return seen, totals
        after = page["pageInfo"]["endCursor"]


@pytest.mark.parametrize("newest_first", [True, False], ids=["newest first", "oldest first"])
@pytest.mark.parametrize("rare", [False, True], ids=["every event", "a few a month"])
def test_paging_forwards_gives_every_event_once_in_order(months, newest_first, rare):
    expected = _expected(months.records, newest_first=newest_first, rare=rare)
    order = {"direction": "DESC" if newest_first else "ASC"}
    seen, totals = _forwards(months.client, 97, order=order, filter=RARE if rare else None)
    assert seen == expected
    assert totals == {len(expected)}


@pytest.mark.parametrize("rare", [False, True], ids=["every event", "a few a month"])
def test_paging_backwards_from_the_end_gives_the_same_events(months, rare):
    expected = _expected(months.records, newest_first=True, rare=rare)
    seen: list[str] = []
    before = None
    while True:
        page = graphql(months.client, PAGE, last=61, before=before, filter=RARE if rare else None)[
            "events"
        ]
        seen = [node["eventID"] for node in page["nodes"]] + seen
        if not page["pageInfo"]["hasPreviousPage"]:
            break
        before = page["pageInfo"]["startCursor"]
    assert seen == expected


def test_a_page_from_a_cursor_in_an_old_month_continues_from_it(months):
    expected = _expected(months.records, newest_first=True, rare=False)
    cursor = None
    for _ in range(6):  # 3,000 events in: months after the newest
        cursor = graphql(months.client, PAGE, first=500, after=cursor)["events"]["pageInfo"][
            "endCursor"
        ]
    rest = graphql(months.client, PAGE, first=500, after=cursor)["events"]
    assert [node["eventID"] for node in rest["nodes"]] == expected[3000:3500]


def test_a_bounded_count_is_exact_below_its_bound_and_says_so_above(months):
    query = """query($up: Int) { events(first: 0) { boundedCount(upTo: $up) { count exact } } }"""
    total = len(months.records)
    low = graphql(months.client, query, up=1000)["events"]["boundedCount"]
    high = graphql(months.client, query, up=100_000)["events"]["boundedCount"]
    assert low == {"count": 1000, "exact": False}
    assert high == {"count": total, "exact": True}


def test_statistics_over_the_last_day_and_week_count_exactly_their_events(months):
    last = max(datetime.fromisoformat(r["eventTime"]) for r in months.records)
    for span in (timedelta(days=1), timedelta(days=7)):
        start = last - span
        expected = sum(
            1 for r in months.records if start <= datetime.fromisoformat(r["eventTime"]) <= last
        )
        window = {"from": start.isoformat(), "to": (last + timedelta(seconds=1)).isoformat()}
        query = "query($f: EventFilter) { eventStats(filter: $f) { count } }"
        assert graphql(months.client, query, f=window)["eventStats"]["count"] == expected


def _queries_run(es, alias: str) -> dict[str, int]:
    stats = es.indices.stats(index=alias, metric="search")["indices"]
    return {name: shards["primaries"]["search"]["query_total"] for name, shards in stats.items()}


@pytest.mark.parametrize("days", [1, 7])
def test_statistics_over_a_window_search_only_the_indices_holding_it(months, es, days):
    """A window's statistics cost its months: the other indices are never searched."""
    last = max(datetime.fromisoformat(r["eventTime"]) for r in months.records)
    start, end = last - timedelta(days=days), last + timedelta(seconds=1)
    in_window = {"range": {"eventTime": {"gte": start.isoformat(), "lt": end.isoformat()}}}
    holding = {
        name
        for name in es.indices.get_alias(name=months.alias)
        if es.count(index=name, query=in_window)["count"] > 0
    }
    assert 1 <= len(holding) < len(_queries_run(es, months.alias)) - 10
    before = _queries_run(es, months.alias)
    query = """query($f: EventFilter) {
      eventStats(filter: $f) { count terms(field: EVENT_NAME) { key count } }
      events(filter: $f, first: 1) { totalCount boundedCount(upTo: 100000) { count exact } }
    }"""
    window = {"from": start.isoformat(), "to": end.isoformat()}
    answer = graphql(months.client, query, f=window)
    after = _queries_run(es, months.alias)
    expected = sum(1 for r in months.records if start <= datetime.fromisoformat(r["eventTime"]))
    assert answer["eventStats"]["count"] == answer["events"]["totalCount"] == expected
    assert answer["events"]["boundedCount"] == {"count": expected, "exact": True}
    assert {name for name in after if after[name] != before[name]} == holding


def test_a_window_no_month_holds_answers_zeros(months):
    """Every month skipped: the statistics of nothing, as when no month was skipped."""
    query = """query($f: EventFilter) {
      eventStats(filter: $f) {
        count errorRate terms(field: EVENT_NAME) { key count }
        timeline(interval: AUTO) { interval buckets { start count } }
        callers: distinct(field: SOURCE_IP_ADDRESS)
      }
      events(filter: $f, first: 2) { totalCount boundedCount { count exact } nodes { eventID } }
    }"""
    day = datetime(2001, 1, 1, tzinfo=UTC)
    assert all(datetime.fromisoformat(r["eventTime"]) > day for r in months.records)
    window = {"from": day.isoformat(), "to": (day + timedelta(days=1)).isoformat()}
    answer = graphql(months.client, query, f=window)
    half_hours = [(day + timedelta(minutes=30 * n)).isoformat() for n in range(48)]
    assert answer == {
        "eventStats": {
            "count": 0,
            "errorRate": None,
            "terms": [],
            "timeline": {
                "interval": "30m",
                "buckets": [{"start": start, "count": 0} for start in half_hours],
            },
            "callers": 0,
        },
        "events": {"totalCount": 0, "boundedCount": {"count": 0, "exact": True}, "nodes": []},
    }


MONTHS = [datetime(2024, month, 1, tzinfo=UTC) for month in (1, 2, 3, 5, 8, 9, 10, 11, 12)]


def _holder(pieces: list[Slice], moment: datetime) -> list[int]:
    return [
        number
        for number, piece in enumerate(pieces)
        if (piece.start is None or piece.start <= moment)
        and (piece.end is None or moment < piece.end)
    ]


@pytest.mark.parametrize("newest_first", [True, False])
@pytest.mark.parametrize(
    "resume_at", [None, datetime(2024, 9, 14, tzinfo=UTC), datetime(2023, 6, 1, tzinfo=UTC)]
)
def test_slices_hold_every_moment_once_and_grow_two_fold(newest_first, resume_at):
    pieces = slices(MONTHS, newest_first=newest_first, resume_at=resume_at)
    moments = [datetime(2023, 1, 1, tzinfo=UTC) + timedelta(days=d) for d in range(0, 800, 3)]
    cursor_month = resume_at.replace(day=1) if resume_at else None
    for moment in moments:
        if cursor_month is not None and (
            (newest_first and (moment.year, moment.month) > (cursor_month.year, cursor_month.month))
            or (not newest_first and moment < cursor_month)
        ):
            continue  # beyond the cursor's month: no slice needs it
        assert len(_holder(pieces, moment)) == 1, moment
    if resume_at is None:
        assert len(pieces) == 4  # nine months read 1, 2, 4, then the last 2
