"""What one run measures and at which sizes: the command line, with presets for CI and 1M."""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results.json"
#: The measures of a run, in the order they run.
MEASURES = (
    "indexing",
    "memory",
    "queries",
    "hostile",
    "detections",
    "export",
    "integrity",
    "live",
    "capacity",
)


@dataclass(frozen=True)
class Options:
    """Sizes, sample counts and places for one run."""

    # 1. indexing
    index_events: int = 300_000
    index_rounds: int = 4  # ABBA: each side first as often as the other
    # 2. memory
    big_file_mb: int = 500
    # 3. and 5. queries and growth: latencies on the small and the large data set
    small_events: int = 20_000
    query_events: int = 100_000
    #: Both query data sets span this many days (a year: twelve monthly indices and more).
    query_days: int = 365
    samples: int = 300  # per query and per side, split over the rounds
    latency_rounds: int = 5
    warmup: int = 10
    # 4. throughput
    clients: int = 16
    throughput_requests: int = 3_000
    throughput_seconds: float = 15.0
    throughput_rounds: int = 2
    # 6. hostile requests
    hostile_samples: int = 3
    # 8. detections: the pack backfilled over this many events; files timed for lag
    detection_events: int = 1_000_000
    lag_files: int = 40
    # 7. the peer (graphql-compose-elasticsearch), with the query measures
    peer: bool = False
    # 9. export: trailql export's peak memory at these sizes
    export_events: tuple[int, ...] = (10_000, 100_000)
    # 10. integrity: verify over about 10,000 files; the continuous modes on one dense day
    integrity_verify_events: int = 250_000
    integrity_verify_days: int = 5
    integrity_events: int = 100_000
    integrity_rounds: int = 4
    # 11. live subscriptions: latency rounds of 10 events, subscribers, the crowd's file
    live_rounds: int = 20
    live_subscribers: int = 1_000
    live_events: int = 200
    live_window: float = 10.0
    # 12. capacity: bytes per event, events per second, query latency at this size
    capacity_events: int = 100_000
    capacity_samples: int = 30
    # the run
    #: The measures to run (empty: all of them).
    only: tuple[str, ...] = ()
    seed: int = 1
    es_port: int = 9200
    #: The local engine to measure (``opensearch-2.19.6``); None: Elasticsearch 9 on es_port.
    engine: str | None = None
    workdir: Path = Path(tempfile.gettempdir()) / "trailql-bench-data"
    output: Path = DEFAULT_OUTPUT
    request_cache: bool = False
    smoke: bool = False
    full: bool = False

    def runs(self, measure: str) -> bool:
        """Whether this run includes ``measure``."""
        return not self.only or measure in self.only

    @property
    def samples_per_round(self) -> int:
        """Samples of each query and side in one round (at least one)."""
        return max(1, self.samples // self.latency_rounds)


def smoke_sizes(options: Options) -> Options:
    """``--smoke``: every measure end to end on tiny sizes, for CI."""
    return replace(
        options,
        smoke=True,
        index_events=2_000,
        index_rounds=2,
        big_file_mb=4,
        small_events=1_000,
        query_events=2_000,
        samples=20,
        latency_rounds=2,
        warmup=2,
        throughput_requests=64,
        throughput_seconds=2.0,
        throughput_rounds=1,
        hostile_samples=1,
        detection_events=2_000,
        lag_files=3,
        peer=True,
        export_events=(500, 2_000),
        integrity_verify_events=2_000,
        integrity_verify_days=1,
        integrity_events=2_000,
        integrity_rounds=2,
        live_rounds=3,
        live_subscribers=50,
        live_events=20,
        live_window=2.0,
        capacity_events=2_000,
        capacity_samples=3,
    )


def full_sizes(options: Options) -> Options:
    """``--full``: the query measures at 5,000,000 events against 100,000."""
    return replace(options, full=True, small_events=100_000, query_events=5_000_000)


def _parser() -> argparse.ArgumentParser:
    defaults = Options()
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="TrailQL's benchmarks: indexing, memory, queries, throughput, growth.",
    )
    preset = parser.add_mutually_exclusive_group()
    preset.add_argument("--smoke", action="store_true", help="tiny sizes, for CI (< 1 minute)")
    preset.add_argument(
        "--full", action="store_true", help="queries at 5,000,000 events against 100,000"
    )
    sizes = parser.add_argument_group("sizes (after the preset)")
    sizes.add_argument("--index-events", type=int, help=f"default {defaults.index_events:,}")
    sizes.add_argument("--index-rounds", type=int, help=f"default {defaults.index_rounds}")
    sizes.add_argument("--big-file-mb", type=int, help=f"default {defaults.big_file_mb}")
    sizes.add_argument("--small-events", type=int, help=f"default {defaults.small_events:,}")
    sizes.add_argument("--query-events", type=int, help=f"default {defaults.query_events:,}")
    sizes.add_argument(
        "--samples", type=int, help=f"per query and side, default {defaults.samples}"
    )
    sizes.add_argument("--latency-rounds", type=int, help=f"default {defaults.latency_rounds}")
    sizes.add_argument("--warmup", type=int, help=f"per query and side, default {defaults.warmup}")
    sizes.add_argument("--clients", type=int, help=f"default {defaults.clients}")
    sizes.add_argument(
        "--throughput-requests", type=int, help=f"default {defaults.throughput_requests:,}"
    )
    sizes.add_argument(
        "--throughput-seconds", type=float, help=f"default {defaults.throughput_seconds}"
    )
    sizes.add_argument(
        "--throughput-rounds", type=int, help=f"default {defaults.throughput_rounds}"
    )
    sizes.add_argument(
        "--hostile-samples",
        type=int,
        help=f"per hostile request, default {defaults.hostile_samples}",
    )
    sizes.add_argument(
        "--detection-events",
        type=int,
        help=f"backfilled by the detections measure, default {defaults.detection_events:,}",
    )
    sizes.add_argument("--lag-files", type=int, help=f"default {defaults.lag_files}")
    sizes.add_argument(
        "--integrity-verify-events",
        type=int,
        help=f"verify: events of the trail, default {defaults.integrity_verify_events:,}",
    )
    sizes.add_argument(
        "--integrity-verify-days",
        type=int,
        help=f"verify: days of the trail, default {defaults.integrity_verify_days}",
    )
    sizes.add_argument(
        "--integrity-events",
        type=int,
        help=f"continuous: events of the one-day trail, default {defaults.integrity_events:,}",
    )
    sizes.add_argument("--integrity-rounds", type=int, help=f"default {defaults.integrity_rounds}")
    sizes.add_argument(
        "--live-rounds", type=int, help=f"latency rounds, default {defaults.live_rounds}"
    )
    sizes.add_argument(
        "--live-subscribers", type=int, help=f"default {defaults.live_subscribers:,}"
    )
    sizes.add_argument(
        "--live-events", type=int, help=f"the crowd's file, default {defaults.live_events}"
    )
    sizes.add_argument(
        "--live-window",
        type=float,
        help=f"seconds searches are counted, default {defaults.live_window:g}",
    )
    sizes.add_argument("--capacity-events", type=int, help=f"default {defaults.capacity_events:,}")
    sizes.add_argument(
        "--capacity-samples",
        type=int,
        help=f"per question, default {defaults.capacity_samples}",
    )
    run = parser.add_argument_group("the run")
    run.add_argument(
        "--only",
        action="append",
        choices=MEASURES,
        help="run only this measure (repeatable; default: all)",
    )
    run.add_argument(
        "--peer",
        action="store_true",
        help="with the query measures, compare with graphql-compose-elasticsearch on Node "
        "(on in --smoke)",
    )
    run.add_argument("--seed", type=int, help=f"generator seed, default {defaults.seed}")
    run.add_argument(
        "--es-port",
        type=int,
        help="local node's port when ELASTICSEARCH_URL is unset "
        "(default TRAILQL_TEST_ES_PORT or 9200)",
    )
    run.add_argument(
        "--engine",
        choices=("elasticsearch-9.3.2", "elasticsearch-8.19.3", "opensearch-2.19.6"),
        help="when ELASTICSEARCH_URL is unset: the local engine to start and measure, on a "
        "port of its own unless --es-port says (default Elasticsearch 9.3.2 on 9200)",
    )
    run.add_argument(
        "--workdir", type=Path, help=f"generated data, kept between runs ({defaults.workdir})"
    )
    run.add_argument(
        "--output", type=Path, help="where the figures go (default bench/results.json)"
    )
    run.add_argument(
        "--request-cache",
        action="store_true",
        help="leave Elasticsearch's shard request cache on for the query indices",
    )
    return parser


def parse_options(argv: Sequence[str] | None = None) -> Options:
    """The options a command line asks for: defaults, then the preset, then explicit sizes."""
    arguments = _parser().parse_args(argv)
    options = Options(es_port=int(os.environ.get("TRAILQL_TEST_ES_PORT", "9200")))
    if arguments.smoke:
        options = smoke_sizes(options)
    if arguments.full:
        options = full_sizes(options)
    explicit = {
        name: value
        for name, value in vars(arguments).items()
        if name not in ("smoke", "full", "request_cache", "only", "peer") and value is not None
    }
    explicit["only"] = tuple(arguments.only or ())
    options = replace(
        options,
        request_cache=arguments.request_cache,
        peer=options.peer or arguments.peer,
        **explicit,
    )
    if options.small_events >= options.query_events:
        _parser().error("--small-events must be smaller than --query-events")
    if arguments.peer and not options.runs("queries"):
        _parser().error("--peer runs with the query measures: add --only queries")
    return options
