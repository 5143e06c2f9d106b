"""Indexing trail files into the real Elasticsearch: counts, reruns, and broken input."""

from __future__ import annotations

import gzip
import json
import shutil
import time
from pathlib import Path

import pytest

from indexer.run import index_sources
from schema.paths import INDEXED_AT, LOG_FILE
from tests.samples import SAMPLES, STRATUS, records_of, sigma_files
from trailql.cli import EXIT_INCOMPLETE, EXIT_OK, main

# Correctness that must hold on every engine: scripts/test-engines runs these on each.
pytestmark = pytest.mark.engines


def _count(es, alias: str) -> int:
    return int(es.count(index=alias)["count"])


def test_the_samples_are_indexed_in_full(samples_alias, sample_records):
    _, summary = samples_alias
    assert summary.files_read == 55 + 35
    assert summary.records_read == len(sample_records) == 3210
    assert summary.indexed == 3210
    assert summary.failed_files == []
    assert summary.rejected_records == []


def test_indexing_the_same_files_again_changes_no_count(es, samples_alias):
    alias, _ = samples_alias
    before = _count(es, alias)
    again = index_sources([str(SAMPLES)], client=es, alias=alias)
    assert (again.indexed, again.already_present) == (0, 3210)
    assert _count(es, alias) == before == 3210


def test_each_month_of_event_time_gets_its_own_index(es, samples_alias, sample_records):
    alias, _ = samples_alias
    months = {r["eventTime"][:7].replace("-", ".") for r in sample_records}
    indices = set(es.indices.get_alias(name=alias))
    assert indices == {f"{alias}-{month}" for month in months}


def _write_gzip(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data))


@pytest.mark.parametrize("parse_workers", ["1", "2"])
def test_broken_files_are_named_and_the_good_records_kept(  # noqa: PLR0917
    es, alias, tmp_path, monkeypatch, capsys, parse_workers
):
    good_ids: set[str] = set()
    stratus = STRATUS / "aws.defense-evasion.cloudtrail-delete.json"
    for path in [*sigma_files()[:3], stratus]:
        shutil.copy(path, tmp_path / path.name)
        good_ids |= {r["eventID"] for r in records_of(path)}

    # A truncated gzip: the first half of the largest delivered file.
    damaged = max(sigma_files(), key=lambda path: path.stat().st_size)
    whole = damaged.read_bytes()
    (tmp_path / "truncated.json.gz").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "invalid.json").write_text('{"Records": [{"eventID": "x", ')
    (tmp_path / "not-cloudtrail.json").write_text('{"name": "left-pad", "version": "1.3.0"}')
    valid = {"eventVersion": "1.08", "eventSource": "logs.amazonaws.com", "eventName": "X"}
    no_id = {**valid, "eventTime": "2023-07-10T12:00:00Z"}
    no_time = {**valid, "eventID": "00000000-0000-4000-8000-000000000001"}
    kept = {
        **valid,
        "eventID": "00000000-0000-4000-8000-000000000002",
        "eventTime": "2023-07-10T12:00:00Z",
    }
    _write_gzip(
        tmp_path / "AWSLogs/1/CloudTrail/us-east-1/2023/07/10/bad-records.json.gz",
        json.dumps({"Records": [no_id, kept, no_time]}).encode(),
    )
    good_ids.add(kept["eventID"])

    monkeypatch.setenv("TRAILQL_INDEX", alias)
    exit_code = main(["index", "--parse-workers", parse_workers, str(tmp_path)])
    report = capsys.readouterr().err

    assert exit_code == EXIT_INCOMPLETE
    ids = {hit["_id"] for hit in es.search(index=alias, size=10_000, source=False)["hits"]["hits"]}
    assert good_ids <= ids
    assert f"{tmp_path / 'truncated.json.gz'}: damaged gzip data" in report
    assert f"{tmp_path / 'invalid.json'}: invalid JSON" in report
    assert f"{tmp_path / 'not-cloudtrail.json'}: not a CloudTrail log file" in report
    assert "bad-records.json.gz: record 1: record has no eventID" in report
    assert "bad-records.json.gz: record 3: record has no eventTime" in report

    # The truncated file gave up its complete records before the damage, and no others.
    truncated_ids = [r["eventID"] for r in records_of(damaged)]
    salvaged = [event_id for event_id in truncated_ids if event_id in ids]
    assert salvaged == truncated_ids[: len(salvaged)]
    assert 0 < len(salvaged) < len(truncated_ids)
    assert ids == good_ids | set(salvaged)


def test_a_clean_run_exits_zero(alias, monkeypatch):
    monkeypatch.setenv("TRAILQL_INDEX", alias)
    assert main(["index", str(STRATUS)]) == EXIT_OK


def test_a_missing_source_is_reported(alias, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("TRAILQL_INDEX", alias)
    assert main(["index", str(tmp_path / "nowhere")]) == EXIT_INCOMPLETE
    assert "no such file or folder" in capsys.readouterr().err


@pytest.mark.parametrize(
    "name", ["x_CloudTrail-Digest_y.json.gz", "x_CloudTrail-Insight_y.json.gz"]
)
def test_digest_and_insight_files_are_skipped_with_a_note(es, alias, tmp_path, name):
    _write_gzip(tmp_path / name, b'{"Records": []}')
    summary = index_sources([str(tmp_path)], client=es, alias=alias)
    assert summary.files_read == 0
    assert sum(summary.skipped.values()) == 1
    assert summary.clean


def test_records_are_stored_as_their_own_bytes_say(es, alias, tmp_path):
    # Escapes and spacing orjson would not write; an integer beyond 64 bits; a key twice,
    # which Elasticsearch refuses as it stands (the record is sent again as orjson writes it).
    texts = [
        (
            b'{"eventVersion":"1.09","eventID":"own-1","eventTime":"2023-07-10T12:00:00Z",'
            b'"requestParameters":{"n":123456789012345678901234567890,"s":"\\u00e9\\/"}}'
        ),
        b'{"eventVersion":"1.09", "eventID" : "own-2", "eventTime":"2023-07-10T12:00:00Z"}',
        (
            b'{"eventVersion":"1.09","eventID":"own-3","eventTime":"2023-07-10T12:00:00Z",'
            b'"eventName":"First","eventName":"Second"}'
        ),
    ]
    (tmp_path / "own.json.gz").write_bytes(
        gzip.compress(b'{"Records":[' + b",".join(texts) + b"]}")
    )
    before = time.time_ns() // 1_000_000
    summary = index_sources([str(tmp_path)], client=es, alias=alias)
    after = time.time_ns() // 1_000_000
    assert (summary.indexed, summary.rejected_records) == (3, [])
    es.indices.refresh(index=alias)
    for number, text in enumerate(texts, start=1):
        hits = es.search(index=alias, query={"ids": {"values": [f"own-{number}"]}})["hits"]
        [hit] = hits["hits"]
        # The client reads integers beyond 64 bits as floats, as orjson does.
        assert hit["_source"] == json.loads(text, parse_int=_int_or_float)
    # Each carries its file and the time it was sent, the one sent again too (stamped anew,
    # not with the 0 the refused document was read back with).
    own_file = {"term": {LOG_FILE: str(tmp_path / "own.json.gz")}}
    sent_then = {"range": {INDEXED_AT: {"gte": before, "lte": after, "format": "epoch_millis"}}}
    found = es.count(index=alias, query={"bool": {"filter": [own_file, sent_then]}})
    assert found["count"] == 3


def _int_or_float(digits: str) -> int | float:
    value = int(digits)
    return value if -(2**63) <= value < 2**64 else float(value)
