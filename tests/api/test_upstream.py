"""What clients see when Elasticsearch goes away, and when something unexpected breaks."""

from __future__ import annotations

import os

import pytest
from graphql import GraphQLError
from starlette.testclient import TestClient

from api.app import create_app
from api.errors import with_code
from trailql import local_elasticsearch
from trailql.elastic import Connection

STOPPABLE_PORT = 9290


@pytest.mark.skipif(
    bool(os.environ.get("ELASTICSEARCH_URL")),
    reason="needs a node of its own to stop; runs wherever the tests start the local node",
)
def test_a_stopped_elasticsearch_answers_upstream_unavailable():
    node = local_elasticsearch.up(port=STOPPABLE_PORT, heap="512m")
    connection = Connection(
        url=node.url, username=node.username, password=node.password, request_timeout=5
    )
    query = {"query": "{ events { totalCount } eventStats { count } }"}
    try:
        with TestClient(create_app(connection, "trailql-stopped")) as client:
            before = client.post("/graphql", json=query).json()
            assert before["data"] == {"events": {"totalCount": 0}, "eventStats": {"count": 0}}
            local_elasticsearch.down(port=STOPPABLE_PORT)
            after = client.post("/graphql", json=query)
            assert after.status_code == 200
            body = after.json()
            assert body["data"] is None
            assert {e["extensions"]["code"] for e in body["errors"]} == {"UPSTREAM_UNAVAILABLE"}
            assert all("Traceback" not in e["message"] for e in body["errors"])
            assert client.get("/readyz").status_code == 503
            assert client.get("/healthz").status_code == 200
    finally:
        local_elasticsearch.down(port=STOPPABLE_PORT)


def test_an_unexpected_failure_is_internal_and_says_nothing_of_its_cause():
    failure = GraphQLError("boom", original_error=RuntimeError("secret detail at line 42"))
    masked = with_code(failure)
    assert masked.extensions == {"code": "INTERNAL"}
    assert masked.message == "Internal error; it has been logged."
    assert masked.original_error is None
