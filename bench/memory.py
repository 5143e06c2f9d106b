"""Measure 2: the indexer's peak memory on one big trail file.

One plain ``{"Records": [...]}`` file of the size asked for (500 MB by default), written from
generated records; ``trailql index FILE`` loads it in a process of its own. Files over the
reader's whole-file limit (32 MiB) are streamed, so memory should not follow the file's size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.cluster import Aliases
from bench.datasets import BigFile
from bench.peak_rss import run_indexer
from common.elastic import Connection
from indexer.reader import WHOLE_FILE_LIMIT


@dataclass(frozen=True)
class MemoryFigures:
    """What measure 2 found."""

    file_mb: float
    events: int
    streamed: bool
    peak_rss_mb: float
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        """For results.json."""
        return {
            "file_mb": round(self.file_mb, 1),
            "events": self.events,
            "streamed": self.streamed,
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "events_per_second": round(self.events / self.seconds),
        }


def measure_memory(connection: Connection, aliases: Aliases, big: BigFile) -> MemoryFigures:
    """Index the big file with ``trailql index`` into a fresh alias; its peak RSS."""
    alias = aliases.new("rss")
    try:
        run = run_indexer(connection, alias, [big.path])
    finally:
        aliases.drop(alias)
    figures = MemoryFigures(
        big.size / 1_000_000, big.events, big.size > WHOLE_FILE_LIMIT, run.peak_rss_mb, run.seconds
    )
    print(
        f"  {figures.file_mb:,.0f} MB file, {big.events:,} events: peak RSS "
        f"{run.peak_rss_mb:,.0f} MB, {figures.events / run.seconds:,.0f} events/s",
        flush=True,
    )
    return figures
