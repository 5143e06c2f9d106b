"""Percentiles and medians, the only statistics the figures use."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (``share`` from 0 to 1) of a non-empty sample."""
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    """The median of a non-empty sample."""
    return float(statistics.median(values))


@dataclass(frozen=True)
class Latency:
    """p50, p95 and p99 of one sample, in milliseconds."""

    p50: float
    p95: float
    p99: float

    @classmethod
    def of(cls, milliseconds: Sequence[float]) -> Latency:
        """The percentiles of one round's samples."""
        return cls(
            percentile(milliseconds, 0.50),
            percentile(milliseconds, 0.95),
            percentile(milliseconds, 0.99),
        )

    @classmethod
    def median_of(cls, rounds: Sequence[Latency]) -> Latency:
        """Each percentile's median over the rounds."""
        return cls(
            median([r.p50 for r in rounds]),
            median([r.p95 for r in rounds]),
            median([r.p99 for r in rounds]),
        )

    def as_dict(self) -> dict[str, float]:
        """For results.json, rounded to microseconds."""
        return {
            "p50_ms": round(self.p50, 3),
            "p95_ms": round(self.p95, 3),
            "p99_ms": round(self.p99, 3),
        }
