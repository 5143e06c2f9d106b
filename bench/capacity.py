"""Measure 8, capacity: what an event costs on disk, how fast a cluster takes them, query time.

Against whichever cluster the run uses (``ELASTICSEARCH_URL`` may list several nodes), with
the layout ``TRAILQL_SHARDS``/``TRAILQL_REPLICAS`` ask for, as the indexer would:

- Indexing: :func:`indexer.run.index_sources` of the generated folder into a fresh alias,
  refresh included: events per second, for the whole cluster and per data node.
- Disk: the alias's store before and after ``trailql indices optimize`` (read-only, one
  segment per shard), primaries alone and every copy, divided by the events; beside them the
  trail files' own bytes (gzip, and the JSON inside).
- Queries: p50 and p95 through the API (``trailql serve``, one worker) of a first page and of
  an ``eventStats``, at this size; run at two sizes for latency against size.

docs/pages/operations/capacity.md turns these into clusters for 100 million and 1 billion events
a day.
"""

from __future__ import annotations

import gzip
import json
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import urllib3
from elasticsearch import Elasticsearch

from bench.api_server import serving
from bench.cluster import Aliases
from bench.datasets import TrailFolder
from bench.stats import Latency
from common.elastic import Connection
from common.settings import IndexSettings
from indexer.lifecycle import Month, monthly_indices, optimize
from indexer.pipeline import IndexOptions
from indexer.run import index_sources
from schema import IndexLayout

_STORE_STATS_SECONDS = 11.0

QUESTIONS = {
    "events_first100": "{ events(first: 100) { totalCount nodes { eventID eventTime "
    "eventName principal sourceIPAddress } } }",
    "event_stats": "{ eventStats { count errorRate terms(field: EVENT_NAME, size: 10) "
    "{ key count } timeline { buckets { start count } } } }",
}


@dataclass
class CapacityFigures:
    """What measure 8 found."""

    events: int
    data_nodes: int
    shards: int
    replicas: int
    seconds: float
    gzip_bytes: int
    json_bytes: int
    primary_bytes: int
    total_bytes: int
    merged_primary_bytes: int
    merged_total_bytes: int
    segments: int
    merged_segments: int
    latency: dict[str, dict[str, float]]

    @property
    def events_per_second(self) -> float:
        """End to end, the whole cluster."""
        return self.events / self.seconds

    def as_dict(self) -> dict[str, Any]:
        """For results.json, with the per-event and per-node figures worked out."""
        figures = asdict(self)
        figures |= {
            "events_per_second": round(self.events_per_second),
            "events_per_second_per_data_node": round(self.events_per_second / self.data_nodes),
            "gzip_bytes_per_event": round(self.gzip_bytes / self.events, 1),
            "json_bytes_per_event": round(self.json_bytes / self.events, 1),
            "primary_bytes_per_event": round(self.primary_bytes / self.events, 1),
            "merged_primary_bytes_per_event": round(self.merged_primary_bytes / self.events, 1),
            "merged_total_bytes_per_event": round(self.merged_total_bytes / self.events, 1),
        }
        figures["seconds"] = round(self.seconds, 1)
        return figures


def measure_capacity(
    connection: Connection,
    aliases: Aliases,
    trail: TrailFolder,
    *,
    samples: int,
    settle: float = _STORE_STATS_SECONDS,
) -> CapacityFigures:
    """Index ``trail`` into a fresh alias, weigh it, merge it, weigh it again, query it.

    ``settle``: seconds to let the store sizes catch up before each weighing (0 for a smoke
    run, whose figures mean nothing anyway).
    """
    client = aliases.client
    settings = IndexSettings()
    layout = IndexLayout(
        shards=settings.shards,
        replicas=None if settings.replicas == "auto" else settings.replicas,
    )
    gzip_bytes = json_bytes = 0
    for path in trail.root.rglob("*.json.gz"):
        packed = path.read_bytes()
        gzip_bytes += len(packed)
        json_bytes += len(gzip.decompress(packed))
    alias = aliases.new("capacity")
    started = time.perf_counter()
    summary = index_sources([str(trail.root)], client=client, alias=alias, options=_options(layout))
    seconds = time.perf_counter() - started
    if not summary.clean or summary.indexed != trail.events:
        raise RuntimeError(f"capacity: {summary.indexed:,} of {trail.events:,} indexed")
    client.indices.flush(index=alias)
    primary, total, segments = _store(client, alias, settle)
    optimize(client, alias, Month.current(datetime.now(UTC)))
    merged_primary, merged_total, merged_segments = _store(client, alias, settle)
    months = monthly_indices(client, alias)
    with serving(connection, alias, {"TRAILQL_AUTH_DISABLED": "true"}, workers=1) as served:
        latency = _latency(served.url, samples)
    return CapacityFigures(
        events=trail.events,
        data_nodes=_data_nodes(client),
        shards=months[0].shards,
        replicas=months[0].replicas,
        seconds=seconds,
        gzip_bytes=gzip_bytes,
        json_bytes=json_bytes,
        primary_bytes=primary,
        total_bytes=total,
        merged_primary_bytes=merged_primary,
        merged_total_bytes=merged_total,
        segments=segments,
        merged_segments=merged_segments,
        latency=latency,
    )


def _options(layout: IndexLayout) -> IndexOptions:
    return IndexOptions(layout=layout)


def _store(client: Elasticsearch, alias: str, settle: float) -> tuple[int, int, int]:
    """Bytes on disk of the alias's indices (primaries, every copy), and primary segments.

    Elasticsearch caches each shard's store size for ``index.store.stats_refresh_interval``
    (10 s): asked sooner, it answers the size from before a flush or a merge.
    """
    time.sleep(settle)
    stats = client.indices.stats(index=alias, metric="store,segments")["_all"]
    return (
        int(stats["primaries"]["store"]["size_in_bytes"]),
        int(stats["total"]["store"]["size_in_bytes"]),
        int(stats["primaries"]["segments"]["count"]),
    )


def _data_nodes(client: Elasticsearch) -> int:
    nodes = client.cat.nodes(format="json", h="node.role").body
    return sum(isinstance(node, dict) and "d" in str(node.get("node.role")) for node in nodes)


def _latency(url: str, samples: int) -> dict[str, dict[str, float]]:
    pool = urllib3.connection_from_url(url, maxsize=1, retries=False, timeout=60.0)
    figures = {}
    for name, query in QUESTIONS.items():
        body = json.dumps({"query": query}).encode()
        timings = []
        for sample in range(samples + 3):  # the first three warm caches up, uncounted
            started = time.perf_counter()
            answer = pool.urlopen(
                "POST", "/graphql", body=body, headers={"content-type": "application/json"}
            )
            elapsed = (time.perf_counter() - started) * 1000
            if answer.status != 200 or b'"errors"' in answer.data:
                raise RuntimeError(f"capacity: {name} answered {answer.data[:300]!r}")
            if sample >= 3:
                timings.append(elapsed)
        figures[name] = Latency.of(timings).as_dict()
    return figures
