"""``python -m bench``: every measure, in one run, against one Elasticsearch.

1. indexing (:mod:`bench.indexing`), 2. memory (:mod:`bench.memory`), 3. and 5. query
latencies on the query data sets (:mod:`bench.latency`), 4. throughput (:mod:`bench.throughput`),
6. hostile requests (:mod:`bench.hostile`) and, with ``--peer``, 7. the peer
(:mod:`bench.peer`); 8. detections, 9. export's memory (:mod:`bench.export`), 10. integrity
(:mod:`bench.integrity`), 11. live subscriptions (:mod:`bench.live`) and 12. capacity
(:mod:`bench.capacity`).
The table is printed and the figures written to ``--output`` (bench/results.json).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import orjson

from bench.api_auth import bench_key
from bench.api_server import Served, serving
from bench.capacity import measure_capacity
from bench.client import connection_pool
from bench.cluster import Aliases, bench_cluster, elasticsearch_connection, local_node_pid
from bench.datasets import big_file, trail_folder
from bench.detections import measure_detections
from bench.export import measure_export
from bench.hostile import measure_hostile
from bench.indexing import measure_indexing
from bench.integrity import measure_integrity
from bench.latency import measure_latencies
from bench.live import LiveSizes, measure_live
from bench.machine import machine
from bench.memory import measure_memory
from bench.options import Options, parse_options
from bench.peer import HEADLINE_KEYS, PeerSettings, measure_peer
from bench.prepared import PreparedDataSet, index_data_set, prepare_data_set
from bench.query_set import query_set
from bench.report import print_results, write_results
from bench.targets import BOUNDED_WORK, TARGETS
from bench.throughput import measure_throughput
from common.elastic import Connection


def _options_record(options: Options) -> dict[str, Any]:
    record = dataclasses.asdict(options)
    return {key: str(value) if isinstance(value, Path) else value for key, value in record.items()}


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the block (the in-process API reads its settings there)."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _check_search_counts(served: Served, data_set: PreparedDataSet, notes: list[str]) -> None:
    """The served API must report as many searches per query as the capture recorded."""
    pool = connection_pool(served.url)
    for key, captured in data_set.queries.items():
        answer = orjson.loads(captured.graphql.send(pool))
        if answer.get("errors"):
            raise RuntimeError(f"{key} failed on the served API: {answer['errors']}")
        searches = answer.get("extensions", {}).get("elasticsearch", {}).get("searches")
        if searches is None:
            note = "the API reports no extensions.elasticsearch.searches: search counts unchecked"
            if note not in notes:
                notes.append(note)
        elif searches != captured.searches:
            raise RuntimeError(
                f"{key} on the {data_set.name} data set: the served API made {searches} "
                f"searches, the capture recorded {captured.searches}"
            )


def _queries(
    options: Options, connection: Connection, aliases: Aliases, results: dict[str, Any]
) -> None:
    notes: list[str] = results["notes"]
    trails = {
        name: trail_folder(options.workdir, events=events, seed=options.seed, days=days)
        for name, events, days in _query_data_sets(options)
    }
    alias_of = {
        name: index_data_set(aliases, name, trail, request_cache=options.request_cache)
        for name, trail in trails.items()
    }
    server_environment, headers = bench_key()
    with environment(server_environment):
        prepared = {
            name: prepare_data_set(connection, name, trail.events, alias_of[name], headers)
            for name, trail in trails.items()
        }
    large, small, week = prepared["large"], prepared["small"], prepared["week"]
    with_log_group = large.has_log_group and small.has_log_group
    if not with_log_group:
        notes.append("logGroup is not in the schema yet: skipped")
        print("  note: logGroup is not in the schema yet: skipped", flush=True)
    if not options.request_cache:
        notes.append("shard request cache off on the query indices (--request-cache to keep it)")
    with ExitStack() as stack:
        served = {
            name: stack.enter_context(serving(connection, alias_of[name], server_environment))
            for name in prepared
        }
        for name, data_set in prepared.items():
            _check_search_counts(served[name], data_set, notes)
        pools = {f"api_{name}": connection_pool(one.url) for name, one in served.items()}
        pools["elasticsearch"] = connection_pool(connection.hosts[0])
        print("3. and 5. query latencies, GraphQL and raw, large and small", flush=True)
        latencies = measure_latencies(
            query_set(with_log_group=with_log_group),
            large,
            small,
            pools,
            warmup=options.warmup,
            rounds=options.latency_rounds,
            per_round=options.samples_per_round,
        )
        print(
            f"5. the windows, from a store of {WEEK_DAYS} days of the large data set's traffic "
            f"({week.events:,} events) to the large one",
            flush=True,
        )
        windows = [one for one in query_set(with_log_group=False) if one.key in WINDOWS]
        retention = measure_latencies(
            windows,
            large,
            week,
            pools,
            warmup=options.warmup,
            rounds=options.latency_rounds,
            per_round=options.samples_per_round,
        )
        print(f"4. throughput, {options.clients} clients", flush=True)
        throughput = measure_throughput(
            large,
            served["large"].url,
            connection.hosts[0],
            clients=options.clients,
            requests=options.throughput_requests,
            seconds=options.throughput_seconds,
            rounds=options.throughput_rounds,
        )
        if options.peer:
            results["peer"] = _peer(options, connection, large, served["large"].url, headers)
            results.update({key: results["peer"][key] for key in HEADLINE_KEYS})
    results["query_sizes"] = {name: one.events for name, one in prepared.items()}
    results["query_days"] = {name: days for name, _, days in _query_data_sets(options)}
    results["retention"] = {one.key: one.as_dict() for one in retention}
    results["facts"] = {name: dataclasses.asdict(one.facts) for name, one in prepared.items()}
    results["queries"] = {one.key: one.as_dict() for one in latencies}
    results["throughput"] = {one.key: one.as_dict() for one in throughput}
    by_key = {one.key: one for one in latencies}
    results["events_first100_p50_ratio"] = round(by_key["events_first100"].api_ratio, 3)
    results["event_stats_p50_ratio"] = round(by_key["event_stats"].api_ratio, 3)
    # Pages and statistics over a bounded window must cost the same at any size; statistics
    # over all time may grow as Elasticsearch's own aggregation does (shown, not judged).
    bounded = [one.growth for one in latencies if one.key in BOUNDED_WORK]
    results["growth_max_ratio"] = round(max(bounded), 3)
    large_page = by_key["events_first100"].as_dict()["graphql_large"]["p50_ms"]
    results["events_first100_large_p50_ms"] = round(large_page, 2)
    first50 = next(one for one in throughput if one.key == "events_first50")
    results["events_first50_requests_per_second"] = round(first50.graphql_per_second, 1)


#: The windowed statistics, measured again from a store that holds the same traffic per day
#: over fewer days: the store grown by retention rather than by traffic.
WINDOWS = ("event_stats_day", "event_stats_week")
WEEK_DAYS = 7


def _query_data_sets(options: Options) -> list[tuple[str, int, int]]:
    """Each query data set's name, events and days: small and large over the same days (the
    store grown by traffic), and a week at the large one's events per day."""
    days = options.query_days
    week_events = max(1, round(options.query_events * WEEK_DAYS / days))
    return [
        ("small", options.small_events, days),
        ("large", options.query_events, days),
        ("week", week_events, WEEK_DAYS),
    ]


def _peer(
    options: Options,
    connection: Connection,
    large: PreparedDataSet,
    trailql_url: str,
    headers: dict[str, str],
) -> dict[str, Any]:
    print("7. the peer: graphql-compose-elasticsearch beside TrailQL", flush=True)
    return measure_peer(
        connection,
        alias=large.alias,
        events=large.events,
        trailql_url=trailql_url,
        trailql_headers=headers,
        settings=PeerSettings(
            warmup=options.warmup,
            rounds=options.latency_rounds,
            per_round=options.samples_per_round,
            clients=options.clients,
            throughput_requests=options.throughput_requests,
            throughput_seconds=options.throughput_seconds,
            throughput_rounds=options.throughput_rounds,
        ),
    )


def _hostile(
    options: Options, connection: Connection, aliases: Aliases, results: dict[str, Any]
) -> None:
    trail = trail_folder(options.workdir, events=options.small_events, seed=options.seed)
    alias = index_data_set(aliases, "hostile", trail, request_cache=options.request_cache)
    server_environment, headers = bench_key()
    with serving(connection, alias, server_environment) as served:
        hostile = measure_hostile(served.url, headers, options.hostile_samples)
    results["hostile"] = hostile.as_dict()
    results["hostile_worst_ms"] = round(hostile.worst_answer_ms, 1)
    results["hostile_health_worst_ms"] = round(hostile.worst_health_ms, 1)


def _live(
    options: Options, connection: Connection, aliases: Aliases, results: dict[str, Any]
) -> None:
    trail = trail_folder(options.workdir, events=options.small_events, seed=options.seed)
    server_environment, headers = bench_key()
    sizes = LiveSizes(
        rounds=options.live_rounds,
        subscribers=options.live_subscribers,
        events=options.live_events,
        window=options.live_window,
    )
    live = measure_live(
        connection, aliases, trail, server_environment, key=headers["x-api-key"], sizes=sizes
    )
    results["live"] = live.as_dict()
    results["live_latency_p50_s"] = round(live.p50, 3)
    results["live_searches_ratio"] = round(live.searches_ratio, 3)


def _detections(
    options: Options, _connection: Connection, aliases: Aliases, results: dict[str, Any]
) -> None:
    print(f"8. detections over {options.detection_events:,} events", flush=True)
    events = trail_folder(options.workdir, events=options.detection_events, seed=options.seed)
    figures = measure_detections(
        aliases.client,
        aliases,
        events,
        lag_files=options.lag_files,
        workdir=options.workdir,
    )
    results["detections"] = figures.as_dict()
    print(
        f"   backfill {figures.backfill_events_per_second:,.0f} events/s "
        f"({figures.events:,} events, {figures.rules} rules, {figures.findings:,} "
        f"findings, {figures.backfill_seconds:.1f} s; second run created "
        f"{figures.second_run_created}); lag p50 {figures.lag_p50_seconds:.2f} s, "
        f"p95 {figures.lag_p95_seconds:.2f} s over {figures.lag_files} files",
        flush=True,
    )


def _export(
    options: Options, connection: Connection, aliases: Aliases, results: dict[str, Any]
) -> None:
    sizes = " and ".join(f"{events:,}" for events in options.export_events)
    print(f"9. export: trailql export's peak memory at {sizes} events", flush=True)
    trails = [
        trail_folder(options.workdir, events=events, seed=options.seed)
        for events in options.export_events
    ]
    runs = measure_export(connection, aliases, trails)
    results["export"] = [run.as_dict() for run in runs]
    results["export_peak_rss_growth_mb"] = round(runs[-1].peak_rss_mb - runs[0].peak_rss_mb, 1)


def _integrity(
    options: Options, _connection: Connection, aliases: Aliases, results: dict[str, Any]
) -> None:
    print("10. integrity: trailql verify, and the continuous modes on and off", flush=True)
    integrity = measure_integrity(
        aliases,
        options.workdir,
        verify_events=options.integrity_verify_events,
        verify_days=options.integrity_verify_days,
        continuous_events=options.integrity_events,
        rounds=options.integrity_rounds,
        seed=options.seed,
    )
    results["integrity"] = integrity.as_dict()
    results["integrity_slowdown"] = round(integrity.slowdown, 3)


def _capacity(
    options: Options, connection: Connection, aliases: Aliases, results: dict[str, Any]
) -> None:
    print(f"12. capacity: {options.capacity_events:,} events on disk and asked", flush=True)
    folder = trail_folder(options.workdir, events=options.capacity_events, seed=options.seed)
    capacity = measure_capacity(
        connection,
        aliases,
        folder,
        samples=options.capacity_samples,
        settle=0.0 if options.smoke else 11.0,  # see bench.capacity._store
    )
    results["capacity"] = capacity.as_dict()


#: The measures after the hostile requests, in the order they run.
_LATER_MEASURES = (
    ("detections", _detections),
    ("export", _export),
    ("integrity", _integrity),
    ("live", _live),
    ("capacity", _capacity),
)


def run(options: Options) -> dict[str, Any]:
    """Every measure; the results document."""
    options.workdir.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "machine": machine(),
        "options": _options_record(options),
        "notes": [],
    }
    started = time.perf_counter()
    with (
        elasticsearch_connection(options.es_port, options.engine) as connection,
        bench_cluster(connection) as aliases,
    ):
        if options.runs("indexing") or options.runs("memory"):
            trail = trail_folder(options.workdir, events=options.index_events, seed=options.seed)
        if options.runs("indexing"):
            print(f"1. indexing {options.index_events:,} generated events", flush=True)
            indexing = measure_indexing(
                connection, aliases, trail, options.index_rounds, local_node_pid(connection)
            )
            results["indexing"] = indexing.as_dict()
            results["indexing_ratio"] = round(indexing.ratio, 3)
        if options.runs("memory"):
            print(f"2. memory: trailql index on one {options.big_file_mb:,} MB file", flush=True)
            big = big_file(options.workdir, trail, megabytes=options.big_file_mb, seed=options.seed)
            memory = measure_memory(connection, aliases, big)
            results["memory"] = memory.as_dict()
            results["indexer_peak_rss_mb"] = round(memory.peak_rss_mb, 1)
        if options.runs("queries"):
            print("3.-5. queries: indexing the three data sets", flush=True)
            _queries(options, connection, aliases, results)
        if options.runs("hostile"):
            print(f"6. hostile requests, {options.hostile_samples} samples each", flush=True)
            _hostile(options, connection, aliases, results)
        for measure, measured in _LATER_MEASURES:
            if options.runs(measure):
                measured(options, connection, aliases, results)
    results["targets"] = {
        target.key: {
            "label": target.label,
            "target": target.text,
            "value": results.get(target.key),
            "met": results.get(target.key) is not None and target.met(results[target.key]),
        }
        for target in TARGETS
    }
    results["seconds"] = round(time.perf_counter() - started)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Run, print the table, write the figures."""
    options = parse_options(argv)
    results = run(options)
    print_results(results)
    write_results(results, options.output)
    print(f"figures written to {options.output} ({results['seconds']} s in all)")
    return 0
