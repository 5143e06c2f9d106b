"""eventStats over the samples: every figure equals a count taken from the files."""

from __future__ import annotations

import gzip
import json
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from api.app import create_app
from api.stats import MAX_TIMELINE_BUCKETS
from indexer.run import index_sources
from schema.hourly import hours_alias
from tests.helpers import requests_sent

# Correctness that must hold on every engine: scripts/test-engines runs these on each.
pytestmark = pytest.mark.engines

SIGMA_DAY = {"from": "2023-07-10T00:00:00Z", "to": "2023-07-11T00:00:00Z"}


def top(counter: Counter[str], size: int) -> list[dict[str, Any]]:
    """Most frequent first, ties by value: the order the API promises."""
    ranked = sorted(counter.items(), key=lambda item: (-item[1], item[0]))[:size]
    return [{"key": key, "count": count} for key, count in ranked]


def in_day(record: dict[str, Any]) -> bool:
    return str(record["eventTime"]).startswith("2023-07-10")


def stats(client, run_graphql, selection: str, event_filter: dict[str, Any] | None = None):
    query = "query($f: EventFilter) { eventStats(filter: $f) { %s } }" % selection
    return run_graphql(client, query, f=event_filter)["eventStats"]


def test_count_and_top_values(samples_api, sample_records, run_graphql):
    result = stats(
        samples_api,
        run_graphql,
        "count sources: terms(field: EVENT_SOURCE, size: 50) { key count }",
    )
    assert result["count"] == 3210
    assert result["sources"] == top(Counter(r["eventSource"] for r in sample_records), 50)


def test_nested_terms_drill_down(samples_api, sample_records, run_graphql):
    result = stats(
        samples_api,
        run_graphql,
        """terms(field: USER_IDENTITY_TYPE, size: 3) { key count
             stats { count actions: terms(field: EVENT_NAME, size: 4) { key count } } }""",
    )
    by_type = Counter(r["userIdentity"].get("type") for r in sample_records)
    del by_type[None]  # events without a type are not in any bucket
    assert [{"key": b["key"], "count": b["count"]} for b in result["terms"]] == top(by_type, 3)
    for bucket in result["terms"]:
        mine = [r for r in sample_records if r["userIdentity"].get("type") == bucket["key"]]
        assert bucket["stats"]["count"] == len(mine)
        assert bucket["stats"]["actions"] == top(Counter(r["eventName"] for r in mine), 4)


def test_boolean_and_error_fields_group_too(samples_api, sample_records, run_graphql):
    result = stats(
        samples_api,
        run_graphql,
        "readOnly: terms(field: READ_ONLY) { key count } errors: terms(field: ERROR_CODE, size: 3) { key count }",  # noqa: E501
    )
    read_only = Counter("true" if r["readOnly"] else "false" for r in sample_records)
    assert result["readOnly"] == top(read_only, 10)
    errors = Counter(r["errorCode"] for r in sample_records if "errorCode" in r)
    assert result["errors"] == top(errors, 3)


def test_an_hourly_timeline_spans_the_whole_range_asked_for(
    samples_api, sample_records, run_graphql
):
    result = stats(
        samples_api,
        run_graphql,
        "count timeline(interval: HOUR) { interval buckets { start count } }",
        SIGMA_DAY,
    )
    per_hour = Counter(r["eventTime"][:13] for r in sample_records if in_day(r))
    day = datetime(2023, 7, 10, tzinfo=UTC)
    expected = [
        {"start": hour.isoformat(), "count": per_hour[hour.strftime("%Y-%m-%dT%H")]}
        for hour in (day + timedelta(hours=n) for n in range(24))
    ]
    assert result["timeline"] == {"interval": "1h", "buckets": expected}
    assert result["count"] == sum(per_hour.values()) == 2900


def test_automatic_interval_fits_the_range(samples_api, run_graphql):
    result = stats(samples_api, run_graphql, "timeline { interval buckets { count } }", SIGMA_DAY)
    # One day in at most 60 buckets: 30-minute buckets are the narrowest that fit.
    assert result["timeline"]["interval"] == "30m"
    assert len(result["timeline"]["buckets"]) == 48


def test_a_timeline_split_by_a_field(samples_api, sample_records, run_graphql):
    result = stats(
        samples_api,
        run_graphql,
        """timeline(interval: HOUR, field: EVENT_SOURCE, size: 2) {
             buckets { start count groups { key count stats { errorRate } } } }""",
        SIGMA_DAY,
    )
    for bucket in result["timeline"]["buckets"]:
        hour = datetime.fromisoformat(bucket["start"]).astimezone(UTC).strftime("%Y-%m-%dT%H")
        mine = [r for r in sample_records if in_day(r) and r["eventTime"].startswith(hour)]
        expected = top(Counter(r["eventSource"] for r in mine), 2)
        assert [{"key": g["key"], "count": g["count"]} for g in bucket["groups"]] == expected
        for group in bucket["groups"]:
            of_source = [r for r in mine if r["eventSource"] == group["key"]]
            failed = sum(1 for r in of_source if "errorCode" in r)
            assert group["stats"]["errorRate"] == pytest.approx(failed / len(of_source))


def test_automatic_interval_covers_every_event(samples_api, run_graphql):
    result = stats(samples_api, run_graphql, "count timeline { interval buckets { count } }")
    timeline = result["timeline"]
    assert sum(b["count"] for b in timeline["buckets"]) == result["count"] == 3210
    assert 1 <= len(timeline["buckets"]) <= 60
    assert timeline["interval"]


def test_distinct_and_error_rate(samples_api, sample_records, run_graphql):
    result = stats(
        samples_api,
        run_graphql,
        "names: distinct(field: EVENT_NAME) regions: distinct(field: AWS_REGION) errorRate",
    )
    assert result["names"] == len({r["eventName"] for r in sample_records})
    assert result["regions"] == len({r["awsRegion"] for r in sample_records})
    failed = sum(1 for r in sample_records if "errorCode" in r)
    assert result["errorRate"] == pytest.approx(failed / len(sample_records))


def test_stats_follow_the_filter(samples_api, sample_records, run_graphql):
    event_filter = {"eventSource": ["logs.amazonaws.com"]}
    result = stats(
        samples_api,
        run_graphql,
        "count terms(field: EVENT_NAME) { key count } errorRate",
        event_filter,
    )
    mine = [r for r in sample_records if r["eventSource"] == "logs.amazonaws.com"]
    assert result["count"] == len(mine) == 6
    assert result["terms"] == top(Counter(r["eventName"] for r in mine), 10)
    assert result["errorRate"] == 0


def _query_total(es, alias: str) -> int:
    return int(
        es.indices.stats(index=alias, metric="search")["_all"]["total"]["search"]["query_total"]
    )


def test_one_event_stats_is_one_elasticsearch_search(es, samples_alias, samples_api):
    alias, _ = samples_alias

    def run(selection: str, second: int) -> dict[str, Any]:
        # A time range of its own each time, so no shard answers from its request cache;
        # closed at both ends, or a timeline would first look up where the events end.
        event_filter = {"from": f"2023-01-01T00:00:{second:02d}Z", "to": "2030-01-01T00:00:00Z"}
        query = "query($f: EventFilter) { eventStats(filter: $f) { %s } }" % selection
        response = samples_api.post(
            "/graphql", json={"query": query, "variables": {"f": event_filter}}
        )
        body = response.json()
        assert "errors" not in body
        return dict(body)

    before = _query_total(es, alias)
    single = run("count", 1)
    per_search = _query_total(es, alias) - before
    assert single["extensions"]["elasticsearch"]["searches"] == 1

    before = _query_total(es, alias)
    rich = run(
        """count
           terms(field: PRINCIPAL, size: 5) { key count stats { terms(field: EVENT_NAME) { key } } }
           timeline(interval: DAY, field: EVENT_SOURCE) { buckets { count groups { key } } }
           distinct(field: SOURCE_IP_ADDRESS)""",
        2,
    )
    assert rich["extensions"]["elasticsearch"]["searches"] == 1
    assert _query_total(es, alias) - before == per_search > 0


def _hours(first: str, last: str) -> list[datetime]:
    start = datetime.fromisoformat(first[:13] + ":00:00+00:00")
    end = datetime.fromisoformat(last[:13] + ":00:00+00:00")
    return [start + timedelta(hours=n) for n in range(int((end - start) / timedelta(hours=1)) + 1)]


def test_an_open_timeline_runs_from_the_filter_s_first_event_to_its_last(
    samples_api, sample_records
):
    """Hourly over 16 months of EC2 calls: every hour from the first to the last, no more."""
    query = """query($f: EventFilter) { eventStats(filter: $f) {
        count timeline(interval: HOUR) { buckets { start count } } } }"""
    variables = {"f": {"eventSource": ["ec2.amazonaws.com"]}}
    body = samples_api.post("/graphql", json={"query": query, "variables": variables}).json()
    assert "errors" not in body
    # The statistics' one search: the months behind the alias show that the hours of all
    # events fit, so the filter's own first and last event need no search of their own.
    assert body["extensions"]["elasticsearch"]["searches"] == 1
    times = sorted(
        r["eventTime"] for r in sample_records if r["eventSource"] == "ec2.amazonaws.com"
    )
    per_hour = Counter(time[:13] for time in times)
    expected = [
        {"start": hour.isoformat(), "count": per_hour[hour.strftime("%Y-%m-%dT%H")]}
        for hour in _hours(times[0], times[-1])
    ]
    buckets = body["data"]["eventStats"]["timeline"]["buckets"]
    assert len(buckets) == len(expected) == 505 * 24 + 5  # 2023-07-10T11 to 2024-11-26T15
    assert buckets == expected
    assert body["data"]["eventStats"]["count"] == len(times) == 979


def test_a_timeline_too_fine_for_all_events_is_drawn_over_the_filter_s(samples_api, sample_records):
    """By the minute: 17 months of all events would be too many buckets, S3's 48 minutes not."""
    query = """query($f: EventFilter) { eventStats(filter: $f) {
        timeline(interval: MINUTE) { buckets { start count } } } }"""
    variables = {"f": {"eventSource": ["s3.amazonaws.com"]}}
    body = samples_api.post("/graphql", json={"query": query, "variables": variables}).json()
    assert "errors" not in body
    # The minutes of 17 months do not fit, nor those from the first event to the last: the
    # edges of all events, then the filter's own first and last event, then the statistics.
    assert body["extensions"]["elasticsearch"]["searches"] == 3
    per_minute = Counter(
        r["eventTime"][:16] for r in sample_records if r["eventSource"] == "s3.amazonaws.com"
    )
    first, last = (
        datetime.fromisoformat(f"{m}:00+00:00") for m in (min(per_minute), max(per_minute))
    )
    minutes = int((last - first) / timedelta(minutes=1)) + 1
    expected = [
        {"start": minute.isoformat(), "count": per_minute[minute.strftime("%Y-%m-%dT%H:%M")]}
        for minute in (first + timedelta(minutes=n) for n in range(minutes))
    ]
    assert body["data"]["eventStats"]["timeline"]["buckets"] == expected
    assert len(expected) == 48


def test_a_timeline_over_an_open_range_by_calendar_month(samples_api, sample_records):
    query = "{ eventStats { timeline(interval: MONTH) { buckets { start count } } } }"
    body = samples_api.post("/graphql", json={"query": query}).json()
    assert "errors" not in body
    assert body["extensions"]["elasticsearch"]["searches"] == 1
    per_month = Counter(r["eventTime"][:7] for r in sample_records)
    first, last = min(per_month), max(per_month)
    months = []
    year, month = int(first[:4]), int(first[5:])
    while f"{year:04d}-{month:02d}" <= last:
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    expected = [{"start": f"{m}-01T00:00:00+00:00", "count": per_month[m]} for m in months]
    assert body["data"]["eventStats"]["timeline"]["buckets"] == expected


def _events_at(tmp_path: Path, name: str, record: dict[str, Any], *times: str) -> Path:
    """A trail file of copies of ``record``, one at each of ``times``."""
    folder = tmp_path / name
    folder.mkdir()
    copies = [
        {**record, "eventID": str(uuid.uuid5(uuid.NAMESPACE_URL, name + at)), "eventTime": at}
        for at in times
    ]
    with gzip.open(folder / f"{name}.json.gz", "wt") as trail:
        json.dump({"Records": copies}, trail)
    return folder


def test_a_month_created_after_the_months_were_read_cannot_stretch_a_timeline(
    es, es_connection, alias, tmp_path, sample_records
):
    """The months behind the alias are read once a minute; a timeline they let through that
    turns out longer than a timeline may be is refused as if they had been read just now."""
    record = sample_records[0]
    march = ["2025-03-01T00:00:00Z", "2025-03-01T05:10:00Z", "2025-03-31T23:59:00Z"]
    folder = _events_at(tmp_path, "march", record, *march)
    assert index_sources([str(folder)], client=es, alias=alias).indexed == len(march)
    query = "{ eventStats { count timeline(interval: HOUR) { buckets { start count } } } }"
    with TestClient(create_app(es_connection, alias)) as client:
        body = client.post("/graphql", json={"query": query}).json()
        assert "errors" not in body
        # One month's hours fit: the statistics' one search, no edges, no range.
        assert body["extensions"]["elasticsearch"]["searches"] == 1
        buckets = body["data"]["eventStats"]["timeline"]["buckets"]
        assert len(buckets) == len(_hours(march[0], march[-1])) == 31 * 24
        assert [(b["start"], b["count"]) for b in buckets if b["count"]] == [
            ("2025-03-01T00:00:00+00:00", 1),
            ("2025-03-01T05:00:00+00:00", 1),
            ("2025-03-31T23:00:00+00:00", 1),
        ]

        # Within the minute the months are trusted, and the timeline is kept inside them: an
        # event of a month outside them (2021, then 2015) is in no bucket, which shows, and
        # the range is found after all. Either range is past the limit.
        times = list(march)
        for name, late in (("2021", "2021-09-01T00:00:00Z"), ("2015", "2015-06-01T12:00:00Z")):
            folder = _events_at(tmp_path, name, record, late)
            assert index_sources([str(folder)], client=es, alias=alias).indexed == 1
            times.append(late)
            body = client.post("/graphql", json={"query": query}).json()
            assert body["data"] is None
            (error,) = body["errors"]
            assert error["extensions"]["code"] == "BAD_USER_INPUT"
            wanted = len(_hours(min(times), max(times)))
            assert f"would have {wanted:,} buckets" in error["message"], error["message"]
            assert wanted == {"2021": 31_392, "2015": 86_196}[name]


def test_a_timeline_of_the_most_buckets_is_answered_and_one_longer_refused(
    samples_api, sample_records
):
    """Mostly empty hours on every engine, up to the limit; past it, the API's own error."""
    query = """query($f: EventFilter) { eventStats(filter: $f) {
        timeline(interval: HOUR) { buckets { start count } } } }"""
    start = datetime(2021, 1, 1, tzinfo=UTC)
    most = MAX_TIMELINE_BUCKETS  # a range of N whole hours is N buckets
    end = start + timedelta(hours=most)
    variables = {"f": {"from": start.isoformat(), "to": end.isoformat()}}
    body = samples_api.post("/graphql", json={"query": query, "variables": variables}).json()
    assert "errors" not in body, body["errors"]
    buckets = body["data"]["eventStats"]["timeline"]["buckets"]
    assert len(buckets) == most
    per_hour = Counter(
        r["eventTime"][:13] for r in sample_records if r["eventTime"] < end.isoformat()[:19]
    )
    assert {b["start"][:13]: b["count"] for b in buckets if b["count"]} == dict(per_hour)

    # One hour more, and 35,000 (within what the API allowed before, past what Elasticsearch
    # answers): refused, with the count the timeline would have had.
    for hours in (MAX_TIMELINE_BUCKETS + 1, 35_000):
        end = start + timedelta(hours=hours)
        variables = {"f": {"from": start.isoformat(), "to": end.isoformat()}}
        body = samples_api.post("/graphql", json={"query": query, "variables": variables}).json()
        (error,) = body["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert f"would have {hours:,} buckets" in error["message"]


@pytest.mark.parametrize(
    ("interval", "start", "end", "buckets"),
    [
        # Counted by hand: 2023-07-10 and 2023-08-28 are Mondays, where weeks begin.
        ("WEEK", "2023-07-10T12:00:00Z", "2023-09-01T00:00:00Z", 8),
        ("MONTH", "2023-01-31T00:00:00Z", "2023-03-02T00:00:00Z", 3),
        ("HOUR", "2023-07-10T00:30:00Z", "2023-07-11T00:30:00Z", 25),
    ],
)
def test_a_timeline_has_the_buckets_its_range_spans(samples_api, interval, start, end, buckets):
    """What the bucket limit is checked with (api.stats.bucket_count) is what is answered."""
    query = (
        """query($f: EventFilter) { eventStats(filter: $f) {
        timeline(interval: %s) { buckets { start } } } }"""
        % interval
    )
    variables = {"f": {"from": start, "to": end}}
    body = samples_api.post("/graphql", json={"query": query, "variables": variables}).json()
    assert "errors" not in body, body["errors"]
    assert len(body["data"]["eventStats"]["timeline"]["buckets"]) == buckets


def test_timelines_in_every_group_past_the_engine_s_bucket_limit_are_too_costly(
    samples_api, samples_alias
):
    """Each timeline fits alone; fifty of them do not. Every engine refuses, in its own way
    (OpenSearch with a 503); the caller gets one code, the same everywhere."""
    query = """{ eventStats(filter: {from: "2023-07-01T00:00:00Z", to: "2024-12-01T00:00:00Z"}) {
        terms(field: EVENT_NAME, size: 50) { key stats { timeline(interval: HOUR) {
            buckets { count } } } } } }"""
    with requests_sent(samples_api.app.state.elasticsearch) as sent:
        body = samples_api.post("/graphql", json={"query": query}).json()
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert error["message"] == (
        "the statistics would return too many buckets; ask for fewer or wider buckets."
    )
    # Refused once: the client does not send OpenSearch's 503 again (common/elastic.py). Names
    # and hours from hour to hour: the hourly counts answer it (api/hourly.py).
    searches = [target.split("?")[0] for _, target in sent if "_search" in target]
    assert searches == [f"/{hours_alias(samples_alias[0])}/_search"]


@pytest.mark.parametrize(
    "selection",
    [
        # 17 months of samples in one-minute buckets: far past what a search may return.
        "timeline(interval: MINUTE) { interval }",
        "terms(field: EVENT_NAME, size: 0) { key }",
        "terms(field: EVENT_NAME, size: 501) { key }",
        "timeline(field: EVENT_NAME, size: 51) { interval }",
    ],
)
def test_sizes_out_of_range_are_bad_input(samples_api, selection):
    response = samples_api.post("/graphql", json={"query": "{ eventStats { %s } }" % selection})
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
