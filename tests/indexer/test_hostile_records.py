"""The hostile-records corpus through every mode: one bad record never blocks or poisons.

Each case of :mod:`tests.indexer.hostile_corpus` says by hand what must become of every
record in its file: indexed, indexed with one field left unindexed, or quarantined with a
reason; and what the report must say of a damaged file. The corpus goes through the one-shot
``trailql index``, ``--follow`` on moto's S3 and the SQS worker on moto's SQS, into the real
Elasticsearch, and each time every expectation is checked, with nothing extra and nothing
twice.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ijson
import pytest
from elasticsearch.helpers import scan
from starlette.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from common.metrics import QUARANTINED_RECORDS
from indexer.follow import FollowOptions, follow
from indexer.pipeline import IndexOptions
from indexer.quarantine import quarantine_index
from indexer.report import JsonLinesReport
from indexer.run import index_sources
from indexer.worker import WorkerOptions, run_worker
from schema import EVENT_FIELDS, Kind
from tests.api.credentials import api_key
from tests.helpers import drop_alias, graphql, on_opensearch
from tests.indexer.continuous import (
    json_lines,
    make_queue,
    queue_counts,
    recorded_files,
    s3_event,
    wait_until,
)
from tests.indexer.hostile_corpus import (
    ACCOUNT,
    FOLDER,
    MAPPED_FIELDS,
    Case,
    Expected,
    corpus,
    good,
    truncated_gzip_ids,
)
from tests.samples import SAMPLES
from trailql.cli import EXIT_INCOMPLETE, EXIT_OK, main

# Correctness that must hold on every engine: scripts/test-engines runs these on each.
pytestmark = pytest.mark.engines

CASES = corpus()
MONTH_INDEX = "2023.07"  # every corpus event is of July 2023


def test_the_corpus_holds_thirty_cases_and_more():
    assert len(CASES) >= 30
    outcomes = Counter(expected.outcome for case in CASES for expected in case.records)
    assert set(outcomes) == {"indexed", "unindexed", "quarantined"}
    assert sum(1 for case in CASES if case.file_problem) >= 4


def _write(root: Path, cases: list[Case]) -> None:
    for case in cases:
        path = root / case.key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(case.content)


def _quarantine_count(es, alias: str) -> int:
    es.indices.refresh(index=quarantine_index(alias))
    return int(es.count(index=quarantine_index(alias))["count"])


def check_outcomes(es, alias: str, cases: list[Case], file_of: Callable[[Case], str]) -> None:
    """Every expectation of every case, and nothing else, behind ``alias`` and in quarantine."""
    es.indices.refresh(index=f"{alias},{quarantine_index(alias)}")
    hits = list(scan(es, index=alias, query={"query": {"match_all": {}}}, size=500))
    stored = Counter(hit["_source"]["eventID"] for hit in hits)
    by_id = {hit["_source"]["eventID"]: hit for hit in hits}

    expected_events: list[str | None] = [
        expected.event_id
        for case in cases
        for expected in case.records
        if expected.outcome in {"indexed", "unindexed"}
    ]
    salvaged: list[str | None] = [i for i in truncated_gzip_ids() if i in stored]
    assert salvaged == truncated_gzip_ids()[: len(salvaged)]  # a prefix: nothing after damage
    assert stored == Counter(expected_events + salvaged)  # each once, and nothing else

    for case in cases:
        for expected in case.records:
            if expected.outcome == "indexed":
                assert by_id[expected.event_id]["_index"] == f"{alias}-{MONTH_INDEX}", case.name
            elif expected.outcome == "unindexed":
                _check_unindexed(es, alias, by_id[expected.event_id], expected.field or "", case)

    rows = scan(es, index=quarantine_index(alias), query={"query": {"match_all": {}}})
    found = {(r["_source"]["file"], r["_source"]["record_number"]): r["_source"] for r in rows}
    wanted = {
        (file_of(case), number): expected
        for case in cases
        for number, expected in enumerate(case.records, start=1)
        if expected.outcome == "quarantined"
    }
    assert set(found) == set(wanted)
    for place, expected in wanted.items():
        document = found[place]
        assert document["reason"] == expected.reason, place
        if expected.event_id is not None:
            assert document["event_id"] == expected.event_id, place
        _check_kept_whole(document, expected)


def unindexed_in(alias: str, field: str, *, object_for_value: bool) -> str:
    """Where an event whose ``field`` holds a JSON type its mapping cannot take is stored.

    Elasticsearch refuses it, and the indexer stores it in the index that leaves the field
    out. So does OpenSearch, but for an object (``object_for_value``) given to a keyword,
    date, ip or boolean, at any depth: it takes the event into its month, ignoring that value
    (the one difference common/engine.py leaves).
    """
    if on_opensearch() and object_for_value:
        return f"{alias}-{MONTH_INDEX}"
    return f"{alias}_without_{field.lower()}"


def _hostile_record(case: Case) -> dict[str, Any]:
    """The middle record of a case's file: the hostile one."""
    return json.loads(case.content.split(b"\n")[1].rstrip(b","))  # type: ignore[no-any-return]


def _object_for_value(case: Case, field: str) -> bool:
    """Whether the case gives an object to a value (a keyword, date...), at any depth.

    Otherwise it gives a value that is not an object to an object field.
    """
    [mapped] = [each for each in EVENT_FIELDS if each.name == field]
    return mapped.kind is not Kind.OBJECT or isinstance(_hostile_record(case)[field], dict)


def _check_unindexed(es, alias: str, hit: dict[str, Any], field: str, case: Case) -> None:
    """Left out of ``field``'s index; ``_source`` exactly the record; still found."""
    record = _hostile_record(case)
    where = unindexed_in(alias, field, object_for_value=_object_for_value(case, field))
    assert hit["_index"] == where, case.name
    assert hit["_source"] == record  # the odd field too, untouched
    other = "eventSource" if field != "eventSource" else "awsRegion"
    query = {
        "bool": {
            "filter": [
                {"term": {"eventID": hit["_source"]["eventID"]}},
                {"term": {other: record[other]}},
            ]
        }
    }
    assert es.count(index=alias, query=query)["count"] == 1, case.name


def _check_kept_whole(document: dict[str, Any], expected: Expected) -> None:
    """The record is kept as JSON text that parses back to it, or as its exact bytes."""
    if "record_base64" in document:
        assert expected.reason == "unstorable"
        raw = base64.b64decode(document["record_base64"])
        assert b'"userAgent":"agent \xff\xfe"' in raw  # the bytes that are not UTF-8, as read
        return
    text = document["record"]
    if expected.reason == "not_json":
        assert text == '{"eventID": "half'  # the line as it was
        return
    try:
        record = json.loads(text)
    except RecursionError:  # 10,000 levels: ijson builds it without recursing
        [record] = ijson.items(io.BytesIO(text.encode()), "")
    if expected.event_id is not None:
        assert record["eventID"] == expected.event_id


@pytest.mark.parametrize("parse_workers", ["1", "2"])
def test_trailql_index_keeps_every_good_record_and_quarantines_the_rest(  # noqa: PLR0917
    es, alias, tmp_path, monkeypatch, capsys, parse_workers
):
    """Also with worker processes reading the files: the same outcome, record by record."""
    _write(tmp_path, CASES)
    workers = ["--parse-workers", parse_workers]
    monkeypatch.setenv("TRAILQL_INDEX", alias)
    wanted = Counter(e.reason or "" for c in CASES for e in c.records if e.outcome == "quarantined")
    before = {reason: _quarantined_metric(reason) for reason in wanted}

    assert main(["index", *workers, str(tmp_path)]) == EXIT_INCOMPLETE
    report = capsys.readouterr().err

    def file_of(case: Case) -> str:
        return str(tmp_path / case.key)

    check_outcomes(es, alias, CASES, file_of)
    for case in CASES:
        if case.file_problem:
            [line] = [x for x in report.splitlines() if x.startswith(f"failed {file_of(case)}: ")]
            assert case.file_problem in line, case.name
        for number, expected in enumerate(case.records, start=1):
            if expected.outcome == "quarantined":
                where = file_of(case) if expected.reason == "not_json" else f"{file_of(case)}: "
                assert f"quarantined {where}" in report, case.name
                if expected.reason != "not_json":
                    assert f"quarantined {file_of(case)}: record {number}: " in report
            if expected.outcome == "unindexed":
                stored = unindexed_in(
                    "",
                    expected.field or "",
                    object_for_value=_object_for_value(case, expected.field or ""),
                )
                said = f"unindexed {file_of(case)}: record {number}: indexed without " in report
                assert said == ("_without_" in stored), case.name
    assert {reason: _quarantined_metric(reason) - before[reason] for reason in wanted} == wanted

    # Again: nothing twice, in the events or in the quarantine.
    events = es.count(index=alias)["count"]
    in_quarantine = _quarantine_count(es, alias)
    assert main(["index", *workers, str(tmp_path)]) == EXIT_INCOMPLETE
    check_outcomes(es, alias, CASES, file_of)
    assert es.count(index=alias)["count"] == events
    assert _quarantine_count(es, alias) == in_quarantine == sum(wanted.values())


def _quarantined_metric(reason: str) -> float:
    return float(QUARANTINED_RECORDS.labels(reason=reason)._value.get())


@pytest.fixture
def corpus_bucket(aws, names) -> tuple[Any, Any, str]:
    """The corpus uploaded to a bucket of its own."""
    s3, sqs = aws
    s3.create_bucket(Bucket=names)
    for case in CASES:
        s3.put_object(Bucket=names, Key=case.key, Body=case.content)
    return s3, sqs, names


def test_follow_loads_the_corpus_and_goes_on(es, stateful_alias, corpus_bucket):
    alias = stateful_alias
    s3, _, bucket = corpus_bucket
    log = io.StringIO()
    stop = threading.Event()
    options = FollowOptions((f"s3://{bucket}/AWSLogs/",), poll_seconds=0.5, chunk_files=10)
    follower = threading.Thread(
        target=follow,
        args=(options,),
        kwargs={"client": es, "alias": alias, "stop": stop, "report": JsonLinesReport(log)},
    )
    follower.start()
    try:
        wait_until(lambda: recorded_files(es, alias) == len(CASES), timeout=180, what="the corpus")
        # Still polling: a file added now is loaded too.
        late = json.dumps({"Records": [good("late-arrival")]}).encode()
        s3.put_object(Bucket=bucket, Key=FOLDER + "late.json", Body=late)
        wait_until(
            lambda: recorded_files(es, alias) == len(CASES) + 1, timeout=60, what="a late file"
        )
    finally:
        stop.set()
        follower.join(timeout=120)
    assert not follower.is_alive()

    late_case = Case("late", "late.json", late, (), None)
    check_outcomes(es, alias, [*CASES, _indexed_case(late_case, "late-arrival")], _s3_uri(bucket))
    lines = json_lines(log.getvalue())
    loaded = {line["file"] for line in lines if line.get("outcome") == "loaded"}
    assert loaded == {_s3_uri(bucket)(case) for case in CASES} | {
        f"s3://{bucket}/{FOLDER}late.json"
    }


def _s3_uri(bucket: str) -> Callable[[Case], str]:
    return lambda case: f"s3://{bucket}/{case.key}"


def _indexed_case(case: Case, event_id: str) -> Case:
    from tests.indexer.hostile_corpus import indexed  # noqa: PLC0415

    return Case(case.name, case.file_name, case.content, (indexed(event_id),))


def test_the_sqs_worker_loads_the_corpus_deletes_every_message_and_goes_on(
    es, stateful_alias, corpus_bucket
):
    alias = stateful_alias
    s3, sqs, bucket = corpus_bucket
    queue, dlq = make_queue(sqs, bucket, visibility=30, max_receive_count=3)
    for case in CASES:
        sqs.send_message(QueueUrl=queue, MessageBody=s3_event(bucket, case.key))
    log = io.StringIO()
    stop = threading.Event()
    options = WorkerOptions(queue_url=queue, wait_seconds=1, max_messages=10)
    worker = threading.Thread(
        target=run_worker,
        args=(options,),
        kwargs={"client": es, "alias": alias, "stop": stop, "report": JsonLinesReport(log)},
    )
    worker.start()
    try:
        wait_until(lambda: queue_counts(sqs, queue) == (0, 0), timeout=180, what="the corpus")
        # Not stalled: a message sent afterwards is loaded as well.
        late = json.dumps({"Records": [good("late-message")]}).encode()
        s3.put_object(Bucket=bucket, Key=FOLDER + "late.json", Body=late)
        sqs.send_message(QueueUrl=queue, MessageBody=s3_event(bucket, FOLDER + "late.json"))
        wait_until(lambda: recorded_files(es, alias) == len(CASES) + 1, timeout=60, what="late")
        wait_until(lambda: queue_counts(sqs, queue) == (0, 0), timeout=60, what="its delete")
    finally:
        stop.set()
        worker.join(timeout=120)
    assert not worker.is_alive()

    assert queue_counts(sqs, dlq) == (0, 0)  # every message was deleted, none given up on
    late_case = _indexed_case(Case("late", "late.json", late, ()), "late-message")
    check_outcomes(es, alias, [*CASES, late_case], _s3_uri(bucket))
    lines = json_lines(log.getvalue())
    assert not [line for line in lines if line["message"].startswith("giving up")]
    quarantined_lines = [line for line in lines if line["message"] == "record quarantined"]
    assert quarantined_lines  # each said so, with its file


def test_a_poison_record_cannot_stall_a_continuous_worker(es, stateful_alias, aws, names):
    """A record Elasticsearch refuses, alone in a message: the message is deleted all the same."""
    alias = stateful_alias
    s3, sqs = aws
    s3.create_bucket(Bucket=names)
    poison = json.dumps({"Records": [good("refused", **{"": "x"}), good("beside")]}).encode()
    clean = json.dumps({"Records": [good("next")]}).encode()
    s3.put_object(Bucket=names, Key=FOLDER + "poison.json", Body=poison)
    s3.put_object(Bucket=names, Key=FOLDER + "next.json", Body=clean)
    queue, dlq = make_queue(sqs, names, visibility=5, max_receive_count=2)
    sqs.send_message(QueueUrl=queue, MessageBody=s3_event(names, FOLDER + "poison.json"))
    sqs.send_message(QueueUrl=queue, MessageBody=s3_event(names, FOLDER + "next.json"))
    stop = threading.Event()
    log = io.StringIO()
    worker = threading.Thread(
        target=run_worker,
        args=(WorkerOptions(queue_url=queue, wait_seconds=1, max_receives=1),),
        kwargs={"client": es, "alias": alias, "stop": stop, "report": JsonLinesReport(log)},
    )
    worker.start()
    try:
        wait_until(lambda: recorded_files(es, alias) == 2, timeout=60, what="both files")
        wait_until(lambda: queue_counts(sqs, queue) == (0, 0), timeout=60, what="the deletes")
    finally:
        stop.set()
        worker.join(timeout=60)
    assert queue_counts(sqs, dlq) == (0, 0)
    # Both: the quarantine row is written by the worker's own request, not refreshed with it.
    es.indices.refresh(index=f"{alias},{quarantine_index(alias)}")
    hits = scan(es, index=alias, query={"query": {"match_all": {}}})
    ids = {hit["_source"]["eventID"] for hit in hits}
    assert ids == {"beside", "next"}
    rows = list(scan(es, index=quarantine_index(alias), query={"query": {"match_all": {}}}))
    assert [(r["_source"]["record_number"], r["_source"]["reason"]) for r in rows] == [
        (1, "refused")
    ]
    loaded = [line for line in json_lines(log.getvalue()) if line.get("outcome") == "loaded"]
    poisoned = next(line for line in loaded if line["file"].endswith("poison.json"))
    assert (poisoned["indexed"], poisoned["quarantined"], poisoned["rejected"]) == (1, 1, 1)


@pytest.fixture(scope="module")
def sample_and_corpus_aliases(es, tmp_path_factory) -> Iterator[tuple[str, str]]:
    """The samples alone, and the samples with the corpus beside them."""
    root = tmp_path_factory.mktemp("corpus")
    _write(root, CASES)
    run = uuid.uuid4().hex[:10]
    alone, together = (f"trailql-hostile-{name}-{run}" for name in ("alone", "together"))
    try:
        assert index_sources([str(SAMPLES)], client=es, alias=alone).clean
        index_sources([str(SAMPLES), str(root)], client=es, alias=together)
        yield alone, together
    finally:
        drop_alias(es, alone)
        drop_alias(es, together)


_QUERIES = [
    "{ eventStats { count timeline { interval buckets { start count } } } }",
    """{ eventStats(filter: {from: "2023-07-10T00:00:00Z", to: "2023-07-11T00:00:00Z"}) {
         timeline { interval buckets { start count } } } }""",
    """{ eventStats(filter: {from: "2023-07-10T00:00:00Z"}) {
         timeline(field: EVENT_NAME, size: 3) { interval buckets { start count
           groups { key count } } } } }""",
    """{ eventStats { count errorRate
         terms(field: PRINCIPAL, size: 5) { key count stats { terms(field: EVENT_NAME) { key } } }
         regions: terms(field: AWS_REGION) { key count }
         names: distinct(field: EVENT_NAME) sources: distinct(field: SOURCE_IP_ADDRESS) } }""",
    """{ logGroups(first: 100) { totalCount
         nodes { name eventCount firstSeen lastSeen lastChange { eventID kind } } } }""",
    "{ events(first: 20) { totalCount nodes { eventID eventTime } } }",
]


def test_queries_answer_for_the_good_data_as_if_the_corpus_were_not_there(
    es_connection, sample_and_corpus_aliases, sample_records
):
    alone, together = sample_and_corpus_aliases
    accounts = sorted({r["recipientAccountId"] for r in sample_records})
    key, line = api_key("samples", *accounts)
    settings = ApiSettings(auth_disabled=False, api_keys=line)
    answers: dict[str, list[dict[str, Any]]] = {}
    for alias in (alone, together):
        with TestClient(create_app(es_connection, alias, settings)) as client:
            client.headers["X-API-Key"] = key
            answers[alias] = [graphql(client, query) for query in _QUERIES]
    assert answers[together] == answers[alone]
    assert answers[alone][0]["eventStats"]["count"] == len(sample_records) == 3210


def test_auto_timelines_over_everything_count_every_event_indexed(
    es, es_connection, sample_and_corpus_aliases, sample_records
):
    _, together = sample_and_corpus_aliases
    with TestClient(create_app(es_connection, together)) as client:
        stats = graphql(client, _QUERIES[0])["eventStats"]
    corpus_events = sum(
        1 for case in CASES for expected in case.records if expected.outcome != "quarantined"
    )
    es.indices.refresh(index=together)
    salvaged = es.count(index=together, query={"prefix": {"eventID": "tg-"}})["count"]
    assert stats["count"] == len(sample_records) + corpus_events + salvaged
    assert sum(bucket["count"] for bucket in stats["timeline"]["buckets"]) == stats["count"]
    assert len(stats["timeline"]["buckets"]) <= 60


@pytest.mark.parametrize(
    "event_id",
    ["x" * 600, "😀" * 2048, "../../etc/passwd?a=b#c", "before\x00after", "événement-ид-事件-😀"],
)
def test_events_are_found_by_their_real_event_id(
    es_connection, sample_and_corpus_aliases, event_id
):
    _, together = sample_and_corpus_aliases
    with TestClient(create_app(es_connection, together)) as client:
        query = "query($id: ID!) { event(id: $id) { eventID recipientAccountId } }"
        found = graphql(client, query, id=event_id)["event"]
    assert found == {"eventID": event_id, "recipientAccountId": ACCOUNT}


def test_every_mapped_field_of_a_wrong_type_leaves_the_event_searchable(
    es_connection, sample_and_corpus_aliases
):
    _, together = sample_and_corpus_aliases
    query = """query($f: EventFilter) { events(first: 100, filter: $f) {
        totalCount nodes { eventID record } } }"""
    groups = [f"/hostile/type-{name}" for name in MAPPED_FIELDS]
    with TestClient(create_app(es_connection, together)) as client:
        events = graphql(client, query, f={"logGroupName": groups})["events"]
    assert events["totalCount"] == len(MAPPED_FIELDS)
    assert {node["eventID"] for node in events["nodes"]} == {f"type-{n}" for n in MAPPED_FIELDS}
    for node in events["nodes"]:  # the record exactly as written, the odd field with it
        name = node["eventID"].removeprefix("type-")
        assert node["record"][name] == ("a string" if name in _OBJECTS else {"an": "object"})


_OBJECTS = {"userIdentity", "resources", "tlsDetails"}


def test_replay_indexes_what_a_wider_window_now_admits(es, alias, tmp_path, monkeypatch, capsys):
    old = {"Records": [good("from-2012", eventTime="2012-06-01T00:00:00Z"), good("fine")]}
    (tmp_path / "old.json").write_text(json.dumps(old))
    monkeypatch.setenv("TRAILQL_INDEX", alias)
    assert main(["quarantine", "replay"]) == EXIT_OK  # nothing ever quarantined: nothing to do
    assert not es.indices.exists_index_template(name=alias)
    assert main(["index", str(tmp_path)]) == EXIT_INCOMPLETE
    capsys.readouterr()

    assert main(["quarantine", "list", "--json"]) == EXIT_OK
    [listed] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (listed["file"], listed["record_number"], listed["reason"]) == (
        str(tmp_path / "old.json"),
        1,
        "implausible_event_time",
    )
    assert json.loads(listed["record"]) == old["Records"][0]

    assert main(["quarantine", "replay"]) == EXIT_INCOMPLETE  # the window has not changed
    assert _quarantine_count(es, alias) == 1
    monkeypatch.setenv("TRAILQL_EARLIEST_EVENT_TIME", "2012-01-01")
    assert main(["quarantine", "replay"]) == EXIT_OK
    capsys.readouterr()
    assert _quarantine_count(es, alias) == 0
    es.indices.refresh(index=alias)
    ids = {hit["_id"]: hit["_index"] for hit in es.search(index=alias)["hits"]["hits"]}
    assert ids == {"fine": f"{alias}-2023.07", "from-2012": f"{alias}-2012.06"}
    assert main(["quarantine", "list"]) == EXIT_OK
    assert "0 records in quarantine" in capsys.readouterr().err


def test_events_stored_by_an_older_indexer_at_absurd_times_do_not_break_timelines(
    es, es_connection, alias
):
    """Before the time window, the year 9999 got an index: timelines must still answer."""
    index_sources(
        [str(SAMPLES / "stratus-red-team")], client=es, alias=alias, options=IndexOptions()
    )
    absurd = good("year-9999", eventTime="9999-12-31T23:59:59Z")
    es.index(index=f"{alias}-9999.12", id="year-9999", document=absurd, refresh=True)
    es.indices.refresh(index=alias)
    total = es.count(index=alias)["count"]
    with TestClient(create_app(es_connection, alias)) as client:
        stats = graphql(client, _QUERIES[0])["eventStats"]
        too_many = client.post(
            "/graphql",
            json={"query": "{ eventStats { timeline(field: EVENT_NAME, size: 50) { interval } } }"},
        ).json()
    assert stats["count"] == total
    assert stats["timeline"]["interval"] == "1y"
    assert sum(bucket["count"] for bucket in stats["timeline"]["buckets"]) == total
    assert [error["extensions"]["code"] for error in too_many["errors"]] == ["BAD_USER_INPUT"]


def _paths(fields, prefix=()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every mapped field with its path, nested ones included; not opaque or required ones."""
    for event_field in fields:
        if event_field.kind is Kind.JSON or event_field.required:
            continue
        path = (*prefix, event_field.name)
        yield path, event_field
        yield from _paths(event_field.children, path)


def _set(record: dict[str, Any], path: tuple[str, ...], value: object) -> None:
    for name in path[:-1]:
        record = record.setdefault(name, {})
    record[path[-1]] = value


def test_a_wrong_type_at_any_depth_leaves_only_its_top_level_field_unindexed(es, alias, tmp_path):
    records, expected = [], {}
    for path, event_field in _paths(EVENT_FIELDS):
        event_id = "nested-" + ".".join(path)
        record = good(event_id)
        _set(record, path, "a string" if event_field.kind is Kind.OBJECT else {"an": "object"})
        records.append(record)
        expected[event_id] = unindexed_in(
            alias, path[0], object_for_value=event_field.kind is not Kind.OBJECT
        )
    (tmp_path / "nested.json").write_text(json.dumps({"Records": records}))
    summary = index_sources([str(tmp_path)], client=es, alias=alias)
    # 21 top-level fields; under userIdentity 11, sessionContext 3, sessionIssuer 5, attributes
    # 2, onBehalfOf 2; under resources 3 and tlsDetails 3.
    assert summary.indexed == len(records) == 50
    assert summary.clean
    es.indices.refresh(index=alias)
    hits = es.search(index=alias, size=100, source=["eventID"])["hits"]["hits"]
    assert {hit["_source"]["eventID"]: hit["_index"] for hit in hits} == expected
