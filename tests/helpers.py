"""What many tests do: ask the API, drop what a test indexed, serve S3 and SQS with moto.

Fixtures live in the conftest files; the functions they and the tests share live here, so
no test imports a conftest.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from elasticsearch import AsyncElasticsearch, Elasticsearch
from moto.server import ThreadedMotoServer
from starlette.testclient import TestClient

from bench.api_server import free_port
from trailql import local_elasticsearch

#: The newest engine TrailQL refuses, run for real to show it is refused by name.
ELASTICSEARCH_7 = "elasticsearch-7.17.29"


def on_opensearch() -> bool:
    """Whether this run's engine is OpenSearch (``TRAILQL_TEST_ENGINE``, scripts/test-engines).

    For the one difference common/engine.py documents and leaves: an object given to a
    keyword, date, ip or boolean field is ignored by OpenSearch, refused by Elasticsearch.
    """
    return os.environ.get("TRAILQL_TEST_ENGINE", "").startswith("opensearch-")


def engine_of_this_run() -> str:
    """This run's engine as ``ELASTICSEARCH_ENGINE`` names it (``opensearch-2``)."""
    distribution = local_elasticsearch.Distribution.named(
        os.environ.get("TRAILQL_TEST_ENGINE", local_elasticsearch.DEFAULT_DISTRIBUTION.name)
    )
    return f"{distribution.engine}-{distribution.major}"


def graphql(client: TestClient, query: str, **variables: Any) -> dict[str, Any]:
    """POST a query; fail the test on any error."""
    response = client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]  # type: ignore[no-any-return]


def drop_alias(es: Elasticsearch, alias: str) -> None:
    """Remove an alias's indices (state, quarantine and the rest beside them too) and template."""
    # By name: clusters commonly refuse wildcard deletes (action.destructive_requires_name).
    indices = list(es.indices.get(index=f"{alias}-*,{alias}_*", allow_no_indices=True))
    if indices:
        es.indices.delete(index=indices)
    es.options(ignore_status=404).indices.delete_index_template(name=alias)


@contextmanager
def moto_server() -> Iterator[str]:
    """S3, SQS and SNS served by moto over HTTP on a free loopback port; yields its URL."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@contextmanager
def requests_sent(client: AsyncElasticsearch) -> Iterator[list[tuple[str, str]]]:
    """The method and target of every HTTP request the client's nodes send meanwhile,
    retries included (the transport sends each again through a node)."""
    sent: list[tuple[str, str]] = []
    with _recording(client, lambda method, target, _: sent.append((method, target))):
        yield sent


@contextmanager
def bodies_sent(client: AsyncElasticsearch) -> Iterator[list[tuple[str, str, bytes]]]:
    """As :func:`requests_sent`, each request with its body."""
    sent: list[tuple[str, str, bytes]] = []
    with _recording(client, lambda method, target, body: sent.append((method, target, body))):
        yield sent


@contextmanager
def _recording(
    client: AsyncElasticsearch, record: Callable[[str, str, bytes], None]
) -> Iterator[None]:
    nodes = client.transport.node_pool.all()
    originals = [node.perform_request for node in nodes]

    def recording(original: Any) -> Any:
        async def perform_request(method: str, target: str, *args: Any, **kwargs: Any) -> Any:
            body = kwargs.get("body", args[0] if args else None)
            record(method, target, bytes(body or b""))
            return await original(method, target, *args, **kwargs)

        return perform_request

    for node, original in zip(nodes, originals, strict=True):
        node.perform_request = recording(original)  # type: ignore[method-assign]
    try:
        yield
    finally:
        for node, original in zip(nodes, originals, strict=True):
            node.perform_request = original  # type: ignore[method-assign]
