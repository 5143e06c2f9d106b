"""``trailql elasticsearch up --engine … --version …``: each engine on a port of its own."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator

import pytest

from common.elastic import Connection
from tests.conftest import local_engine_connection
from trailql import local_elasticsearch
from trailql.cli import main
from trailql.local_elasticsearch import Distribution, LocalElasticsearchError

OPENSEARCH = "opensearch-2.19.6"


@pytest.fixture(scope="module")
def opensearch() -> Iterator[Connection]:
    connection, started = local_engine_connection(OPENSEARCH)
    yield connection
    if started:
        local_elasticsearch.down(port=local_elasticsearch.ENGINE_PORTS[OPENSEARCH])


def test_opensearch_runs_on_its_own_port_without_users(
    opensearch: Connection, capsys: pytest.CaptureFixture[str]
) -> None:
    assert opensearch.url == "http://127.0.0.1:9260"
    assert opensearch.username is None
    with urllib.request.urlopen(f"{opensearch.url}/") as answer:  # noqa: S310  loopback
        assert json.load(answer)["version"]["distribution"] == "opensearch"
    # Already running: `up` hands it back, and the shell forgets an earlier node's password.
    assert main(["elasticsearch", "up", "--engine", "opensearch"]) == 0
    printed = capsys.readouterr()
    assert printed.out == (
        "export ELASTICSEARCH_URL=http://127.0.0.1:9260\n"
        "unset ELASTICSEARCH_USERNAME ELASTICSEARCH_PASSWORD\n"
    )
    assert "OpenSearch 2.19.6 at http://127.0.0.1:9260" in printed.err


@pytest.mark.usefixtures("opensearch")
def test_a_port_keeps_the_engine_it_was_first_started_with() -> None:
    with pytest.raises(LocalElasticsearchError) as refused:
        local_elasticsearch.up(port=9260, distribution=Distribution())
    assert str(refused.value).startswith(
        "the node on port 9260 runs opensearch-2.19.6, not elasticsearch-9.3.2: choose another "
        "--port"
    )


@pytest.mark.parametrize(
    ("engine", "version", "message"),
    [
        ("solr", "9.0.0", "unknown engine 'solr': use elasticsearch or opensearch"),
        ("opensearch", "2.19", "version must look like 9.3.2, not '2.19'"),
        ("elasticsearch", "9.3.2; rm -rf /", "version must look like 9.3.2, not '9.3.2; rm -rf /'"),
    ],
)
def test_an_engine_or_version_that_cannot_be_is_named(
    engine: str, version: str, message: str
) -> None:
    with pytest.raises(LocalElasticsearchError, match="^" + re.escape(message)):
        Distribution(engine, version)


def test_each_engine_defaults_to_its_tested_version_and_port() -> None:
    assert Distribution.of() == Distribution("elasticsearch", "9.3.2")
    assert Distribution.of("opensearch") == Distribution("opensearch", "2.19.6")
    assert local_elasticsearch.default_port(Distribution.of("opensearch")) == 9260
    assert local_elasticsearch.default_port(Distribution("elasticsearch", "8.19.3")) == 9250
    assert local_elasticsearch.default_port(Distribution("elasticsearch", "8.18.0")) == 9270
