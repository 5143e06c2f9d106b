"""Measure 8: ``trailql export``'s peak memory at two sizes, and that it exports every record.

Each size is generated, indexed behind an alias of its own, and exported as NDJSON by
``trailql export`` in a process of its own, whose peak RSS is read as the indexer's is
(:mod:`bench.peak_rss`). The export is then checked against the files: the same records, by
eventID and content. Memory should be flat: one page of records at a time, whatever the size.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any

import orjson

from bench.cluster import Aliases
from bench.datasets import TrailFolder, trail_records
from bench.peak_rss import HighWaterMark, connection_environment
from bench.prepared import index_data_set
from common.elastic import Connection


@dataclass(frozen=True)
class ExportRun:
    """One export: its size, peak RSS, time, and whether it matched the files."""

    events: int
    peak_rss_mb: float
    seconds: float
    output_mb: float

    def as_dict(self) -> dict[str, Any]:
        """For results.json."""
        return {
            "events": self.events,
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "events_per_second": round(self.events / self.seconds),
            "output_mb": round(self.output_mb, 1),
        }


def _export(connection: Connection, alias: str, trail: TrailFolder) -> ExportRun:
    command = [sys.executable, "-m", "trailql", "export"]
    environment = connection_environment(connection, alias) | {"TRAILQL_AUTH_DISABLED": "true"}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as log:
        started = time.perf_counter()
        child = subprocess.Popen(
            command, env=environment, stdin=subprocess.DEVNULL, stdout=out, stderr=log
        )
        high_water = HighWaterMark(child.pid)
        exit_code = child.wait()
        seconds = time.perf_counter() - started
        high_water.stop()
        if exit_code != 0:
            log.seek(0)
            raise RuntimeError(f"trailql export exited {exit_code}:\n{log.read()[-4000:]!r}")
        size = out.tell()
        out.seek(0)
        exported = {record["eventID"]: record for record in map(orjson.loads, out) if record}
    expected = {record["eventID"]: record for record in trail_records(trail)}
    if exported != expected:
        missing, extra = expected.keys() - exported.keys(), exported.keys() - expected.keys()
        raise RuntimeError(
            f"the export of {trail.events:,} events differs from the files: {len(missing)} "
            f"missing, {len(extra)} extra, "
            f"{sum(exported[k] != expected[k] for k in expected.keys() & exported.keys())} changed"
        )
    return ExportRun(trail.events, high_water.kib / 1024, seconds, size / 1_000_000)


def measure_export(
    connection: Connection, aliases: Aliases, trails: list[TrailFolder]
) -> list[ExportRun]:
    """Export each trail after indexing it; each run's figures, smallest first."""
    runs = []
    for trail in trails:
        alias = index_data_set(aliases, f"export-{trail.events}", trail, request_cache=True)
        try:
            run = _export(connection, alias, trail)
        finally:
            aliases.drop(alias)
        print(
            f"  {run.events:,} events: peak RSS {run.peak_rss_mb:,.0f} MB, "
            f"{run.events / run.seconds:,.0f} events/s, {run.output_mb:,.0f} MB of NDJSON, "
            "equal to the files",
            flush=True,
        )
        runs.append(run)
    return runs
