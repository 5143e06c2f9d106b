"""Measures 3 and 5: each query's latency through the API and sent raw, on two data sets.

For every query, four variants are sampled in turn: GraphQL on the large data set, its raw
Elasticsearch requests, and the same two on a baseline data set (the small one; for the
windows, also the week of the large one's traffic). Each sample takes one of
each, in an order that rotates from sample to sample, so drift in the machine's load falls
on every variant alike. A round's samples give each variant's p50/p95/p99; the figures are
the medians over the rounds, and each ratio is the median of the rounds' ratios.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import urllib3

from bench.client import Request
from bench.prepared import PreparedDataSet
from bench.query_set import BenchQuery
from bench.stats import Latency, median

Send = Callable[[], None]


@dataclass(frozen=True)
class Variant:
    """One thing sampled: a query through the API or raw, on one data set."""

    name: str  # graphql_large, raw_large, graphql_<baseline>, raw_<baseline>
    send: Send


def graphql_sender(request: Request, pool: urllib3.HTTPConnectionPool) -> Send:
    """One GraphQL request per call."""

    def send() -> None:
        request.send(pool)

    return send


def raw_sender(requests: list[Request], pool: urllib3.HTTPConnectionPool) -> Send:
    """The resolver's requests per call, one after the other, as the resolver makes them."""

    def send() -> None:
        for request in requests:
            request.send(pool)

    return send


def sample(
    variants: list[Variant], warmup: int, rounds: int, per_round: int
) -> list[dict[str, Latency]]:
    """Each variant's percentiles per round, the variants interleaved (see the module's text)."""
    for variant in variants:
        for _ in range(warmup):
            variant.send()
    results = []
    for _ in range(rounds):
        samples: dict[str, list[float]] = {variant.name: [] for variant in variants}
        for number in range(per_round):
            shift = number % len(variants)
            for variant in variants[shift:] + variants[:shift]:
                started = time.perf_counter_ns()
                variant.send()
                samples[variant.name].append((time.perf_counter_ns() - started) / 1e6)
        results.append({name: Latency.of(values) for name, values in samples.items()})
    return results


@dataclass
class QueryLatency:
    """One query's figures: latencies by variant and the ratios between them."""

    key: str
    label: str
    rounds: list[dict[str, Latency]]
    baseline: str = "small"  # the data set that growth is measured from

    def latency(self, variant: str) -> Latency:
        """The variant's percentiles, each the median over the rounds."""
        return Latency.median_of([one[variant] for one in self.rounds])

    def ratio(self, numerator: str, denominator: str, percentile: str = "p50") -> float:
        """The median over rounds of numerator ÷ denominator at one percentile."""
        return median(
            [
                getattr(one[numerator], percentile) / getattr(one[denominator], percentile)
                for one in self.rounds
            ]
        )

    @property
    def api_ratio(self) -> float:
        """GraphQL ÷ raw at p50, on the large data set."""
        return self.ratio("graphql_large", "raw_large")

    @property
    def growth(self) -> float:
        """Large ÷ baseline at p50, through the API."""
        return self.ratio("graphql_large", f"graphql_{self.baseline}")

    def as_dict(self) -> dict[str, Any]:
        """For results.json."""
        variants = self.rounds[0].keys()
        return {
            "label": self.label,
            **{name: self.latency(name).as_dict() for name in variants},
            "graphql_raw_ratio": {
                p: round(self.ratio("graphql_large", "raw_large", p), 3)
                for p in ("p50", "p95", "p99")
            },
            f"graphql_raw_ratio_{self.baseline}": round(
                self.ratio(f"graphql_{self.baseline}", f"raw_{self.baseline}"), 3
            ),
            "growth_p50": round(self.growth, 3),
            "growth_raw_p50": round(self.ratio("raw_large", f"raw_{self.baseline}"), 3),
        }


def measure_latencies(
    queries: list[BenchQuery],
    large: PreparedDataSet,
    baseline: PreparedDataSet,
    pools: dict[str, urllib3.HTTPConnectionPool],
    *,
    warmup: int,
    rounds: int,
    per_round: int,
) -> list[QueryLatency]:
    """Every query of the set (``pools``: ``api_<data set>`` for both, ``elasticsearch``)."""
    measured = []
    for query in queries:
        variants = []
        for data_set in (large, baseline):
            captured = data_set.queries[query.key]
            variants.append(
                Variant(
                    f"graphql_{data_set.name}",
                    graphql_sender(captured.graphql, pools[f"api_{data_set.name}"]),
                )
            )
            variants.append(
                Variant(f"raw_{data_set.name}", raw_sender(captured.raw, pools["elasticsearch"]))
            )
        one = QueryLatency(
            query.key, query.label, sample(variants, warmup, rounds, per_round), baseline.name
        )
        print(
            f"  {query.label}: GraphQL p50 {one.latency('graphql_large').p50:.2f} ms, "
            f"raw {one.latency('raw_large').p50:.2f} ms (x{one.api_ratio:.2f}); "
            f"growth from {baseline.name} x{one.growth:.2f}",
            flush=True,
        )
        measured.append(one)
    return measured
