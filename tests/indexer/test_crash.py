"""A follower killed again and again in the middle of a 100,000-event load loses nothing.

The follower is a real process (``python -m trailql index s3://… --follow``) killed with
SIGKILL at ten seeded-random points of the load (by events indexed so far) and started again
each time; then stopped once with SIGTERM, which must finish its chunk and exit 0. A file is
recorded in the state index only after all its events are acknowledged, so a restarted
follower loads again exactly the files that were not finished; ``create`` with the eventID
as ``_id`` keeps one copy of each event it sends a second time.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
from pathlib import Path

from common.indices import state_index
from tests.indexer.continuous import (
    all_ids,
    count,
    indexed_ids,
    json_lines,
    upload,
    wait_until,
    worker_environment,
)

KILLS = 10
SEED = 20251123


class _Follower:
    """Starts the follower as the CLI runs it; its JSON log goes to a file per start."""

    def __init__(self, source: str, env: dict[str, str], logs: Path) -> None:
        self._command = [sys.executable, "-m", "trailql", "index", source, "--follow"]
        # Chunks of 4,000 events: a kill loses at most the chunk in hand, so ten kills
        # leave most of the 100,000 for the SIGTERM that follows (2 MiB chunks held 14,000,
        # and ten kills could reach the end of the load first).
        self._command += ["--poll-interval", "1", "--chunk-files", "10"]
        self._env = env
        self._logs = logs
        self.starts = 0
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.starts += 1
        with self._log(self.starts).open("wb") as log:
            self.process = subprocess.Popen(
                self._command, env=self._env, stdout=subprocess.DEVNULL, stderr=log
            )

    def signal(self, number: signal.Signals) -> int:
        assert self.process is not None
        self.process.send_signal(number)
        return self.process.wait(timeout=60)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def last_log(self) -> str:
        return self._log(self.starts).read_text()

    def _log(self, start: int) -> Path:
        return self._logs / f"follower-{start}.log"


def _files_recorded(es, alias: str) -> int:
    es.indices.refresh(index=state_index(alias))
    return int(es.count(index=state_index(alias))["count"])


def test_sigkill_at_ten_random_points_then_sigterm_loses_nothing(  # noqa: PLR0917
    es, es_connection, stateful_alias, aws, moto_endpoint, names, trail_100k, tmp_path
):
    alias = stateful_alias
    s3, _ = aws
    s3.create_bucket(Bucket=names)
    upload(s3, names, trail_100k)
    expected = all_ids(trail_100k)
    assert len(expected) == 100_000

    env = worker_environment(es_connection, alias, moto_endpoint)
    follower = _Follower(f"s3://{names}/AWSLogs/", env, tmp_path)
    kill_points = sorted(random.Random(SEED).sample(range(2_000, 90_000), KILLS))  # noqa: S311
    try:
        for point in kill_points:
            # Each run gets past its start and indexes something new before it is killed.
            threshold = max(point, count(es, alias) + 1)
            follower.start()

            def far_enough(threshold: int = threshold) -> bool:
                if not follower.running():
                    return True  # and fails the assertion below, with its log
                return count(es, alias) >= threshold and "following" in follower.last_log()

            wait_until(far_enough, timeout=120, what=f"{threshold:,} events indexed")
            assert follower.running(), follower.last_log()
            assert follower.signal(signal.SIGKILL) == -signal.SIGKILL

        # SIGTERM in the middle of the load: the chunk in hand is finished, then exit 0.
        follower.start()
        target = count(es, alias) + 2_000
        # Its own events, not the killed one's last bulk landing late: SIGTERM before it has
        # started following would find no handler yet.
        wait_until(
            lambda: count(es, alias) >= target and "following" in follower.last_log(),
            timeout=120,
            what="more events",
        )
        assert follower.signal(signal.SIGTERM) == 0, follower.last_log()
        assert json_lines(follower.last_log())[-1]["message"] == "follower stopped"

        follower.start()
        wait_until(lambda: "following" in follower.last_log(), timeout=60, what="the start")
        wait_until(
            lambda: _files_recorded(es, alias) == len(trail_100k),
            timeout=180,
            what="every file recorded as loaded",
        )
        assert follower.signal(signal.SIGTERM) == 0, follower.last_log()
    finally:
        if follower.running():
            follower.signal(signal.SIGKILL)

    ids = indexed_ids(es, alias)
    assert len(ids) == count(es, alias) == 100_000
    assert set(ids) == expected
    assert follower.starts == KILLS + 2
