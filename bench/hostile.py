"""6. Hostile requests: how long each takes to be refused, and what the health probe sees.

Every request of ``tests.api.hostile_requests`` is sent to the served API, first seen each
time (a comment makes every document new, so no cache answers it), while a thread of its own
asks ``/healthz`` every 10 ms. For each: the slowest answer over the samples, and the
slowest health answer while it ran. Targets: each answered within 1 s, health within 100 ms.

Then the doubling-fragment document at 10, 20 and 40 levels, under a 500-event page (each
refused): the time to refuse it must not grow with its expansion (2**levels).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Self

import urllib3

from tests.api.hostile_requests import HOSTILE_REQUESTS, HostileRequest, doubling

_HEALTH_EVERY = 0.01
_DOUBLING_LEVELS = (10, 20, 40)


class _HealthWatch:
    """Asks /healthz over and over; remembers the slowest answer since the last reset."""

    def __init__(self, url: str) -> None:
        self._pool = urllib3.connection_from_url(url, maxsize=1, retries=False, timeout=30.0)
        self._slowest = 0.0
        self._failures = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.is_set():
            started = time.perf_counter()
            try:
                ok = self._pool.urlopen("GET", "/healthz", retries=False).status == 200
            except urllib3.exceptions.HTTPError:
                ok = False
            elapsed = time.perf_counter() - started
            with self._lock:
                self._slowest = max(self._slowest, elapsed)
                self._failures += not ok
            self._stop.wait(_HEALTH_EVERY)

    def reset(self) -> None:
        with self._lock:
            self._slowest = 0.0

    def slowest_ms(self) -> float:
        with self._lock:
            return self._slowest * 1000

    @property
    def failures(self) -> int:
        return self._failures

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass(frozen=True)
class HostileFigures:
    """The slowest answer of each request and the slowest health answer beside it."""

    answers_ms: dict[str, float]
    health_ms: dict[str, float]
    doubling_ms: dict[int, float]
    health_failures: int

    def as_dict(self) -> dict[str, Any]:
        """For results.json."""
        return {
            "answers_ms": self.answers_ms,
            "health_ms": self.health_ms,
            "doubling_refusal_ms": {str(levels): ms for levels, ms in self.doubling_ms.items()},
            "health_failures": self.health_failures,
        }

    @property
    def worst_answer_ms(self) -> float:
        """The slowest hostile request of all."""
        return max(self.answers_ms.values())

    @property
    def worst_health_ms(self) -> float:
        """The slowest health answer while any of them ran."""
        return max(self.health_ms.values())


def _first_seen(case: HostileRequest, sample: int) -> bytes:
    """The case's body, its document made new with a comment (when it has one)."""
    if case.raw_body is not None or case.query is None:
        return case.body()
    fresh = HostileRequest(
        case.name,
        case.kind,
        case.status,
        case.codes,
        f"{case.query}\n# sample {sample}",
        case.variables,
        case.operation_name,
    )
    return fresh.body()


def _send(
    pool: urllib3.HTTPConnectionPool, case: HostileRequest, body: bytes, headers: dict[str, str]
) -> float:
    all_headers = {"content-type": "application/json", **headers, **case.headers}
    started = time.perf_counter()
    if case.chunked:
        chunks = (body[i : i + 65536] for i in range(0, len(body), 65536))
        response = pool.urlopen(
            "POST", "/graphql", body=chunks, headers=all_headers, chunked=True, retries=False
        )
    else:
        response = pool.urlopen("POST", "/graphql", body=body, headers=all_headers, retries=False)
    elapsed = time.perf_counter() - started
    if response.status != case.status:
        raise RuntimeError(f"{case.name}: answered {response.status}, expected {case.status}")
    return elapsed * 1000


def measure_hostile(url: str, headers: dict[str, str], samples: int) -> HostileFigures:
    """Each hostile request ``samples`` times, then the doubling documents."""
    answers: dict[str, float] = {}
    health: dict[str, float] = {}
    doubling_ms: dict[int, float] = {}
    pool = urllib3.connection_from_url(url, maxsize=1, retries=False, timeout=60.0)
    with _HealthWatch(url) as watch:
        for case in HOSTILE_REQUESTS:
            watch.reset()
            answers[case.name] = max(
                _send(pool, case, _first_seen(case, sample), headers) for sample in range(samples)
            )
            health[case.name] = watch.slowest_ms()
        for levels in _DOUBLING_LEVELS:
            case = HostileRequest(
                f"doubling {levels}",
                "explosion",
                200,
                frozenset({"QUERY_TOO_COSTLY"}),
                doubling(levels, "events(first: 500) { nodes { ...F%d } }"),
            )
            times = sorted(
                _send(pool, case, _first_seen(case, sample), headers)
                for sample in range(max(samples, 5))
            )
            doubling_ms[levels] = times[len(times) // 2]
        failures = watch.failures
    return HostileFigures(answers, health, doubling_ms, failures)
