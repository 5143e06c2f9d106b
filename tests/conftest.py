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
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from elasticsearch import Elasticsearch
from starlette.testclient import TestClient

from api.app import create_app
from common.elastic import Connection, sync_client
from generator import generate
from indexer.run import IndexSummary, index_sources
from tests.helpers import ELASTICSEARCH_7, drop_alias, graphql, moto_server
from tests.indexer.continuous import REGION, TrailObject, repack
from tests.samples import SAMPLES, read_sample_records, records_of
from trailql import local_elasticsearch
from trailql.connection import local_connection, resolve_connection

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


def local_engine_connection(name: str) -> tuple[Connection, bool]:
    """A local node of the engine ``name`` (``opensearch-2.19.6``), and whether it was started.

    ``TRAILQL_TEST_ENGINE`` names one for the whole run (scripts/test-engines); each engine
    listens on a port of its own, beside Elasticsearch 9 on 9200.
    """
    distribution = local_elasticsearch.Distribution.named(name)
    port = local_elasticsearch.default_port(distribution)
    before = local_elasticsearch.status(port=port)
    node = local_elasticsearch.up(port=port, heap="768m", distribution=distribution)
    return local_connection(node), before is None


@pytest.fixture
def elasticsearch_7() -> Iterator[Connection]:
    """A real Elasticsearch too old for TrailQL, started for the test (on 9270) and stopped."""
    connection, started = local_engine_connection(ELASTICSEARCH_7)
    yield connection
    if started:
        local_elasticsearch.down(port=int(connection.url.rsplit(":", 1)[1]))


@pytest.fixture(scope="session")
def es_connection() -> Iterator[Connection]:
    """The cluster every test talks to."""
    engine = os.environ.get("TRAILQL_TEST_ENGINE")
    if engine:
        connection, started = local_engine_connection(engine)
        # Commands the tests run (in-process or not) find this node, not the one on 9200.
        with pytest.MonkeyPatch.context() as patch:
            for name in (
                "ELASTICSEARCH_USERNAME",
                "ELASTICSEARCH_PASSWORD",
                "ELASTICSEARCH_API_KEY",
            ):
                patch.delenv(name, raising=False)
            for name, value in connection.environment().items():
                patch.setenv(name, value)
            yield connection
        if started:
            local_elasticsearch.down(port=int(connection.url.rsplit(":", 1)[1]))
        return
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


@pytest.fixture
def run_graphql() -> Any:
    return graphql


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """S3, SQS and SNS, served by moto over HTTP for the whole run."""
    with moto_server() as url:
        yield url


@dataclass(frozen=True)
class GeneratedApi:
    """Generated trail files, indexed behind an alias of their own, and the API over them."""

    client: TestClient
    alias: str
    records: list[dict[str, Any]]  # read back from the files, not through our reader


@pytest.fixture(scope="session")
def generated_api(
    es: Elasticsearch, es_connection: Connection, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., GeneratedApi]]:
    """``generated_api(events=…, seed=…, days=…)``: the API over generated data, made once.

    Every test that asks for the same data shares one alias, indexed once; all of them are
    dropped at the end of the run.
    """
    made: dict[tuple[int, int, int | None], GeneratedApi] = {}
    with ExitStack() as cleanup:

        def make(*, events: int, seed: int, days: int | None = None) -> GeneratedApi:
            if (events, seed, days) not in made:
                folder = tmp_path_factory.mktemp(f"generated-{events}-{seed}")
                generate(folder, events=events, seed=seed, days=days)
                alias = f"trailql-generated-{events}-{seed}-{uuid.uuid4().hex[:6]}"
                cleanup.callback(drop_alias, es, alias)
                summary = index_sources([str(folder)], client=es, alias=alias)
                assert summary.clean, summary
                client = cleanup.enter_context(TestClient(create_app(es_connection, alias)))
                records = [
                    r for path in sorted(folder.rglob("*.json.gz")) for r in records_of(path)
                ]
                made[events, seed, days] = GeneratedApi(client, alias, records)
            return made[events, seed, days]

        yield make


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    """S3 and SQS clients, with the environment pointing every boto3 client at moto."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    session = boto3.session.Session()
    return session.client("s3"), session.client("sqs")


@pytest.fixture
def names() -> str:
    """A fresh bucket and queue name for one test (the moto server lives for the whole run)."""
    return f"trail-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def trail_100k(tmp_path_factory: pytest.TempPathFactory) -> list[TrailObject]:
    """100,000 generated events in 250 files of 400, as a busy account's trail holds them.

    ``generate`` spreads one day over 2,468 small files; moto's S3 (about 15 ms a request on
    a busy two-core machine) would spend a minute just on those, so they are repacked.
    """
    root = tmp_path_factory.mktemp("trail-100k")
    generate(root / "generated", events=100_000, seed=100, days=1)
    return repack(root / "generated", root / "packed", events=100_000, files=250)
