"""A real three-node cluster, started for these tests, and the data and API over it.

The cluster runs on ports of its own (``TRAILQL_TEST_CLUSTER_PORT``, 9311 by default: HTTP
9311-9313, transport 9411-9413), never on the shared node, which these tests leave alone. It
is started once for the package and stopped when the package is done, unless it was already
running (then it is left running). After each test every member is brought back, whatever
the test killed.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from bench.api_server import Served, serving
from common.elastic import Connection, sync_client
from indexer.pipeline import IndexOptions
from indexer.run import index_sources
from schema import IndexLayout
from tests.cluster.load import Question, wait_for_health
from tests.helpers import drop_alias
from tests.samples import SAMPLES
from trailql import local_elasticsearch

CLUSTER_PORT = int(os.environ.get("TRAILQL_TEST_CLUSTER_PORT", "9311"))
NODES = 3


@pytest.fixture(scope="package")
def cluster() -> Iterator[local_elasticsearch.LocalCluster]:
    ports = range(CLUSTER_PORT, CLUSTER_PORT + NODES)
    before = [local_elasticsearch.status(port=port) for port in ports]
    started = local_elasticsearch.up_cluster(nodes=NODES, port=CLUSTER_PORT, heap="512m")
    try:
        yield started
    finally:
        if all(node is None for node in before):
            local_elasticsearch.down(port=CLUSTER_PORT, cluster=True)


@pytest.fixture(scope="package")
def cluster_connection(cluster: local_elasticsearch.LocalCluster) -> Connection:
    """Every node's URL, as ``ELASTICSEARCH_URL`` would list them."""
    return Connection(url=cluster.url, username=cluster.username, password=cluster.password)


@pytest.fixture(scope="package")
def cluster_es(cluster_connection: Connection) -> Iterator[Elasticsearch]:
    client = sync_client(cluster_connection)
    # The cluster's data outlives a run: a run cut short leaves its indices, and one without
    # replicas turns the cluster red the moment a test stops a node.
    left = list(client.indices.get(index="trailql-cluster-*", allow_no_indices=True))
    if left:
        client.indices.delete(index=left)
    client.options(ignore_status=404).indices.delete_index_template(name="trailql-cluster-*")
    # A rolling restart cut short (a run killed mid-test) leaves replica allocation paused,
    # persistently: no replica is placed again and the cluster never turns green.
    _resume_allocation(client)
    wait_for_health(client, "green", nodes=NODES)
    yield client
    client.close()


def _resume_allocation(es: Elasticsearch) -> None:
    es.cluster.put_settings(
        persistent={"cluster.routing.allocation.enable": None},
        transient={"cluster.routing.allocation.enable": None},
    )


@pytest.fixture(scope="package")
def _recovery() -> dict[str, str]:
    """Why the cluster did not come back after a test, once it has not."""
    return {}


@pytest.fixture(autouse=True)
def _whole_cluster(
    cluster_es: Elasticsearch, _recovery: dict[str, str], request: pytest.FixtureRequest
) -> Iterator[None]:
    """Every member running and every shard assigned, before and after each test.

    Once the cluster has not come back, later tests fail at once with the reason instead of
    each waiting the whole timeout again.
    """
    if _recovery:
        pytest.fail(
            f"the cluster did not recover after {_recovery['after']}: {_recovery['why']}",
            pytrace=False,
        )
    wait_for_health(cluster_es, "green", nodes=NODES)
    yield
    try:
        local_elasticsearch.up_cluster(nodes=NODES, port=CLUSTER_PORT, heap="512m")
        _resume_allocation(cluster_es)
        wait_for_health(cluster_es, "green", nodes=NODES)
    except Exception as exc:
        _recovery.update(after=request.node.nodeid, why=str(exc))
        raise


@pytest.fixture
def cluster_alias(cluster_es: Elasticsearch) -> Iterator[Callable[[str], str]]:
    """``cluster_alias("purpose")``: a fresh alias, dropped with its indices afterwards."""
    made: list[str] = []

    def make(purpose: str) -> str:
        made.append(f"trailql-cluster-{purpose}-{uuid.uuid4().hex[:8]}")
        return made[-1]

    yield make
    for alias in made:
        drop_alias(cluster_es, alias)


@dataclass(frozen=True)
class Reference:
    """The samples, indexed with one replica, and questions whose answers are known."""

    alias: str
    questions: list[Question]


@pytest.fixture(scope="package")
def reference(
    cluster_es: Elasticsearch, sample_records: list[dict[str, Any]]
) -> Iterator[Reference]:
    """The 3,210 sample records, one replica of every shard: any one node may be lost."""
    alias = f"trailql-cluster-reference-{uuid.uuid4().hex[:8]}"
    options = IndexOptions(layout=IndexLayout(replicas=1))
    summary = index_sources([str(SAMPLES)], client=cluster_es, alias=alias, options=options)
    assert summary.clean, summary
    try:
        yield Reference(alias, questions(sample_records))
    finally:
        drop_alias(cluster_es, alias)


def questions(records: list[dict[str, Any]]) -> list[Question]:
    """A search, a filter and an aggregation, each with the answer counted from the files."""
    sources = sorted({record["eventSource"] for record in records})[:5]
    by_source = " ".join(
        f'c{n}: events(filter: {{eventSource: ["{source}"]}}) {{ totalCount }}'
        for n, source in enumerate(sources)
    )
    return [
        Question("total", "{ events { totalCount } }", {"events": {"totalCount": len(records)}}),
        Question(
            "by source",
            "{ %s }" % by_source,
            {
                f"c{n}": {"totalCount": sum(r["eventSource"] == source for r in records)}
                for n, source in enumerate(sources)
            },
        ),
        Question(
            "failed calls",
            "{ eventStats(filter: {hasError: true}) { count } }",
            {"eventStats": {"count": sum("errorCode" in record for record in records)}},
        ),
    ]


@pytest.fixture(scope="package")
def reference_api(cluster_connection: Connection, reference: Reference) -> Iterator[Served]:
    """``trailql serve`` over the reference alias, given every node's URL."""
    with serving(
        cluster_connection, reference.alias, {"TRAILQL_AUTH_DISABLED": "true"}, workers=1
    ) as served:
        yield served
