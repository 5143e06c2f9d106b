"""Reading in worker processes (``--parse-workers``): the same documents, in the same order.

What the workers give back is compared with what :func:`file_documents` gives in this
process for the same files, item by item; and the samples indexed through workers are
compared with the files' own records. The pipeline's handling of each item is the same code
either way (tests/indexer/test_index.py and test_hostile_records.py run both ways).
"""

from __future__ import annotations

import gzip
import io
import logging
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import BinaryIO

import orjson
import pytest

from common.layout import DayRange
from indexer import parallel
from indexer.documents import DocumentMaker, TimeWindow, file_documents
from indexer.parallel import ParallelReader, ReadFile
from indexer.pipeline import IndexOptions
from indexer.run import index_sources
from indexer.sources import TrailFile, local_files
from schema.paths import INDEXED_AT
from tests.helpers import drop_alias
from tests.indexer.continuous import wait_until
from tests.samples import SAMPLES, records_of, sigma_files
from trailql.cli import main
from trailql.output import EXIT_ERROR

ALIAS = "parallel-test"


def _sample_files() -> list[TrailFile]:
    found = [item for item in local_files(SAMPLES, DayRange()) if isinstance(item, TrailFile)]
    assert len(found) == 55 + 35  # the samples' README: 55 delivered files, 35 arrays
    return found


def _in_this_process(trail_file: TrailFile) -> list[object]:
    maker = DocumentMaker(ALIAS, TimeWindow())
    with trail_file.open() as stream:
        return list(file_documents(stream, trail_file.name, maker))


def _read(files: list[TrailFile], workers: int = 2) -> list[ReadFile]:
    with ParallelReader(ALIAS, TimeWindow(), workers) as reader:
        return list(reader.read(files))


def test_workers_give_each_file_what_this_process_would_in_order():
    files = _sample_files()
    read = _read(files)
    assert [outcome.trail_file.name for outcome in read] == [f.name for f in files]
    for trail_file, outcome in zip(files, read, strict=True):
        assert outcome.unreadable is None
        assert outcome.items == _in_this_process(trail_file), trail_file.name


def test_files_too_large_to_hand_over_are_left_to_the_caller(monkeypatch):
    files = _sample_files()
    sizes = sorted(Path(f.name).stat().st_size for f in files)
    limit = sizes[len(sizes) // 2]
    monkeypatch.setattr(parallel, "LARGEST_HANDED_OVER", limit)
    read = _read(files)
    left = [outcome.trail_file.name for outcome in read if outcome.items is None]
    assert left == [f.name for f in files if Path(f.name).stat().st_size > limit]
    assert 0 < len(left) < len(files)
    for trail_file, outcome in zip(files, read, strict=True):
        if outcome.items is not None:
            assert outcome.items == _in_this_process(trail_file), trail_file.name


def test_a_file_that_cannot_be_opened_is_named_with_why(tmp_path):
    missing = str(tmp_path / "gone.json.gz")
    [outcome] = _read([_local(Path(missing))])
    assert outcome.items is None
    assert outcome.unreadable is not None
    assert outcome.unreadable.where == missing
    assert outcome.unreadable.reason.startswith("cannot read: [Errno 2] No such file")


def test_after_a_worker_dies_the_caller_reads_every_file_left(caplog):
    files = _sample_files()
    with ParallelReader(ALIAS, TimeWindow(), 2) as reader:
        [first] = list(reader.read(files[:1]))
        assert first.items == _in_this_process(files[0])
        for pid in list(reader._pool._processes):
            os.kill(pid, signal.SIGKILL)
        with caplog.at_level(logging.WARNING, logger="indexer.parallel"):
            rest = list(reader.read(files[1:]))
    assert [outcome.trail_file.name for outcome in rest] == [f.name for f in files[1:]]
    assert all(outcome.items is None and outcome.unreadable is None for outcome in rest)
    assert "a parsing worker died; the files left are read in this process" in caplog.text


def _local(path: Path) -> TrailFile:
    def opened() -> BinaryIO:
        return path.open("rb")

    return TrailFile(str(path), opened, str(path))


def _gzip_file(path: Path, data: bytes) -> TrailFile:
    path.write_bytes(gzip.compress(data))
    return _local(path)


def test_what_inflates_past_a_batchs_budget_or_is_not_one_gzip_goes_back_to_the_caller(
    tmp_path,
):
    """Memory stays bounded by what a batch may inflate; the caller streams the rest."""
    record = orjson.dumps(records_of(sigma_files()[0])[0])
    padding = b" " * (parallel.BATCH_INFLATED_LIMIT + 1)  # about 17 KB as gzip
    files = [
        _gzip_file(tmp_path / "a.json.gz", b'{"Records": [' + record + b"]}"),
        _gzip_file(tmp_path / "padded.json.gz", b'{"Records": [' + record + padding + b"]}"),
        _gzip_file(tmp_path / "twice.json.gz", gzip.compress(b'{"Records": []}')),
        _gzip_file(tmp_path / "z.json.gz", b'{"Records": [' + record + b"]}"),
    ]
    members = tmp_path / "members.json.gz"
    members.write_bytes(gzip.compress(b'{"Records": [') + gzip.compress(record + b"]}"))
    files.insert(3, _local(members))
    read = _read(files)
    assert [outcome.items is None for outcome in read] == [False, True, True, True, False]
    assert read[0].items == _in_this_process(files[0])
    assert read[4].items == _in_this_process(files[4])


def test_an_s3_object_listed_as_too_large_is_not_downloaded_to_be_handed_over():
    opened: list[str] = []

    def opener() -> BinaryIO:
        opened.append("big")
        return io.BytesIO(b"")

    big = TrailFile("s3://b/big.json.gz", opener, size=parallel.LARGEST_HANDED_OVER + 1)
    [outcome] = _read([big])
    assert (outcome.items, outcome.unreadable, opened) == (None, None, [])


def test_workers_leave_when_the_indexer_is_killed(trail_100k, es_connection, alias, tmp_path):
    """SIGKILL (or the OOM killer) gives the indexer no chance to stop them: they see it go."""
    folder = os.path.commonpath([str(trail_object.path) for trail_object in trail_100k])
    command = [sys.executable, "-m", "trailql", "index", "--parse-workers", "2", folder]
    environment = {**os.environ, **es_connection.environment(), "TRAILQL_INDEX": alias}
    log = tmp_path / "indexer.log"
    with log.open("wb") as stderr:
        indexer = subprocess.Popen(
            command, env=environment, stdout=subprocess.DEVNULL, stderr=stderr
        )
    try:
        wait_until(
            lambda: _workers_started(indexer, log),
            timeout=120,
            what="the indexer's workers",
        )
        descendants = _descendants(indexer.pid)
    finally:
        indexer.kill()
        indexer.wait()
    wait_until(
        lambda: not any(Path(f"/proc/{pid}").exists() for pid in descendants),
        timeout=60,
        what=f"processes {sorted(descendants)} to leave",
    )


def _workers_started(indexer: subprocess.Popen[bytes], log: Path) -> bool:
    """Whether the forkserver and 2 workers run below the indexer; it must not have ended."""
    if indexer.poll() is not None:
        raise AssertionError(f"the indexer ended first ({indexer.returncode}): {log.read_text()}")
    return len(_descendants(indexer.pid)) >= 3


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (from /proc), zombies left out."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, parent = stat.read_text().rsplit(")", 1)[1].split()[:2]
        except (OSError, ValueError):
            continue
        if state != "Z":
            children.setdefault(int(parent), []).append(int(stat.parent.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _sources(es, alias: str) -> dict[str, dict[str, object]]:
    hits = es.search(index=alias, size=10_000, sort=["_doc"])["hits"]["hits"]
    return {
        hit["_id"]: {k: v for k, v in hit["_source"].items() if k != INDEXED_AT} for hit in hits
    }


def test_the_samples_indexed_through_workers_are_stored_as_by_one_process(
    es, samples_alias, sample_records, monkeypatch
):
    """Half the files (the larger) are too large to hand over here: read by this process."""
    files = _sample_files()
    sizes = sorted(Path(f.name).stat().st_size for f in files)
    monkeypatch.setattr(parallel, "LARGEST_HANDED_OVER", sizes[len(sizes) // 2])
    serial_alias, _ = samples_alias
    alias = f"trailql-parallel-{uuid.uuid4().hex[:10]}"
    try:
        summary = index_sources(
            [str(SAMPLES)], client=es, alias=alias, options=IndexOptions(parse_workers=2)
        )
        assert (summary.files_read, summary.records_read, summary.indexed) == (90, 3210, 3210)
        assert summary.clean
        stored = _sources(es, alias)
        assert set(stored) == {record["eventID"] for record in sample_records}
        assert stored == _sources(es, serial_alias)
    finally:
        drop_alias(es, alias)


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        (["--parse-workers", "0", "x"], "--parse-workers must be 1 to 64"),
        (["--parse-workers", "65", "x"], "--parse-workers must be 1 to 64"),
        (
            ["--parse-workers", "2", "--follow", "s3://bucket/prefix"],
            "--parse-workers is for a one-off load of SOURCEs",
        ),
        (
            ["--parse-workers", "2", "--sqs-queue-url", "http://queue"],
            "--parse-workers is for a one-off load of SOURCEs",
        ),
    ],
)
def test_parse_workers_out_of_range_or_with_a_continuous_mode_is_refused(arguments, said, capsys):
    assert main(["index", *arguments]) == EXIT_ERROR
    assert said in capsys.readouterr().err
