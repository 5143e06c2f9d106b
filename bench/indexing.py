"""Measure 1, indexing: parse and normalise alone, end to end, and the ceiling beside it.

- Parse and normalise: :func:`indexer.run.serialised_documents` over the trail files (the
  indexer's own reading, checking, deriving and serialising, nothing sent), single-threaded:
  events per CPU-second.
- End to end: :func:`indexer.run.index_sources` from the files on disk into a fresh alias,
  refresh included.
- Ceiling: the very same documents as ready ``_bulk`` bodies, sent straight to ``_bulk``
  (see :mod:`bench.ceiling`) into another fresh alias.

End to end and ceiling alternate (ABBA…) over the rounds, each into its own fresh alias,
dropped straight after; the ratio is the median of the rounds' ratios.

Then one end-to-end run with :data:`PARSE_WORKERS` worker processes reading and deriving
(``trailql index --parse-workers``), for its rate and both CPU costs: this process's, and the
workers' (reaped by the forkserver, our child, so its children's time holds theirs).
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.ceiling import SerialisedEvent, bulk_bodies, send_bodies
from bench.cluster import Aliases
from bench.datasets import TrailFolder
from bench.peak_rss import run_indexer
from bench.stats import median
from common.elastic import Connection
from indexer.pipeline import IndexOptions
from indexer.run import IndexSummary, index_sources, serialised_documents

_PARSE_ALIAS = "parse"
#: Worker processes of the end-to-end run that reads in parallel: one per core here.
PARSE_WORKERS = 2


@dataclass
class IndexingFigures:
    """What measure 1 found."""

    events: int
    files: int
    parse_events_per_cpu_second: float
    parse_events_per_second: float
    end_to_end: list[float] = field(default_factory=list)  # events/s, one per round
    ceiling: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)
    cli_peak_rss_mb: float = 0.0
    cli_events_per_second: float = 0.0
    #: CPU time per event: this process end to end (reading, deriving, sending), and the
    #: Elasticsearch node for the ceiling's same documents (None: not a local node).
    indexer_cpu_us: list[float] = field(default_factory=list)
    elasticsearch_cpu_us: list[float] = field(default_factory=list)
    #: End to end with :data:`PARSE_WORKERS` workers: events/s, this process's CPU per event
    #: and the workers' (None: not measured).
    parallel: tuple[float, float, float] | None = None

    @property
    def cpu_ratio(self) -> float | None:
        """Indexer CPU per event ÷ Elasticsearch CPU per event (medians)."""
        if not self.indexer_cpu_us or not self.elasticsearch_cpu_us:
            return None
        return median(self.indexer_cpu_us) / median(self.elasticsearch_cpu_us)

    @property
    def ratio(self) -> float:
        """End to end ÷ ceiling: the median of the rounds' ratios."""
        return median(self.ratios)

    def as_dict(self) -> dict[str, Any]:
        """For results.json."""
        return {
            "events": self.events,
            "files": self.files,
            "parse_events_per_cpu_second": round(self.parse_events_per_cpu_second),
            "parse_events_per_second": round(self.parse_events_per_second),
            "end_to_end_events_per_second": round(median(self.end_to_end)),
            "ceiling_events_per_second": round(median(self.ceiling)),
            "ratio": round(self.ratio, 3),
            "rounds": [
                {"end_to_end": round(e), "ceiling": round(c), "ratio": round(r, 3)}
                for e, c, r in zip(self.end_to_end, self.ceiling, self.ratios, strict=True)
            ],
            "cli_peak_rss_mb": round(self.cli_peak_rss_mb, 1),
            "cli_events_per_second": round(self.cli_events_per_second),
            "indexer_cpu_us_per_event": _median_or_none(self.indexer_cpu_us),
            "elasticsearch_cpu_us_per_event": _median_or_none(self.elasticsearch_cpu_us),
            "cpu_ratio": None if self.cpu_ratio is None else round(self.cpu_ratio, 3),
            "parse_workers": None
            if self.parallel is None
            else {
                "workers": PARSE_WORKERS,
                "events_per_second": round(self.parallel[0]),
                "ratio": round(self.parallel[0] / median(self.ceiling), 3),
                "main_cpu_us_per_event": round(self.parallel[1], 1),
                "workers_cpu_us_per_event": round(self.parallel[2], 1),
            },
        }


def _median_or_none(values: list[float]) -> float | None:
    return round(median(values), 1) if values else None


def _stat_fields(stat: Path) -> list[str] | None:
    """A /proc/<pid>/stat's fields after the command name (the 3rd field on); None if gone."""
    try:
        return stat.read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def process_cpu_seconds(pid: int) -> float | None:
    """A process's CPU time (user and system) so far, from /proc; None if it cannot be read."""
    fields = _stat_fields(Path(f"/proc/{pid}/stat"))
    if fields is None:
        return None
    utime, stime = int(fields[11]), int(fields[12])  # the 14th and 15th fields of stat
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    """CPU time of this process's children, running or reaped, and of what they reaped.

    The local node is not among them: the launcher detaches it.
    """
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = used.ru_utime + used.ru_stime
    me = str(os.getpid())
    for stat in Path("/proc").glob("[0-9]*/stat"):
        fields = _stat_fields(stat)
        if fields is not None and fields[1] == me:
            # utime, stime, cutime, cstime: the 14th to 17th fields of stat
            total += sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    return total


def _parse_and_normalise(trail: TrailFolder) -> tuple[list[SerialisedEvent], float, float]:
    """Every document, and the rates: events per CPU-second and per wall-second."""
    summary = IndexSummary()
    prefix = f"{_PARSE_ALIAS}-"
    events: list[SerialisedEvent] = []
    keep = events.append
    cpu, wall = time.process_time(), time.perf_counter()
    for document in serialised_documents([str(trail.root)], alias=_PARSE_ALIAS, summary=summary):
        keep(
            SerialisedEvent(document.index.removeprefix(prefix), document.event_id, document.source)
        )
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    if not summary.clean or len(events) != trail.events:
        raise RuntimeError(f"the generated trail did not read cleanly: {summary}")
    return events, len(events) / cpu, len(events) / wall


def _end_to_end(
    aliases: Aliases, trail: TrailFolder, options: IndexOptions | None = None
) -> tuple[float, float]:
    """Events per second, and this process's CPU microseconds per event."""
    alias = aliases.new("e2e")
    try:
        started, cpu = time.perf_counter(), time.process_time()
        summary = index_sources(
            [str(trail.root)], client=aliases.client, alias=alias, options=options or IndexOptions()
        )
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        if not summary.clean or summary.indexed != trail.events:
            raise RuntimeError(f"end to end did not index every event: {summary}")
        return trail.events / seconds, cpu / trail.events * 1e6
    finally:
        aliases.drop(alias)


def _ceiling(
    aliases: Aliases, events: list[SerialisedEvent], bulk: IndexOptions, node_pid: int | None
) -> tuple[float, float | None]:
    """Events per second, and the node's CPU microseconds per event (None: not ours)."""
    alias = aliases.new("ceiling")
    try:
        bodies = bulk_bodies(events, alias, bulk.max_bytes)
        before = process_cpu_seconds(node_pid) if node_pid is not None else None
        created, seconds = send_bodies(aliases.client, alias, bodies, bulk)
        after = process_cpu_seconds(node_pid) if node_pid is not None else None
        node_cpu = None if before is None or after is None else (after - before) / created * 1e6
        return created / seconds, node_cpu
    finally:
        aliases.drop(alias)


def measure_indexing(
    connection: Connection,
    aliases: Aliases,
    trail: TrailFolder,
    rounds: int,
    node_pid: int | None = None,
) -> IndexingFigures:
    """Measure 1 on one generated trail; ``node_pid`` is the local node's, to read its CPU."""
    print(f"  parse and normalise {trail.events:,} events …", flush=True)
    events, per_cpu_second, per_second = _parse_and_normalise(trail)
    figures = IndexingFigures(trail.events, trail.files, per_cpu_second, per_second)
    bulk = IndexOptions()
    for number in range(rounds):
        # ABBA: each side goes first as often as the other.
        end_to_end_first = number % 4 in (0, 3)
        if end_to_end_first:
            end_to_end, indexer_cpu = _end_to_end(aliases, trail)
            ceiling, node_cpu = _ceiling(aliases, events, bulk, node_pid)
        else:
            ceiling, node_cpu = _ceiling(aliases, events, bulk, node_pid)
            end_to_end, indexer_cpu = _end_to_end(aliases, trail)
        figures.indexer_cpu_us.append(indexer_cpu)
        if node_cpu is not None:
            figures.elasticsearch_cpu_us.append(node_cpu)
        figures.end_to_end.append(end_to_end)
        figures.ceiling.append(ceiling)
        figures.ratios.append(end_to_end / ceiling)
        print(
            f"  round {number + 1}/{rounds}: end to end {end_to_end:,.0f}/s, "
            f"ceiling {ceiling:,.0f}/s, ratio {end_to_end / ceiling:.3f}",
            flush=True,
        )
    del events
    workers_cpu = children_cpu_seconds()
    rate, main_cpu = _end_to_end(aliases, trail, IndexOptions(parse_workers=PARSE_WORKERS))
    workers_cpu = (children_cpu_seconds() - workers_cpu) / trail.events * 1e6
    figures.parallel = (rate, main_cpu, workers_cpu)
    print(
        f"  {PARSE_WORKERS} parse workers: end to end {rate:,.0f}/s, CPU per event "
        f"{main_cpu:.1f} µs here and {workers_cpu:.1f} µs in the workers",
        flush=True,
    )
    alias = aliases.new("cli")
    try:
        run = run_indexer(connection, alias, [trail.root])
    finally:
        aliases.drop(alias)
    figures.cli_peak_rss_mb = run.peak_rss_mb
    figures.cli_events_per_second = trail.events / run.seconds
    return figures
