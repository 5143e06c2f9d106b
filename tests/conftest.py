"""Fixtures: one real Elasticsearch for the whole run, and the sample trail files.

Elasticsearch comes from ``ELASTICSEARCH_URL`` when set; otherwise from a testcontainers
container when a Docker engine answers; otherwise from the local distribution that
``trailql elasticsearch up`` runs. Never a mock.

Expected values are read from the sample files here with the standard library (gzip, json),
independently of the indexer's reader.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from starlette.testclient import TestClient

from api.app import create_app
from indexer.run import IndexSummary, index_sources
from tests.samples import SAMPLES, read_sample_records
from trailql import local_elasticsearch
from trailql.elastic import Connection, resolve_connection, sync_client

ELASTICSEARCH_IMAGE = f"elasticsearch:{local_elasticsearch.ELASTICSEARCH_VERSION}"


def _docker_answers() -> bool:
    """Whether a Docker engine answers (the client alone is not enough)."""
    try:
        answer = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            timeout=15,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return answer.returncode == 0


@pytest.fixture(scope="session", autouse=True)
def _authentication_off() -> Iterator[None]:
    """Authentication off (TRAILQL_AUTH_DISABLED) for tests that are not about it.

    Tests of authentication and tenants pass their own ``ApiSettings``, which win over this.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRAILQL_AUTH_DISABLED", "true")
        yield


@pytest.fixture(scope="session")
def es_connection() -> Iterator[Connection]:
    """The cluster every test talks to."""
    if os.environ.get("ELASTICSEARCH_URL"):
        yield resolve_connection()
        return
    if _docker_answers():
        from testcontainers.community.elasticsearch import (  # noqa: PLC0415
            ElasticSearchContainer,
        )

        with ElasticSearchContainer(ELASTICSEARCH_IMAGE, mem_limit="2g") as container:
            host = container.get_container_host_ip()
            yield Connection(url=f"http://{host}:{container.get_exposed_port(container.port)}")
        return
    port = int(os.environ.get("TRAILQL_TEST_ES_PORT", "9200"))
    before = local_elasticsearch.status(port=port)
    node = local_elasticsearch.up(port=port)
    try:
        yield Connection(url=node.url, username=node.username, password=node.password)
    finally:
        if before is None:  # started here; a node that was running is left running
            local_elasticsearch.down(port=port)


@pytest.fixture(scope="session")
def es(es_connection: Connection) -> Iterator[Elasticsearch]:
    client = sync_client(es_connection)
    yield client
    client.close()


def drop_alias(es: Elasticsearch, alias: str) -> None:
    """Remove an alias's indices (state, quarantine and the rest beside them too) and template."""
    # By name: clusters commonly refuse wildcard deletes (action.destructive_requires_name).
    indices = list(es.indices.get(index=f"{alias}-*,{alias}_*", allow_no_indices=True))
    if indices:
        es.indices.delete(index=indices)
    es.options(ignore_status=404).indices.delete_index_template(name=alias)


@pytest.fixture
def alias(es: Elasticsearch) -> Iterator[str]:
    """A fresh alias of the test's own, removed afterwards with its indices and template."""
    name = f"trailql-test-{uuid.uuid4().hex[:10]}"
    yield name
    drop_alias(es, name)


@pytest.fixture(scope="session")
def samples_alias(es: Elasticsearch) -> Iterator[tuple[str, IndexSummary]]:
    """Every sample trail file, indexed once for the whole run."""
    name = f"trailql-samples-{uuid.uuid4().hex[:10]}"
    summary = index_sources([str(SAMPLES)], client=es, alias=name)
    yield name, summary
    drop_alias(es, name)


@pytest.fixture(scope="session")
def sample_records() -> list[dict[str, Any]]:
    """The 3,210 sample records, as the files hold them."""
    return read_sample_records()


@pytest.fixture(scope="session")
def samples_api(
    es_connection: Connection, samples_alias: tuple[str, IndexSummary]
) -> Iterator[TestClient]:
    """The API over the indexed samples, through its ASGI app."""
    with TestClient(create_app(es_connection, samples_alias[0])) as client:
        yield client


def graphql(client: TestClient, query: str, **variables: Any) -> dict[str, Any]:
    """POST a query; fail the test on any error."""
    response = client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]  # type: ignore[no-any-return]


@pytest.fixture
def run_graphql() -> Any:
    return graphql
