"""The GraphQL over HTTP spec, audited by graphql-http against the API under uvicorn.

All of them pass, as the README says: 13 MUST, 23 SHOULD, 25 MAY.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from common.elastic import Connection
from indexer.run import IndexSummary
from tests.live import require_node_package, run_node, serving


@pytest.fixture(scope="module")
def audits(
    es_connection: Connection, samples_alias: tuple[str, IndexSummary]
) -> Iterator[list[dict[str, str | None]]]:
    require_node_package("graphql-http")
    with serving(es_connection, samples_alias[0]) as url:
        yield run_node("graphql_http_audit.mjs", url)


def _level(audit: dict[str, str | None]) -> str:
    return str(audit["name"]).split(" ", 1)[0]


def test_every_must_audit_passes(audits):
    musts = [a for a in audits if _level(a) == "MUST"]
    assert len(musts) == 13
    assert [a for a in musts if a["status"] != "ok"] == []


def test_every_should_audit_passes(audits):
    shoulds = [a for a in audits if _level(a) == "SHOULD"]
    assert len(shoulds) == 23
    assert [a for a in shoulds if a["status"] != "ok"] == []


def test_every_may_audit_passes(audits):
    mays = [a for a in audits if _level(a) == "MAY"]
    assert len(mays) == 25
    assert [a for a in mays if a["status"] != "ok"] == []
