"""Hostile requests get a clear error with a code, and nothing else stops meanwhile.

Each request of ``hostile_requests`` is sent to ``trailql serve`` in a process of its own,
with authentication off and again with a read-only API key, while another thread keeps
asking ``/healthz``. Timings are the benchmark's (``python -m bench``); here each request
only has a generous guard against a hang.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Self

import httpx2 as httpx
import pytest

from bench.api_server import Served, serving
from common.elastic import Connection
from indexer.run import IndexSummary
from tests.api.credentials import api_key
from tests.api.hostile_requests import HOSTILE_REQUESTS, HostileRequest

# Correctness that must hold on every engine: scripts/test-engines runs these on each.
pytestmark = pytest.mark.engines

GUARD_SECONDS = 60  # a guard against a hang, not a measurement


@dataclass
class ServedApi:
    """The API under test and the headers each request carries."""

    served: Served
    headers: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module", params=["authentication off", "read-only API key"])
def api(
    request: pytest.FixtureRequest,
    es_connection: Connection,
    samples_alias: tuple[str, IndexSummary],
) -> Iterator[ServedApi]:
    environment = {"TRAILQL_AUTH_DISABLED": "true"}
    headers: dict[str, str] = {}
    workers = 1
    if request.param == "read-only API key":
        key, line = api_key("hostile-tester", "*")
        environment = {"TRAILQL_AUTH_DISABLED": "false", "TRAILQL_API_KEYS": line}
        headers = {"X-API-Key": key}
        workers = 2  # and served by two processes, as `trailql serve` does by default
    with serving(es_connection, samples_alias[0], environment, workers=workers) as served:
        yield ServedApi(served, headers)


class HealthPoll:
    """Asks /healthz over and over on a connection of its own until stopped."""

    def __init__(self, url: str) -> None:
        self.statuses: list[int] = []
        self.slowest = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, args=(url,), daemon=True)

    def _poll(self, url: str) -> None:
        with httpx.Client(base_url=url, timeout=GUARD_SECONDS) as client:
            while not self._stop.is_set():
                started = time.perf_counter()
                self.statuses.append(client.get("/healthz").status_code)
                self.slowest = max(self.slowest, time.perf_counter() - started)
                self._stop.wait(0.02)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def send(client: httpx.Client, case: HostileRequest, headers: dict[str, str]) -> httpx.Response:
    """The case's request, as a careless or hostile client would send it."""
    all_headers = {"content-type": "application/json", **headers, **case.headers}
    body = case.body()
    if case.chunked:
        chunks = (body[i : i + 65536] for i in range(0, len(body), 65536))
        return client.post("/graphql", content=chunks, headers=all_headers)
    return client.post("/graphql", content=body, headers=all_headers)


def test_there_are_forty_cases_or_more_of_every_kind():
    kinds = {case.kind for case in HOSTILE_REQUESTS}
    assert len(HOSTILE_REQUESTS) >= 40
    assert kinds == {
        "explosion",
        "cycle",
        "depth",
        "aliases",
        "nesting",
        "size",
        "clauses",
        "paths",
        "wildcards",
        "integers",
        "encoding",
        "batching",
        "body",
        "operations",
        "validation",
    }
    assert len({case.name for case in HOSTILE_REQUESTS}) == len(HOSTILE_REQUESTS)


def test_every_hostile_request_gets_its_code_and_health_keeps_answering(api):
    wrong = []
    with (
        HealthPoll(api.served.url) as health,
        httpx.Client(base_url=api.served.url, timeout=GUARD_SECONDS) as client,
    ):
        for case in HOSTILE_REQUESTS:
            response = send(client, case, api.headers)
            body = response.json()
            codes = {error["extensions"]["code"] for error in body.get("errors", [])}
            traceback = any("Traceback" in error["message"] for error in body.get("errors", []))
            answered = (response.status_code, codes <= case.codes, bool(codes) == bool(case.codes))
            if answered != (case.status, True, True) or traceback:
                wrong.append((case.name, response.status_code, sorted(codes), response.text[:300]))
            if case.codes:
                assert body.get("data") is None, case.name
        # After all of it, an ordinary question is answered as usual.
        ordinary = client.post(
            "/graphql", json={"query": "{ eventStats { count } }"}, headers=api.headers
        ).json()
    assert wrong == []
    assert ordinary["data"]["eventStats"]["count"] == 3210
    assert health.statuses
    assert set(health.statuses) == {200}
