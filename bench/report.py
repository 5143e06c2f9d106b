"""The run's table (rich) and its figures (results.json), both from one results document.

``python -m bench.report [results.json]`` prints the table of an earlier run again.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.options import DEFAULT_OUTPUT
from bench.targets import BOUNDED_WORK, TARGETS, Target

Row = tuple[str, str, str, str, str]


def _mark(target: Target, value: float | None) -> str:
    if value is None:
        return "[yellow]n/a[/]"
    if target.met(value):
        return f"[green]pass[/] ({target.margin(value)})"
    return f"[red]MISS[/] ({target.margin(value)})"


def _ms(latency: dict[str, float]) -> str:
    return f"{latency['p50_ms']:.2f} / {latency['p95_ms']:.2f} / {latency['p99_ms']:.2f}"


def _target(key: str) -> Target:
    return next(target for target in TARGETS if target.key == key)


def _judged(results: dict[str, Any], key: str, label: str, numbers: str) -> Row:
    """A headline row: the figure, its target, and whether it is met."""
    value = results.get(key)
    target = _target(key)
    if value is None:
        shown = "n/a"
    elif target.unit in ("MB", "ms", "req/s"):
        shown = f"{value:,.0f} {target.unit}"
    else:
        shown = f"{value:.3f}"
    return (label, shown, numbers, target.text, _mark(target, value))


def _indexing_rows(results: dict[str, Any]) -> list[Row]:
    indexing = results["indexing"]
    rounds = len(indexing["rounds"])
    return [
        (
            f"1. parse + normalise ({indexing['events']:,} events, {indexing['files']:,} files)",
            f"{indexing['parse_events_per_cpu_second']:,} /s/core",
            f"{indexing['parse_events_per_second']:,} events/s wall, no Elasticsearch",
            "",
            "",
        ),
        _judged(
            results,
            "indexing_ratio",
            "   indexing end to end ÷ ceiling",
            f"end to end {indexing['end_to_end_events_per_second']:,}/s, ceiling "
            f"{indexing['ceiling_events_per_second']:,}/s (medians of {rounds} rounds)",
        ),
        (
            "   CPU per event: indexer ÷ Elasticsearch",
            "n/a" if indexing.get("cpu_ratio") is None else f"{indexing['cpu_ratio']:.3f}",
            (
                f"indexer {indexing.get('indexer_cpu_us_per_event')} µs (reading, deriving, "
                f"sending), Elasticsearch {indexing.get('elasticsearch_cpu_us_per_event')} µs "
                "(the ceiling's documents)"
            ),
            "≤ 0.15",
            ""
            if indexing.get("cpu_ratio") is None
            else ("[green]pass[/]" if indexing["cpu_ratio"] <= 0.15 else "[red]MISS[/]"),
        ),
        *_parallel_rows(indexing),
        (
            "   trailql index (subprocess), same files",
            f"{indexing['cli_peak_rss_mb']:,.0f} MB",
            f"peak RSS; {indexing['cli_events_per_second']:,} events/s",
            "",
            "",
        ),
    ]


def _parallel_rows(indexing: dict[str, Any]) -> list[Row]:
    parallel = indexing.get("parse_workers")
    if parallel is None:
        return []
    return [
        (
            f"   end to end, {parallel['workers']} parse workers ÷ ceiling",
            f"{parallel['ratio']:.3f}",
            (
                f"{parallel['events_per_second']:,}/s; CPU per event "
                f"{parallel['main_cpu_us_per_event']} µs here + "
                f"{parallel['workers_cpu_us_per_event']} µs in the workers (one run)"
            ),
            "",
            "",
        )
    ]


def _memory_rows(results: dict[str, Any]) -> list[Row]:
    memory = results["memory"]
    how = "streamed" if memory["streamed"] else "parsed whole"
    return [
        _judged(
            results,
            "indexer_peak_rss_mb",
            f"2. trailql index, one {memory['file_mb']:,.0f} MB file",
            f"peak RSS; {memory['events']:,} events, {how}, "
            f"{memory['events_per_second']:,} events/s",
        )
    ]


_API_TARGETS = {
    "events_first100": "events_first100_p50_ratio",
    "event_stats": "event_stats_p50_ratio",
}


def _query_rows(results: dict[str, Any]) -> list[Row]:
    large = results["query_sizes"]["large"]
    rows: list[Row] = []
    for key, query in results["queries"].items():
        label = f"3. {query['label']}"
        # The API's own cost in milliseconds: a ratio to raw grows when Elasticsearch gets
        # faster, though the API costs the same.
        added = query["graphql_large"]["p50_ms"] - query["raw_large"]["p50_ms"]
        numbers = (
            f"GraphQL {_ms(query['graphql_large'])} ms, raw {_ms(query['raw_large'])} ms "
            f"(p50/p95/p99, {large:,} events); the API adds {added:.2f} ms at p50"
        )
        if key in _API_TARGETS:
            rows.append(_judged(results, _API_TARGETS[key], label, numbers))
        else:
            rows.append((label, f"{query['graphql_raw_ratio']['p50']:.3f}", numbers, "", ""))
    rows.extend(("   note", "", note, "", "") for note in results.get("notes", []))
    return rows


def _throughput_rows(results: dict[str, Any]) -> list[Row]:
    clients = results["options"]["clients"]
    judged = (
        [_judged(results, "events_first50_requests_per_second", "   events(first: 50), target", "")]
        if "events_first50_requests_per_second" in results
        else []
    )
    return judged + [
        (
            f"4. {one['label']}, {clients} clients",
            f"{one['graphql_requests_per_second']:,.0f} req/s",
            (
                f"raw {one['raw_requests_per_second']:,.0f} req/s; p50 under load "
                f"{one['graphql_p50_ms_under_load']:.1f} ms "
                f"(raw {one['raw_p50_ms_under_load']:.1f})"
            ),
            "",
            "",
        )
        for one in results["throughput"].values()
    ]


def _growth_rows(results: dict[str, Any]) -> list[Row]:
    sizes = results["query_sizes"]
    target = _target("growth_max_ratio")
    rows: list[Row] = [
        (
            f"5. {query['label']}",
            f"{query['growth_p50']:.3f}",
            (
                f"GraphQL p50 {query['graphql_small']['p50_ms']:.2f} ms at {sizes['small']:,} → "
                f"{query['graphql_large']['p50_ms']:.2f} ms at {sizes['large']:,} "
                f"(raw x{query['growth_raw_p50']:.2f})"
            ),
            target.text if key in BOUNDED_WORK else "(not judged)",
            _mark(target, query["growth_p50"]) if key in BOUNDED_WORK else "",
        )
        for key, query in results["queries"].items()
    ]
    rows.append(_judged(results, "growth_max_ratio", "   worst query", ""))
    if "events_first100_large_p50_ms" in results:
        rows.append(
            _judged(
                results,
                "events_first100_large_p50_ms",
                f"   events(first: 100) at {sizes['large']:,} events, p50",
                "",
            )
        )
    rows.extend(_retention_rows(results))
    return rows


def _retention_rows(results: dict[str, Any]) -> list[Row]:
    """The windows again, the store grown by retention: the same events per day, more days.
    Shown beside the judged growth (by traffic, where each window holds more events)."""
    sizes, days = results["query_sizes"], results.get("query_days", {})
    return [
        (
            f"5. {query['label']}, by retention",
            f"{query['growth_p50']:.3f}",
            (
                f"GraphQL p50 {query['graphql_week']['p50_ms']:.2f} ms at {sizes['week']:,} "
                f"events over {days.get('week', '?')} days → "
                f"{query['graphql_large']['p50_ms']:.2f} ms at {sizes['large']:,} over "
                f"{days.get('large', '?')} (raw x{query['growth_raw_p50']:.2f})"
            ),
            "(shown)",
            "",
        )
        for query in results.get("retention", {}).values()
    ]


def _hostile_rows(results: dict[str, Any]) -> list[Row]:
    hostile = results["hostile"]
    answers, health = hostile["answers_ms"], hostile["health_ms"]
    slowest = max(answers, key=answers.__getitem__)
    doubling = hostile["doubling_refusal_ms"]
    return [
        _judged(
            results,
            "hostile_worst_ms",
            f"6. {len(answers)} hostile requests, slowest answer",
            f"{slowest}; the median request's slowest answer "
            f"{sorted(answers.values())[len(answers) // 2]:.1f} ms",
        ),
        _judged(
            results,
            "hostile_health_worst_ms",
            "   /healthz while they ran, slowest",
            f"beside {max(health, key=health.__getitem__)}; {hostile['health_failures']} failed",
        ),
        (
            "   doubling fragments refused, p50",
            f"{doubling['40'] / doubling['10']:.2f}",
            ", ".join(f"{levels} levels {ms:.1f} ms" for levels, ms in doubling.items())
            + " (40 ÷ 10 levels)",
            "",
            "",
        ),
    ]


def _peer_rows(results: dict[str, Any]) -> list[Row]:
    peer = results["peer"]
    clients = results["options"]["clients"]
    rows: list[Row] = []
    for key, question in peer["questions"].items():
        ratios = question["p50_ratio"]
        rows.append(
            _judged(
                results,
                f"peer_{key}_p50_ratio",
                f"7. {question['label']}, p50 TrailQL ÷ peer",
                f"TrailQL {question['trailql']['p50_ms']:.2f} ms, peer "
                f"{question['peer']['p50_ms']:.2f} ms, raw {question['raw']['p50_ms']:.2f} ms "
                f"(p50); TrailQL ÷ raw {ratios['trailql_raw']:.2f}, peer ÷ raw "
                f"{ratios['peer_raw']:.2f}",
            )
        )
        throughput = question.get("throughput")
        if throughput:
            rows.append(
                _judged(
                    results,
                    f"peer_{key}_throughput_ratio",
                    f"   {clients} clients, req/s TrailQL ÷ peer",
                    f"TrailQL {throughput['trailql_requests_per_second']:,.0f} req/s, peer "
                    f"{throughput['peer_requests_per_second']:,.0f}, raw "
                    f"{throughput['raw_requests_per_second']:,.0f}; TrailQL ÷ raw "
                    f"{throughput['trailql_raw_ratio']:.2f}",
                )
            )
    rows.append(
        (
            "   note",
            "",
            (
                f"{peer['peer']} on Node {peer['node']}, {peer['events']:,} events; "
                "the three sides' answers agree"
            ),
            "",
            "",
        )
    )
    return rows


def _integrity_rows(results: dict[str, Any]) -> list[Row]:
    figures = results["integrity"]
    rounds = len(figures["rounds"])
    title = (
        f"10. trailql verify ({figures['verify_files']:,} files, "
        f"{figures['verify_stored_mb']:,} MB stored)"
    )
    speeds = (
        f"{figures['verify_stored_mb_per_second']:,} MB/s stored, "
        f"{figures['verify_uncompressed_mb_per_second']:,} MB/s uncompressed, "
        f"{figures['verify_seconds']} s"
    )
    return [
        (title, f"{figures['verify_files_per_second']:,} files/s", speeds, "", ""),
        _judged(
            results,
            "integrity_slowdown",
            f"   continuous loading, integrity on vs off ({figures['continuous_files']:,} files, "
            f"{figures['continuous_digests']:,} digests)",
            f"on {figures['continuous_on_events_per_second']:,}/s, off "
            f"{figures['continuous_off_events_per_second']:,}/s (medians of {rounds} rounds, "
            "S3 served by moto)",
        ),
    ]


def _live_rows(results: dict[str, Any]) -> list[Row]:
    live = results["live"]
    return [
        _judged(
            results,
            "live_latency_p50_s",
            "11. live: trailql index returned -> event arrived, p50",
            f"p95 {live['latency_p95_s']:.2f} s over {live['latency_samples']} events",
        ),
        _judged(
            results,
            "live_searches_ratio",
            f"   searches/s, {live['subscribers']:,} subscribers ÷ 1",
            f"{live['searches_per_second_many']:.1f} against {live['searches_per_second_one']:.1f}",
        ),
        (
            f"   {live['subscribers']:,} subscribers",
            f"{live['delivered_events_per_second']:,}",
            (
                f"events/s delivered ({live['events']} events to each; p50 "
                f"{live['crowd_latency_p50_s']:.2f} s after trailql index returned); "
                f"{live['kib_per_idle_subscriber']:,.0f} KiB per idle subscriber "
                f"({live['rss_mb_one']:.0f} -> {live['rss_mb_many']:.0f} MB)"
            ),
            "",
            "",
        ),
    ]


def _capacity_rows(results: dict[str, Any]) -> list[Row]:
    capacity = results["capacity"]
    layout = (
        f"{capacity['events']:,} events, {capacity['data_nodes']} data nodes, "
        f"{capacity['shards']} shards, {capacity['replicas'] + 1} copies of each"
    )
    rows: list[Row] = [
        (
            "12. capacity: events/s per data node",
            f"{capacity['events_per_second_per_data_node']:,}",
            f"{capacity['events_per_second']:,} events/s in all ({layout})",
            "",
            "",
        ),
        (
            "   bytes on disk per event, merged",
            f"{capacity['merged_primary_bytes_per_event']:,.0f}",
            (
                f"primaries; every copy {capacity['merged_total_bytes_per_event']:,.0f}, before "
                f"the merge {capacity['primary_bytes_per_event']:,.0f} ("
                f"{capacity['segments']} → {capacity['merged_segments']} segments); the trail "
                f"files {capacity['gzip_bytes_per_event']:,.0f} gzip, "
                f"{capacity['json_bytes_per_event']:,.0f} JSON"
            ),
            "",
            "",
        ),
    ]
    rows.extend(
        (
            f"   {name}, p50 ms",
            f"{figures['p50_ms']:.1f}",
            f"p95 {figures['p95_ms']:.1f} ms, through the API, at {capacity['events']:,} events",
            "",
            "",
        )
        for name, figures in capacity["latency"].items()
    )
    return rows


#: Each section of the table and the key it needs in the results (a run may skip some).
_SECTIONS = (
    ("indexing", _indexing_rows),
    ("memory", _memory_rows),
    ("queries", _query_rows),
    ("throughput", _throughput_rows),
    ("queries", _growth_rows),
    ("hostile", _hostile_rows),
    ("peer", _peer_rows),
    ("integrity", _integrity_rows),
    ("live", _live_rows),
    ("capacity", _capacity_rows),
)


def results_table(results: dict[str, Any]) -> Table:
    """Every figure of a run, with the targets beside the headline ones."""
    machine = results["machine"]
    table = Table(
        title=(
            f"TrailQL benchmarks, {machine['date']}: {machine['cores']} cores, "
            f"{machine['memory_gib']:g} GiB, {machine['cpu_model']}, Python {machine['python']}"
        ),
        title_justify="left",
    )
    for name, justify in (
        ("measure", "left"),
        ("figure", "right"),
        ("absolute numbers", "left"),
        ("target", "right"),
        ("mark", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    sections = [section for key, section in _SECTIONS if key in results]
    for number, section in enumerate(sections):
        if number:
            table.add_section()
        for row in section(results):
            table.add_row(*row)
    return table


def print_results(results: dict[str, Any], console: Console | None = None) -> None:
    """Print the table."""
    (console or Console(width=200)).print(results_table(results))


def write_results(results: dict[str, Any], path: Path) -> None:
    """Write results.json."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")


def main() -> int:
    """Print the table of a results file."""
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUTPUT
    print_results(json.loads(path.read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
