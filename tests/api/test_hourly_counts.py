"""Statistics from the hourly counts: the same answers as the events give, sent where they are.

Every expected figure is counted from the trail files; every answer from the counts is also
compared with the events' own answer to the same question (the counts switched off).
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import orjson
import pytest
from elasticsearch import Elasticsearch
from starlette.testclient import TestClient

from api import slices
from api.app import create_app
from api.hourly import answers
from bench.api_server import free_port
from common.retry import Backoff
from indexer import claims
from indexer.bulk import ElasticsearchUnavailableError
from indexer.claims import Claims
from indexer.hourly import CountingError, HourlyCounts
from indexer.lifecycle import Month, delete
from indexer.run import index_sources
from schema.hourly import (
    COMPLETE,
    INEXACT,
    STATE_KEY,
    hours_alias,
    hours_index,
    hours_index_body,
    uncounted_index,
    uncounted_mapping,
)
from tests.helpers import graphql, requests_sent
from trailql.cli import EXIT_ERROR, EXIT_OK, main

pytestmark = pytest.mark.engines

LOGS = {"eventSource": ["logs.amazonaws.com"]}
SIGMA_HOUR = {"from": "2023-07-10T05:00:00Z", "to": "2023-07-10T06:00:00Z"}


def _searched(sent: list[tuple[str, str]]) -> list[str]:
    """The indices each search named, in order (an alias, or indices by name)."""
    return [unquote(target.split("/")[1]) for _, target in sent if "_search" in target]


def _events_searched(sent: list[tuple[str, str]], alias: str) -> bool:
    """Whether a search read the events: the alias, or its months by name (api/slices.py)."""
    own = (f"{alias}-", f"{alias}_without_")
    return any(
        names == [alias] or all(name.startswith(own) for name in names)
        for names in (searched.split(",") for searched in _searched(sent))
    )


def _stats(client: TestClient, selection: str, event_filter: dict[str, Any] | None = None) -> Any:
    query = "query($f: EventFilter) { eventStats(filter: $f) { %s } }" % selection
    return graphql(client, query, f=event_filter)["eventStats"]


def _from_events(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, selection: str, event_filter: Any
) -> Any:
    """The same statistics with the hourly counts out of the picture."""

    async def never(*_: object) -> bool:
        return False

    with monkeypatch.context() as patched:
        patched.setattr(slices.Months, "counted", never)
        return _stats(client, selection, event_filter)


def _hour(record: dict[str, Any]) -> str:
    moment = datetime.fromisoformat(str(record["eventTime"]))
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:00:00+00:00")


def test_q2_is_answered_from_the_counts_exactly(samples_api, samples_alias, sample_records):
    """The peer benchmark's Q2 (count, top names, hourly timeline): one search of the counts."""
    selection = """count names: terms(field: EVENT_NAME, size: 10) { key count }
        timeline(interval: HOUR) { buckets { start count } }"""
    with requests_sent(samples_api.app.state.elasticsearch) as sent:
        result = _stats(samples_api, selection, LOGS)
    assert _searched(sent) == [hours_alias(samples_alias[0])]
    logs = [r for r in sample_records if r.get("eventSource") == "logs.amazonaws.com"]
    assert result["count"] == len(logs)
    names = Counter(str(r["eventName"]) for r in logs)
    ranked = sorted(names.items(), key=lambda item: (-item[1], item[0]))[:10]
    assert result["names"] == [{"key": key, "count": count} for key, count in ranked]
    hours = Counter(_hour(r) for r in logs)
    nonempty = {b["start"]: b["count"] for b in result["timeline"]["buckets"] if b["count"]}
    assert nonempty == dict(hours)
    assert sum(b["count"] for b in result["timeline"]["buckets"]) == len(logs)


@pytest.mark.parametrize(
    ("selection", "event_filter"),
    [
        (
            """count errorRate terms(field: EVENT_NAME, size: 5) { key count stats { count
               errorRate distinct(field: AWS_REGION) t: terms(field: USER_IDENTITY_TYPE) {
               key count } } }
               timeline(interval: MONTH, field: AWS_REGION, size: 2) { interval buckets {
               start count groups { key count } } }""",
            {"eventSource": ["logs.amazonaws.com"], "readOnly": False},
        ),
        (
            "count terms(field: ERROR_CODE) { key count } timeline { interval buckets { count } }",
            {"from": "2023-07-01T00:00:00Z", "to": "2024-11-30T05:00:00Z", "hasError": True},
        ),
        (
            "count distinct(field: EVENT_NAME) timeline(interval: WEEK) { buckets { count } }",
            {
                "or": [{"awsRegion": ["us-east-1"]}, {"not": {"readOnly": True}}],
                "userIdentityType": ["AssumedRole", "IAMUser"],
            },
        ),
        (
            "count terms(field: READ_ONLY) {key count} timeline(interval: DAY) { buckets {count} }",
            None,
        ),
        (
            """count terms(field: ACCOUNT_ID) { key count }
               t: terms(field: EVENT_TYPE) { key count }
               c: terms(field: EVENT_CATEGORY) { key count }""",
            {"managementEvent": True, "errorCode": ["AccessDenied"]},
        ),
    ],
)
def test_counts_answer_as_the_events_do(
    samples_api, samples_alias, monkeypatch, selection, event_filter
):
    with requests_sent(samples_api.app.state.elasticsearch) as sent:
        counted = _stats(samples_api, selection, event_filter)
    assert hours_alias(samples_alias[0]) in _searched(sent)
    assert counted == _from_events(samples_api, monkeypatch, selection, event_filter)


@pytest.mark.parametrize(
    "histogram",
    [
        {"time_zone": "+05:30"},
        {"offset": "+30m"},
        {"script": {"source": "doc['eventTime'].value"}},
    ],
)
def test_a_timeline_that_would_cut_hours_is_not_answered_from_the_counts(histogram):
    """The API sends none of these today; if it ever does, the counts must not answer."""
    timeline = {"field": "eventTime", "fixed_interval": "1d", "min_doc_count": 0}
    assert answers({"match_all": {}}, {"t": {"date_histogram": timeline}})
    assert not answers({"match_all": {}}, {"t": {"date_histogram": {**timeline, **histogram}}})


@pytest.mark.parametrize(
    ("selection", "event_filter"),
    [
        # A field that is not counted, in the statistics or in the filter.
        ("count terms(field: PRINCIPAL) { key count }", None),
        ("count", {"principal": ["admin"]}),
        ("count distinct(field: SOURCE_IP_ADDRESS)", LOGS),
        ("count", {"search": "logs"}),
        # Time cut inside an hour: by the filter, or by one-minute buckets.
        ("count", {"from": "2023-07-10T00:30:00Z"}),
        ("count", {"to": "2023-07-10T00:00:01Z"}),
        ("timeline(interval: MINUTE, field: EVENT_NAME) { interval }", SIGMA_HOUR),
        # A range in another zone whose hours are not UTC's.
        ("count", {"from": "2023-07-10T00:00:00+05:30"}),
    ],
)
def test_what_the_counts_cannot_answer_is_read_from_the_events(
    samples_api, samples_alias, monkeypatch, selection, event_filter
):
    with requests_sent(samples_api.app.state.elasticsearch) as sent:
        answered = _stats(samples_api, selection, event_filter)
    assert hours_alias(samples_alias[0]) not in _searched(sent)
    assert _events_searched(sent, samples_alias[0])
    assert answered == _from_events(samples_api, monkeypatch, selection, event_filter)


def test_an_hour_aligned_window_is_counted_and_matches_the_files(samples_api, sample_records):
    result = _stats(
        samples_api,
        "count timeline(interval: HOUR) { buckets { start count } }",
        {**SIGMA_HOUR, **LOGS},
    )
    expected = [
        r
        for r in sample_records
        if r.get("eventSource") == "logs.amazonaws.com" and _hour(r) == "2023-07-10T05:00:00+00:00"
    ]
    assert result["count"] == len(expected)
    assert result["timeline"]["buckets"] == [
        {"start": "2023-07-10T05:00:00+00:00", "count": len(expected)}
    ]


def _write_trail(folder: Path, name: str, records: list[dict[str, Any]]) -> None:
    day = folder / "AWSLogs/111122223333/CloudTrail/us-east-1/2025/03/04"
    day.mkdir(parents=True, exist_ok=True)
    with gzip.open(day / name, "wt") as out:
        json.dump({"Records": records}, out)


def _record(number: int, name: object, hour: int) -> dict[str, Any]:
    return {
        "eventVersion": "1.08",
        "eventID": f"00000000-0000-0000-0000-{number:012d}",
        "eventTime": f"2025-03-04T{hour:02d}:{number % 60:02d}:00Z",
        "eventSource": "logs.amazonaws.com",
        "eventName": name,
        "awsRegion": "us-east-1",
        "recipientAccountId": "111122223333",
        "eventType": "AwsApiCall",
        "readOnly": False,
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/ana"},
    }


def _month_state(es: Elasticsearch, alias: str, month: datetime) -> str:
    index = hours_index(alias, month)
    return str(es.indices.get_mapping(index=index)[index]["mappings"]["_meta"][STATE_KEY])


def _count_documents(es: Elasticsearch, alias: str) -> list[tuple[str, dict[str, Any]]]:
    es.indices.refresh(index=hours_alias(alias))
    hits = es.search(index=hours_alias(alias), size=1000)["hits"]["hits"]
    return sorted((hit["_id"], hit["_source"]) for hit in hits)


MARCH = datetime(2025, 3, 1, tzinfo=UTC)
APRIL = datetime(2025, 4, 1, tzinfo=UTC)
JANUARY = datetime(2025, 1, 1, tzinfo=UTC)


def test_files_delivered_again_leave_every_count_as_it_was(es, es_connection, alias, tmp_path):
    records = [_record(n, ["CreateLogGroup", "DeleteLogGroup"][n % 2], n % 3) for n in range(30)]
    _write_trail(tmp_path, "a.json.gz", records)
    index_sources([str(tmp_path)], client=es, alias=alias)
    first = _count_documents(es, alias)
    assert sum(source["events"] for _, source in first) == 30
    # The same file again, and the same records in a file of another name.
    _write_trail(tmp_path, "b.json.gz", records)
    index_sources([str(tmp_path)], client=es, alias=alias)
    assert _count_documents(es, alias) == first
    assert _month_state(es, alias, MARCH) == COMPLETE
    with TestClient(create_app(es_connection, alias)) as client:
        result = _stats(client, "count terms(field: EVENT_NAME) { key count }", LOGS)
    assert result == {
        "count": 30,
        "terms": [{"key": "CreateLogGroup", "count": 15}, {"key": "DeleteLogGroup", "count": 15}],
    }


def test_an_event_with_several_values_of_a_counted_field_sends_its_month_to_the_events(
    es, es_connection, alias, tmp_path
):
    """Counted once per value, it would be counted twice: the month is marked inexact."""
    records = [_record(n, "CreateLogGroup", 1) for n in range(5)]
    records.append(_record(99, ["PutRetentionPolicy", "DeleteLogGroup"], 2))
    _write_trail(tmp_path, "a.json.gz", records)
    index_sources([str(tmp_path)], client=es, alias=alias)
    assert _month_state(es, alias, MARCH) == INEXACT
    app = create_app(es_connection, alias)
    with TestClient(app) as client, requests_sent(app.state.elasticsearch) as sent:
        result = _stats(client, "count timeline(interval: DAY) { buckets { count } }", LOGS)
    assert _searched(sent) == [alias]
    assert result == {"count": 6, "timeline": {"buckets": [{"count": 6}]}}


def test_a_month_without_counts_is_read_from_its_events_until_it_is_counted_whole(
    es, es_connection, alias, tmp_path
):
    """Events indexed before TrailQL kept counts (here: counts deleted) are counted whole by
    the next load that touches their month."""
    _write_trail(tmp_path, "a.json.gz", [_record(n, "CreateLogGroup", 1) for n in range(7)])
    index_sources([str(tmp_path)], client=es, alias=alias)
    es.indices.delete(index=hours_index(alias, MARCH))
    selection = "count terms(field: EVENT_NAME) { key count }"
    app = create_app(es_connection, alias)
    with TestClient(app) as client, requests_sent(app.state.elasticsearch) as sent:
        before = _stats(client, selection, LOGS)
    assert _searched(sent) == [alias]
    assert before == {"count": 7, "terms": [{"key": "CreateLogGroup", "count": 7}]}
    # One more event in another hour: the whole month is counted, not that hour alone.
    later = tmp_path / "later"
    _write_trail(later, "b.json.gz", [_record(100, "DeleteLogGroup", 5)])
    index_sources([str(later)], client=es, alias=alias)
    assert _month_state(es, alias, MARCH) == COMPLETE
    app = create_app(es_connection, alias)
    with TestClient(app) as client, requests_sent(app.state.elasticsearch) as sent:
        after = _stats(client, selection, LOGS)
    assert _searched(sent) == [hours_alias(alias)]
    assert after == {
        "count": 8,
        "terms": [{"key": "CreateLogGroup", "count": 7}, {"key": "DeleteLogGroup", "count": 1}],
    }


def test_deleting_a_month_deletes_its_counts(es, alias, tmp_path):
    _write_trail(tmp_path, "a.json.gz", [_record(n, "CreateLogGroup", 1) for n in range(3)])
    index_sources([str(tmp_path)], client=es, alias=alias)
    assert es.indices.exists(index=hours_index(alias, MARCH))
    deleted = delete(es, alias, Month(2025, 4), dry_run=False, now=Month(2026, 1))
    assert [index.name for index in deleted] == [f"{alias}-2025.03"]
    assert not es.indices.exists(index=hours_index(alias, MARCH))


def test_a_count_written_late_from_fewer_events_leaves_the_newer_count(es, alias, tmp_path):
    """Two workers on one hour: the one that saw fewer events writes last, and loses."""
    _write_trail(tmp_path, "a.json.gz", [_record(n, "CreateLogGroup", 1) for n in range(5)])
    index_sources([str(tmp_path)], client=es, alias=alias)
    [(doc_id, source)] = _count_documents(es, alias)
    assert source["events"] == 5
    index = hours_index(alias, MARCH)
    stored = es.get(index=index, id=doc_id)["_version"]
    assert stored == 5
    counts = HourlyCounts(es, alias, None)
    for events in (3, 5):  # fewer events, then the same count again
        late = {**source, "events": events, "_doc_count": events}
        action = {"_index": index, "_id": doc_id, "version": events, "version_type": "external"}
        counts._write([orjson.dumps({"index": action}), orjson.dumps(late)])
    assert _count_documents(es, alias) == [(doc_id, source)]
    # Nothing was written again: the stored document is the first one, sequence number and all.
    assert es.get(index=index, id=doc_id)["_seq_no"] == 0


def test_a_count_elasticsearch_refuses_for_another_reason_stops_the_counting(es, alias, tmp_path):
    _write_trail(tmp_path, "a.json.gz", [_record(n, "CreateLogGroup", 1) for n in range(2)])
    index_sources([str(tmp_path)], client=es, alias=alias)
    action = {"_index": hours_index(alias, MARCH), "_id": "x", "version": 1}
    wrong = {"eventTime": 0, "events": 1, "unknown": "strict mapping refuses this"}
    with pytest.raises(CountingError, match="strict_dynamic_mapping_exception"):
        HourlyCounts(es, alias, None)._write(
            [orjson.dumps({"index": {**action, "version_type": "external"}}), orjson.dumps(wrong)]
        )


def test_counts_of_a_month_whose_events_were_deleted_are_not_read(
    es, es_connection, alias, tmp_path
):
    """ILM deletes a month's events but not its counts: the counts would count them still."""
    april = [
        {**_record(n, "DeleteLogGroup", 1), "eventTime": f"2025-04-02T01:{n:02d}:00Z"}
        for n in range(4)
    ]
    _write_trail(tmp_path, "a.json.gz", [_record(n, "CreateLogGroup", 1) for n in range(3)])
    _write_trail(tmp_path, "b.json.gz", april)
    index_sources([str(tmp_path)], client=es, alias=alias)
    es.indices.delete(index=f"{alias}-2025.03")
    app = create_app(es_connection, alias)
    with TestClient(app) as client, requests_sent(app.state.elasticsearch) as sent:
        result = _stats(client, "count terms(field: EVENT_NAME) { key count }", LOGS)
    assert _searched(sent) == [alias]
    assert result == {"count": 4, "terms": [{"key": "DeleteLogGroup", "count": 4}]}


def test_indices_count_counts_months_without_counts_and_drops_orphans(  # noqa: PLR0917
    es, es_connection, alias, tmp_path, monkeypatch, capsys
):
    """An upgrade: months indexed before TrailQL kept counts are counted by one command."""
    records = [_record(n, "CreateLogGroup", 1) for n in range(7)]
    april = [_record(n, "DeleteLogGroup", 2) for n in range(100, 103)]
    for record in april:
        record["eventTime"] = record["eventTime"].replace("2025-03-04", "2025-04-09")
    _write_trail(tmp_path, "a.json.gz", records + april)
    index_sources([str(tmp_path)], client=es, alias=alias)
    es.indices.delete(index=[hours_index(alias, MARCH), hours_index(alias, APRIL)])
    # Counts left behind by a month whose events ILM deleted.
    es.indices.create(index=hours_index(alias, JANUARY), **hours_index_body(alias))
    for name, value in es_connection.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TRAILQL_INDEX", alias)

    def run(*arguments: str) -> tuple[int, str]:
        code = main(["indices", *arguments])
        return code, capsys.readouterr().err

    def counts_listed() -> dict[str, str]:
        assert main(["indices", "list", "--json"]) == EXIT_OK
        lines = capsys.readouterr().out.splitlines()
        return {line["month"]: line["counts"] for line in map(json.loads, lines)}

    selection = "count terms(field: EVENT_NAME) { key count }"
    expected = {
        "count": 10,
        "terms": [{"key": "CreateLogGroup", "count": 7}, {"key": "DeleteLogGroup", "count": 3}],
    }
    assert counts_listed() == {"2025-03": "none", "2025-04": "none"}
    app = create_app(es_connection, alias)
    with TestClient(app) as client, requests_sent(app.state.elasticsearch) as sent:
        assert _stats(client, selection, LOGS) == expected
    assert _searched(sent) == [alias]

    code, err = run("count")
    assert code == EXIT_OK
    assert "2025-03: complete" in err
    assert "2025-04: complete" in err
    assert "2025-01: counts dropped, its events are gone" in err
    assert "2 months counted" in err
    assert counts_listed() == {"2025-03": "complete", "2025-04": "complete"}
    assert not es.indices.exists(index=hours_index(alias, JANUARY))
    app = create_app(es_connection, alias)
    with TestClient(app) as client, requests_sent(app.state.elasticsearch) as sent:
        assert _stats(client, selection, LOGS) == expected
    assert _searched(sent) == [hours_alias(alias)]
    assert run("count") == (EXIT_OK, "0 months counted\n")

    code, err = run("count", "--month", "2025-05")
    assert code == EXIT_ERROR
    assert "no index for 2025-05" in err

    # A month with an event holding two eventNames stays inexact however often it is counted.
    listed_twice = [_record(99, ["PutRetentionPolicy", "DeleteLogGroup"], 2)]
    _write_trail(tmp_path / "more", "b.json.gz", listed_twice)
    index_sources([str(tmp_path / "more")], client=es, alias=alias)
    assert counts_listed() == {"2025-03": "inexact", "2025-04": "complete"}
    code, err = run("count")
    assert code == EXIT_OK
    assert "2025-03: inexact (an event holds several values of a counted field" in err
    assert "1 month counted, 1 not exact" in err
    code, err = run("count", "--month", "2025-04")
    assert (code, "2025-04: complete" in err) == (EXIT_OK, True)


def _claims(es: Elasticsearch, alias: str) -> list[dict[str, Any]]:
    index = uncounted_index(alias)
    if not es.indices.exists(index=index):
        return []
    es.indices.refresh(index=index)
    return [hit["_source"] for hit in es.search(index=index, size=100)["hits"]["hits"]]


def test_a_pipeline_that_dies_before_counting_leaves_its_month_to_the_events_then_recounted(
    es, es_connection, alias, tmp_path, monkeypatch
):
    """Events acknowledged, counts never updated: the claim it left says so, and is acted on."""
    _write_trail(tmp_path / "a", "a.json.gz", [_record(n, "CreateLogGroup", 1) for n in range(5)])
    index_sources([str(tmp_path / "a")], client=es, alias=alias)
    assert _claims(es, alias) == []  # counted, so released
    selection = "count terms(field: EVENT_NAME) { key count }"
    expected = {
        "count": 8,
        "terms": [{"key": "CreateLogGroup", "count": 5}, {"key": "DeleteLogGroup", "count": 3}],
    }

    def dies(_: HourlyCounts) -> None:
        raise RuntimeError("the process is killed here")

    _write_trail(
        tmp_path / "b", "b.json.gz", [_record(n, "DeleteLogGroup", 2) for n in range(100, 103)]
    )
    with monkeypatch.context() as patched:
        patched.setattr(HourlyCounts, "update", dies)
        patched.setattr(claims, "CLAIM_LEASE_MS", 0)  # expired as soon as it is written
        with pytest.raises(RuntimeError, match="killed"):
            index_sources([str(tmp_path / "b")], client=es, alias=alias)
    es.indices.refresh(index=alias)  # what the cluster does by itself within a second
    assert es.count(index=alias)["count"] == 8
    assert sum(source["events"] for _, source in _count_documents(es, alias)) == 5
    [left] = _claims(es, alias)
    assert left["months"] == [int(MARCH.timestamp() * 1000)]
    assert _month_state(es, alias, MARCH) == COMPLETE  # short of 3 events, and it does not know
    app = create_app(es_connection, alias)
    with TestClient(app) as client, requests_sent(app.state.elasticsearch) as sent:
        assert _stats(client, selection, LOGS) == expected
    assert _searched(sent) == [alias]

    # The next load, whatever it holds, counts March again whole and drops the claim.
    later = tmp_path / "c"
    _write_trail(later, "c.json.gz", [])
    index_sources([str(later)], client=es, alias=alias)
    assert _claims(es, alias) == []
    assert sum(source["events"] for _, source in _count_documents(es, alias)) == 8
    app = create_app(es_connection, alias)
    with TestClient(app) as client, requests_sent(app.state.elasticsearch) as sent:
        assert _stats(client, selection, LOGS) == expected
    assert _searched(sent) == [hours_alias(alias)]


def test_a_claim_still_renewed_is_left_alone_and_indices_count_recovers_an_expired_one(  # noqa: PLR0917
    es, es_connection, alias, tmp_path, monkeypatch, capsys
):
    _write_trail(tmp_path, "a.json.gz", [_record(n, "CreateLogGroup", 1) for n in range(4)])
    index_sources([str(tmp_path)], client=es, alias=alias)
    live = Claims(es, alias)
    live.claim(int(MARCH.timestamp() * 1000))
    assert HourlyCounts(es, alias, None).recover() == []  # not expired: its pipeline works on
    assert len(_claims(es, alias)) == 1
    dead = Claims(es, alias, clock=lambda: 0)  # a claim that expired long ago
    dead.claim(int(MARCH.timestamp() * 1000))
    dead.claim(int(JANUARY.timestamp() * 1000))  # a month whose events are gone since
    es.indices.refresh(index=uncounted_index(alias))
    monkeypatch.setenv("TRAILQL_INDEX", alias)
    for name, value in es_connection.environment().items():
        monkeypatch.setenv(name, value)
    assert main(["indices", "count"]) == EXIT_OK
    err = capsys.readouterr().err
    assert "2025-03: counted again, a pipeline stopped before counting it" in err
    assert len(_claims(es, alias)) == 1  # the live one
    assert not es.indices.exists(index=hours_index(alias, JANUARY))


def test_a_month_that_cannot_be_claimed_is_not_sent_and_says_elasticsearch_is_unavailable(alias):
    """No claim, no event: the load waits or stops as it would for a bulk request."""
    nowhere = Elasticsearch(f"http://127.0.0.1:{free_port()}", max_retries=0)
    tries = Claims(nowhere, alias, 2, Backoff(0.01, 0.01))
    with pytest.raises(ElasticsearchUnavailableError, match="could not claim a month"):
        tries.claim(int(MARCH.timestamp() * 1000))
    assert not tries.covers(int(MARCH.timestamp() * 1000))


def test_a_claim_holding_no_month_is_dropped_without_counting_anything(es, alias):
    index = uncounted_index(alias)
    es.indices.create(index=index, mappings=uncounted_mapping())
    absurd = {"months": [253402300800000 * 40, "12.5"], "expires": 0}  # year 320,000; a fraction
    es.index(index=index, id="garbage", document=absurd, refresh=True)
    assert HourlyCounts(es, alias, None).recover() == []
    assert _claims(es, alias) == []
    assert not es.indices.exists(index=hours_alias(alias))
