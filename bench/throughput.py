"""Measure 4: requests per second with many clients at once, through the API and raw.

``clients`` threads, each with its own keep-alive connection, send the same request as fast
as answers come back, until ``requests`` have been answered or ``seconds`` have passed,
whichever is first (loopback only, bounded in count and time). GraphQL and raw alternate
over the rounds; the figures are medians.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import urllib3

from bench.client import Request, connection_pool
from bench.prepared import PreparedDataSet
from bench.query_set import THROUGHPUT_QUERIES
from bench.stats import median, percentile


@dataclass(frozen=True)
class Burst:
    """One burst of concurrent requests."""

    requests: int
    seconds: float
    p50_ms: float

    @property
    def per_second(self) -> float:
        """Answers per second."""
        return self.requests / self.seconds


def burst(
    send: Callable[[urllib3.HTTPConnectionPool], None],
    url: str,
    *,
    clients: int,
    requests: int,
    seconds: float,
) -> Burst:
    """Send with ``clients`` threads until ``requests`` answers or ``seconds``, first of the two."""
    tickets = itertools.count()
    latencies: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    deadline = 0.0

    def client() -> None:
        pool = connection_pool(url)
        mine: list[float] = []
        start.wait()
        while next(tickets) < requests and time.perf_counter() < deadline:
            began = time.perf_counter()
            send(pool)
            mine.append((time.perf_counter() - began) * 1000)
        with lock:
            latencies.extend(mine)

    with ThreadPoolExecutor(max_workers=clients, thread_name_prefix="client") as pool:
        futures = [pool.submit(client) for _ in range(clients)]
        began = time.perf_counter()
        deadline = began + seconds
        start.wait()
        for future in futures:
            future.result()
        elapsed = time.perf_counter() - began
    return Burst(len(latencies), elapsed, percentile(latencies, 0.5))


def _graphql(request: Request) -> Callable[[urllib3.HTTPConnectionPool], None]:
    def send(pool: urllib3.HTTPConnectionPool) -> None:
        request.send(pool)

    return send


def _raw(requests: list[Request]) -> Callable[[urllib3.HTTPConnectionPool], None]:
    def send(pool: urllib3.HTTPConnectionPool) -> None:
        for request in requests:
            request.send(pool)

    return send


@dataclass
class QueryThroughput:
    """One query's bursts through the API and raw."""

    key: str
    label: str
    graphql: list[Burst]
    raw: list[Burst]

    @property
    def graphql_per_second(self) -> float:
        """Median over rounds."""
        return median([b.per_second for b in self.graphql])

    @property
    def raw_per_second(self) -> float:
        """Median over rounds."""
        return median([b.per_second for b in self.raw])

    def as_dict(self) -> dict[str, Any]:
        """For results.json."""
        return {
            "label": self.label,
            "graphql_requests_per_second": round(self.graphql_per_second, 1),
            "raw_requests_per_second": round(self.raw_per_second, 1),
            "graphql_p50_ms_under_load": round(median([b.p50_ms for b in self.graphql]), 3),
            "raw_p50_ms_under_load": round(median([b.p50_ms for b in self.raw]), 3),
            "requests": [b.requests for b in self.graphql],
        }


def measure_throughput(
    large: PreparedDataSet,
    api_url: str,
    elasticsearch_url: str,
    *,
    clients: int,
    requests: int,
    seconds: float,
    rounds: int,
) -> list[QueryThroughput]:
    """Both throughput queries on the large data set."""
    measured = []
    for query in THROUGHPUT_QUERIES:
        captured = large.queries[query.key]
        graphql_bursts: list[Burst] = []
        raw_bursts: list[Burst] = []
        for number in range(rounds):
            sides = [
                (graphql_bursts, _graphql(captured.graphql), api_url),
                (raw_bursts, _raw(captured.raw), elasticsearch_url),
            ]
            for bursts, send, url in sides if number % 2 == 0 else sides[::-1]:
                bursts.append(burst(send, url, clients=clients, requests=requests, seconds=seconds))
        one = QueryThroughput(query.key, query.label, graphql_bursts, raw_bursts)
        print(
            f"  {query.label}: {one.graphql_per_second:,.0f} requests/s through the API, "
            f"{one.raw_per_second:,.0f} raw, with {clients} clients",
            flush=True,
        )
        measured.append(one)
    return measured
