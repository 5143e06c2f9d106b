"""``trailql index`` as a subprocess, and its peak resident memory.

The peak is the kernel's high-water mark of the child's own address space (``VmHWM`` in
``/proc/<pid>/status``), read every few milliseconds until it exits. Not ``ru_maxrss``: the
kernel carries the parent's high-water mark into a child at ``exec``, so a child of a large
benchmark process would report the benchmark's memory, not its own. ``VmHWM`` starts afresh
with the new program and only grows, so the last reading (a few milliseconds before the
exit at most) is the peak.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from common.elastic import Connection

_POLL_SECONDS = 0.005


@dataclass(frozen=True)
class IndexerRun:
    """One ``trailql index`` run: its peak RSS and how long it took."""

    peak_rss_mb: float
    seconds: float


def connection_environment(connection: Connection, alias: str) -> dict[str, str]:
    """The environment that points a ``trailql`` command at the cluster and alias."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ELASTICSEARCH_", "TRAILQL_INDEX"))
    }
    environment.update(connection.environment())
    environment["TRAILQL_INDEX"] = alias
    return environment


def _high_water_kib(pid: int) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


class HighWaterMark:
    """Follows a process's VmHWM from a thread until the process is gone."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        while not self._stop.is_set():
            kib = _high_water_kib(self.pid)
            if kib is None:
                return
            self.kib = max(self.kib, kib)
            self._stop.wait(_POLL_SECONDS)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def run_indexer(connection: Connection, alias: str, sources: list[Path]) -> IndexerRun:
    """Run ``trailql index SOURCES`` into ``alias``; fail loudly if it does not index cleanly."""
    command = [sys.executable, "-m", "trailql", "index", *map(str, sources)]
    with tempfile.TemporaryFile() as log:
        started = time.perf_counter()
        child = subprocess.Popen(
            command,
            env=connection_environment(connection, alias),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        high_water = HighWaterMark(child.pid)
        exit_code = child.wait()
        seconds = time.perf_counter() - started
        high_water.stop()
        if exit_code != 0:
            log.seek(0)
            output = log.read().decode(errors="replace")[-4000:]
            raise RuntimeError(f"trailql index exited {exit_code}:\n{output}")
    return IndexerRun(high_water.kib / 1024, seconds)
