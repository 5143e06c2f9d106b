"""A rolling restart of all three nodes, one at a time, under continuous indexing and queries.

Each node goes the way the README's procedure says: replica allocation paused, the node
stopped and started again, allocation back on, green before the next. Trail files keep
arriving throughout; nothing is lost, and the only errors the API gives are documented,
retryable ones (counted, for the capacity note).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from typing import Self

import pytest

from common.indices import state_index
from tests.cluster.conftest import CLUSTER_PORT, NODES
from tests.cluster.load import RETRYABLE, QueryLoad, wait_for_health
from tests.indexer.continuous import (
    TrailObject,
    all_ids,
    count,
    indexed_ids,
    upload,
    wait_until,
    worker_environment,
)
from trailql import local_elasticsearch

pytestmark = pytest.mark.cluster

UPLOAD_PAUSE = 0.5  # seconds between trail files: 800 events a second keep arriving
GUARD = 900  # seconds: a guard against a hang, never a measurement


class _Uploads:
    """Trail files put in the bucket one by one, until stopped or none is left."""

    def __init__(self, s3, bucket: str, trail: list[TrailObject]) -> None:
        self.done: list[TrailObject] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(s3, bucket, trail), daemon=True)

    def _run(self, s3, bucket: str, trail: list[TrailObject]) -> None:
        for trail_object in trail:
            if self._stop.wait(UPLOAD_PAUSE):
                return
            upload(s3, bucket, [trail_object])
            self.done.append(trail_object)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> list[TrailObject]:
        """No more files; those uploaded."""
        self._stop.set()
        self._thread.join(timeout=60)
        assert not self._thread.is_alive()
        return list(self.done)


def _files_done(es, alias: str) -> int:
    if not es.indices.exists(index=state_index(alias)):
        return 0
    es.indices.refresh(index=state_index(alias))
    return int(es.count(index=state_index(alias))["count"])


def _restart(es, port: int) -> None:
    """One node, as the README's rolling-restart procedure says."""
    es.cluster.put_settings(persistent={"cluster.routing.allocation.enable": "primaries"})
    local_elasticsearch.down(port=port)
    local_elasticsearch.up_cluster(nodes=NODES, port=CLUSTER_PORT, heap="512m")
    es.cluster.put_settings(persistent={"cluster.routing.allocation.enable": None})
    wait_for_health(es, "green", nodes=NODES)


def test_a_rolling_restart_under_load_loses_nothing_and_errors_only_retryably(  # noqa: PLR0917
    cluster_es,
    cluster_connection,
    cluster_alias,
    reference,
    reference_api,
    aws,
    moto_endpoint,
    names,
    trail_100k,
    tmp_path,
):
    es = cluster_es
    alias = cluster_alias("rolling")
    s3, _ = aws
    s3.create_bucket(Bucket=names)
    command = [sys.executable, "-m", "trailql", "index", f"s3://{names}/", "--follow"]
    command += ["--poll-interval", "1"]
    env = worker_environment(cluster_connection, alias, moto_endpoint) | {"TRAILQL_REPLICAS": "1"}
    # Its log to a file: a pipe nobody reads while it runs would fill and block it.
    log = (tmp_path / "follower.log").open("w+b")
    follower = subprocess.Popen(command, env=env, stdout=log, stderr=log)
    load = QueryLoad(reference_api.url, reference.questions)
    restarts: list[float] = []
    try:
        with load, _Uploads(s3, names, trail_100k) as uploads:
            wait_until(lambda: count(es, alias) >= 4_000, timeout=GUARD, what="the load")
            for port in range(CLUSTER_PORT, CLUSTER_PORT + NODES):
                started = time.monotonic()
                _restart(es, port)
                restarts.append(time.monotonic() - started)
            uploaded = uploads.stop()
            wait_until(
                lambda: _files_done(es, alias) == len(uploaded), timeout=GUARD, what="the load"
            )
        follower.send_signal(signal.SIGTERM)
        follower.wait(timeout=120)
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()
        log.close()
        es.options(ignore_status=404).indices.delete(index=state_index(alias))

    assert follower.returncode == 0, (tmp_path / "follower.log").read_text()[-3000:]
    ids = indexed_ids(es, alias)
    assert Counter(ids).most_common(1)[0][1] == 1
    assert set(ids) == all_ids(uploaded)
    outcomes = load.outcomes()
    print(  # noqa: T201 -- the figures the capacity note quotes (pytest -s)
        f"\nrolling restart: {len(uploaded)} files ({len(ids):,} events) uploaded throughout; "
        f"restarts took {', '.join(f'{seconds:.0f} s' for seconds in restarts)}; "
        f"answers: {dict(outcomes)}"
    )
    assert outcomes["right"] > len(reference.questions) * NODES
    assert set(outcomes) - {"right"} <= RETRYABLE, [
        answer for answer in load.answers if answer.outcome != "right"
    ][:5]
