"""``--follow``: new files are loaded as they arrive, once, and a restart remembers.

Also the command line around the continuous modes: JSON lines when not at a terminal,
Prometheus metrics with ``--metrics-port``, exit 0 on SIGTERM.
"""

from __future__ import annotations

import gzip
import io
import signal
import subprocess
import sys
import threading
import urllib.request
from collections import Counter
from datetime import datetime
from typing import Any

import pytest

from bench.api_server import free_port
from indexer.follow import FollowOptions, follow
from indexer.pipeline import IndexOptions
from indexer.report import JsonLinesReport
from tests.indexer.continuous import (
    all_ids,
    count,
    indexed_ids,
    json_lines,
    recorded_files,
    upload,
    wait_until,
    worker_environment,
)

DIGEST = "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2025/03/01/digest.json.gz"


class _Follower:
    def __init__(self, es, alias: str, source: str) -> None:
        self.log = io.StringIO()
        self.stop = threading.Event()
        options = FollowOptions((source,), poll_seconds=0.5, load=IndexOptions())
        self.thread = threading.Thread(
            target=follow,
            args=(options,),
            kwargs={
                "client": es,
                "alias": alias,
                "stop": self.stop,
                "report": JsonLinesReport(self.log, debug=True),
            },
        )
        self.thread.start()

    def lines(self) -> list[dict[str, Any]]:
        return json_lines(self.log.getvalue())

    def polls(self) -> int:
        return sum(1 for line in self.lines() if line["message"] == "polled")

    def finish(self) -> list[dict[str, Any]]:
        self.stop.set()
        self.thread.join(timeout=60)
        assert not self.thread.is_alive()
        return self.lines()


def test_new_files_are_loaded_once_and_a_restart_loads_only_what_changed(
    es, stateful_alias, aws, names, trail_40
):
    alias = stateful_alias
    s3, _ = aws
    s3.create_bucket(Bucket=names)
    first, later = trail_40[2:12], trail_40[12:22]  # CloudTrail's layout: under AWSLogs/
    upload(s3, names, first)
    s3.put_object(Bucket=names, Key=DIGEST, Body=b"{}")

    follower = _Follower(es, alias, f"s3://{names}/AWSLogs/")
    try:
        wait_until(lambda: recorded_files(es, alias) == 10, timeout=60, what="the first files")
        upload(s3, names, later)
        wait_until(
            lambda: recorded_files(es, alias) == 20, timeout=60, what="the files added later"
        )
    finally:
        lines = follower.finish()
    loaded = Counter(line["file"] for line in lines if line.get("outcome") == "loaded")
    assert loaded == Counter(f"s3://{names}/{o.key}" for o in first + later)
    assert set(indexed_ids(es, alias)) == all_ids(first + later)
    assert count(es, alias) == 2_000

    # The same file written again (other bytes, other ETag) is loaded again; nothing else is.
    changed = first[0]
    records = gzip.decompress(changed.path.read_bytes())
    s3.put_object(Bucket=names, Key=changed.key, Body=gzip.compress(records, compresslevel=1))
    restarted = _Follower(es, alias, f"s3://{names}/AWSLogs/")
    try:
        wait_until(lambda: restarted.polls() >= 2, timeout=60, what="two polls")
    finally:
        lines = restarted.finish()
    loaded_again = [line for line in lines if line.get("outcome") == "loaded"]
    assert [(line["file"], line["already_present"]) for line in loaded_again] == [
        (f"s3://{names}/{changed.key}", 100)
    ]
    skipped = {line["file"] for line in lines if line.get("outcome") == "already loaded"}
    assert skipped == {f"s3://{names}/{o.key}" for o in first[1:] + later} | {
        f"s3://{names}/{DIGEST}"  # checked (not a digest at all) and recorded the first time
    }
    assert count(es, alias) == 2_000


def test_the_command_logs_json_serves_metrics_and_exits_0_on_sigterm(  # noqa: PLR0917
    es, es_connection, stateful_alias, aws, moto_endpoint, names, trail_40
):
    alias = stateful_alias
    s3, _ = aws
    s3.create_bucket(Bucket=names)
    uploaded = trail_40[:5]  # two of them with a space and a plus sign in their keys
    upload(s3, names, uploaded)
    port = free_port()
    command = [sys.executable, "-m", "trailql", "index", f"s3://{names}/", "--follow"]
    command += ["--poll-interval", "1", "--metrics-port", str(port)]
    env = worker_environment(es_connection, alias, moto_endpoint)
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: recorded_files(es, alias) == 5, timeout=60, what="the files")
        # A file's state is written before it is counted: the count may come a moment later.
        scraped: list[str] = []

        def counted() -> bool:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
                scraped.append(answer.read().decode())
            return 'trailql_indexer_files_total{outcome="read"} 5.0' in scraped[-1]

        wait_until(counted, timeout=60, what="the files counted")
        metrics = scraped[-1]
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert process.returncode == 0, stderr.decode()
    assert stdout == b""
    assert 'trailql_indexer_events_total{outcome="indexed"} 500.0' in metrics
    assert 'trailql_indexer_files_total{outcome="read"} 5.0' in metrics
    assert 'trailql_elasticsearch_request_seconds_count{kind="bulk"}' in metrics
    lines = json_lines(stderr.decode())
    for line in lines:
        assert list(line)[:3] == ["time", "level", "message"]
        assert datetime.fromisoformat(line["time"]).utcoffset() is not None
    loaded = [line for line in lines if line["message"] == "file loaded"]
    assert {line["file"] for line in loaded} == {f"s3://{names}/{o.key}" for o in uploaded}
    assert {(line["events"], line["outcome"], line["level"]) for line in loaded} == {
        (100, "loaded", "info")
    }
    assert [line["message"] for line in lines][-2:] == [
        "stopping after the current batch",
        "follower stopped",
    ]
    assert set(indexed_ids(es, alias)) == all_ids(uploaded)


@pytest.mark.usefixtures("aws")
def test_a_prefix_that_cannot_be_listed_is_reported(stateful_alias, monkeypatch, capsys):
    from trailql.cli import EXIT_ERROR, main  # noqa: PLC0415

    monkeypatch.setenv("TRAILQL_INDEX", stateful_alias)
    assert main(["index", "s3://no-such-bucket/AWSLogs/", "--follow"]) == EXIT_ERROR
    assert "s3://no-such-bucket/AWSLogs/: " in capsys.readouterr().err


def test_a_queue_that_cannot_be_read_is_reported(stateful_alias, aws, monkeypatch, capsys):
    from trailql.cli import EXIT_ERROR, main  # noqa: PLC0415

    _, sqs = aws
    monkeypatch.setenv("TRAILQL_INDEX", stateful_alias)
    missing = f"{sqs.meta.endpoint_url}/123456789012/no-such-queue"
    assert main(["index", "--sqs-queue-url", missing]) == EXIT_ERROR
    assert f"{missing}: " in capsys.readouterr().err
