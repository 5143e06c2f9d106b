"""The targets the figures are reported against, and whether each is met."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    """One headline figure's bound."""

    key: str  # the figure's key in results.json
    label: str
    bound: float
    at_least: bool  # True: the figure must be >= bound; False: <= bound
    unit: str = "x"

    @property
    def text(self) -> str:
        """How the bound reads, such as ``≥ 0.90`` or ``≤ 300 MB``."""
        sign = "≥" if self.at_least else "≤"
        if self.unit in ("MB", "ms", "s", "req/s"):
            return f"{sign} {self.bound:g} {self.unit}"
        return f"{sign} {self.bound:.2f}"

    def met(self, value: float) -> bool:
        """Whether ``value`` is within the bound."""
        compare: Callable[[float, float], bool] = operator.ge if self.at_least else operator.le
        return compare(value, self.bound)

    def margin(self, value: float) -> str:
        """How far inside (+) or outside (-) the bound, as a share of it."""
        inside = (value - self.bound) if self.at_least else (self.bound - value)
        return f"{inside / self.bound:+.0%}"


TARGETS = (
    Target("indexing_ratio", "indexing end to end ÷ ceiling", 0.90, at_least=True),
    Target(
        "indexer_peak_rss_mb", "indexer peak RSS on the big file", 300, at_least=False, unit="MB"
    ),
    Target(
        "events_first100_p50_ratio", "events(first: 100) p50, GraphQL ÷ raw", 1.20, at_least=False
    ),
    Target("event_stats_p50_ratio", "eventStats p50, GraphQL ÷ raw", 1.10, at_least=False),
    Target("growth_max_ratio", "latency large ÷ small, worst query", 1.30, at_least=False),
    Target(
        "events_first100_large_p50_ms",
        "events(first: 100) p50 on the large data set",
        20,
        at_least=False,
        unit="ms",
    ),
    Target(
        "events_first50_requests_per_second",
        "events(first: 50), 16 clients, on the large data set",
        150,
        at_least=True,
        unit="req/s",
    ),
    Target("hostile_worst_ms", "slowest hostile request answered", 1000, at_least=False, unit="ms"),
    Target(
        "hostile_health_worst_ms", "slowest /healthz beside them", 100, at_least=False, unit="ms"
    ),
    Target("peer_q1_p50_ratio", "Q1 p50, TrailQL ÷ peer", 0.80, at_least=False),
    Target("peer_q2_p50_ratio", "Q2 p50, TrailQL ÷ peer", 0.80, at_least=False),
    Target("peer_q3_p50_ratio", "filtered page (Q3) p50, TrailQL ÷ peer", 0.80, at_least=False),
    Target("peer_q1_throughput_ratio", "Q1 throughput, TrailQL ÷ peer", 1.25, at_least=True),
    Target("peer_q2_throughput_ratio", "Q2 throughput, TrailQL ÷ peer", 1.25, at_least=True),
    Target(
        "integrity_slowdown", "continuous indexing slowed by integrity checks", 0.10, at_least=False
    ),
    Target(
        "live_latency_p50_s",
        "live: index returned to event arrived, p50",
        2,
        at_least=False,
        unit="s",
    ),
    Target("live_searches_ratio", "live: searches/s, all subscribers ÷ one", 1.10, at_least=False),
)

#: The queries whose work does not depend on the store's size: their growth is judged.
BOUNDED_WORK = frozenset(
    {
        "events_first100",
        "events_first100_filtered",
        "events_deep_page",
        "event_stats_day",
        "event_stats_week",
    }
)
