"""What clients see when Elasticsearch goes away or stops answering, and when we break.

The first two tests run on a node of their own, which they freeze and stop: only where the
tests start the local node (not against ELASTICSEARCH_URL, which may be shared).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator

import httpx2 as httpx
import pytest
from graphql import GraphQLError
from starlette.testclient import TestClient

from api.app import create_app
from api.errors import with_code
from bench.api_server import free_port, wait_until_healthy
from bench.peak_rss import connection_environment
from common.elastic import Connection
from trailql import local_elasticsearch

PRIVATE_PORT = 9290
GUARD_SECONDS = 60  # a guard against a hang, not a measurement
SHUTDOWN_SECONDS = 3

needs_private_node = pytest.mark.skipif(
    bool(os.environ.get("ELASTICSEARCH_URL")),
    reason="needs a node of its own to freeze and stop; runs wherever the tests start the "
    "local node",
)


@pytest.fixture(scope="module")
def private_node() -> Iterator[local_elasticsearch.LocalNode]:
    node = local_elasticsearch.up(port=PRIVATE_PORT, heap="512m")
    try:
        yield node
    finally:
        local_elasticsearch.down(port=PRIVATE_PORT)


def _connection(node: local_elasticsearch.LocalNode, timeout: float) -> Connection:
    return Connection(
        url=node.url, username=node.username, password=node.password, request_timeout=timeout
    )


@needs_private_node
@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_stops_the_api_in_time_while_a_request_waits_on_elasticsearch(
    private_node, workers
):
    """Elasticsearch frozen (SIGSTOP): a request waits on it; SIGTERM still ends the API."""
    port = free_port()
    environment = {
        **connection_environment(_connection(private_node, 300), "trailql-frozen"),
        "TRAILQL_AUTH_DISABLED": "true",
        "TRAILQL_REQUEST_TIMEOUT": "300",  # the request alone would wait five minutes
        "TRAILQL_SHUTDOWN_TIMEOUT": str(SHUTDOWN_SECONDS),
    }
    command = [sys.executable, "-m", "trailql", "serve", "--port", str(port)]
    command += ["--workers", str(workers)]
    api = subprocess.Popen(command, env=environment, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    answers: list[object] = []
    try:
        assert wait_until_healthy(url, api)
        os.kill(private_node.pid, signal.SIGSTOP)

        def ask() -> None:
            try:
                answers.append(
                    httpx.post(
                        f"{url}/graphql",
                        json={"query": "{ events { totalCount } }"},
                        timeout=GUARD_SECONDS * 5,
                    )
                )
            except httpx.HTTPError as exc:
                answers.append(exc)

        asker = threading.Thread(target=ask)
        asker.start()
        asker.join(timeout=2)
        assert asker.is_alive(), "the request should be waiting on the frozen node"
        api.send_signal(signal.SIGTERM)
        # One process ends itself with the signal once shut down gracefully; a supervisor of
        # several workers stops them gracefully, then exits 0.
        assert api.wait(timeout=GUARD_SECONDS) == (-signal.SIGTERM if workers == 1 else 0)
        asker.join(timeout=GUARD_SECONDS)
        assert not asker.is_alive()
        assert len(answers) == 1  # answered or cut off when the process ended, not left hanging
    finally:
        os.kill(private_node.pid, signal.SIGCONT)
        if api.poll() is None:
            api.kill()
            api.wait()


@needs_private_node
def test_a_stopped_elasticsearch_answers_upstream_unavailable(private_node):
    query = {"query": "{ events { totalCount } eventStats { count } }"}
    with TestClient(create_app(_connection(private_node, 5), "trailql-stopped")) as client:
        before = client.post("/graphql", json=query).json()
        assert before["data"] == {"events": {"totalCount": 0}, "eventStats": {"count": 0}}
        local_elasticsearch.down(port=PRIVATE_PORT)
        after = client.post("/graphql", json=query)
        assert after.status_code == 200
        body = after.json()
        assert body["data"] is None
        assert {e["extensions"]["code"] for e in body["errors"]} == {"UPSTREAM_UNAVAILABLE"}
        assert all("Traceback" not in e["message"] for e in body["errors"])
        assert client.get("/readyz").status_code == 503
        assert client.get("/healthz").status_code == 200


def test_an_unexpected_failure_is_internal_and_says_nothing_of_its_cause():
    failure = GraphQLError("boom", original_error=RuntimeError("secret detail at line 42"))
    masked = with_code(failure)
    assert masked.extensions == {"code": "INTERNAL"}
    assert masked.message == "Internal error; it has been logged."
    assert masked.original_error is None
