"""The GraphQL over HTTP spec, audited by graphql-http against the API under uvicorn.

The README reports the SHOULD count; these tests keep it true.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from common.elastic import Connection
from indexer.run import IndexSummary
from tests.live import require_node_package, run_node, serving

# Strawberry answers application/json only, never application/graphql-response+json, so
# the spec's recommendations for that media type are missed (as warnings, not errors).
MISSED_SHOULDS = {
    "22EB": "SHOULD accept application/graphql-response+json and match the content-type",
    "865D": "SHOULD use 4xx or 5xx status codes on document parsing failure"
    " when accepting application/graphql-response+json",
    "556A": "SHOULD use 400 status code on document parsing failure"
    " when accepting application/graphql-response+json",
    "D586": "SHOULD not contain the data entry on document parsing failure"
    " when accepting application/graphql-response+json",
    "51FE": "SHOULD use 4xx or 5xx status codes on document validation failure"
    " when accepting application/graphql-response+json",
    "74FF": "SHOULD use 400 status code on document validation failure"
    " when accepting application/graphql-response+json",
    "5E5B": "SHOULD not contain the data entry on document validation failure"
    " when accepting application/graphql-response+json",
    "86EE": "SHOULD use a status code of 400 on variable coercion failure"
    " when accepting application/graphql-response+json",
}


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


def test_the_should_audits_pass_except_the_graphql_response_json_ones(audits):
    shoulds = [a for a in audits if _level(a) == "SHOULD"]
    missed = {a["id"]: a["name"] for a in shoulds if a["status"] != "ok"}
    assert missed == MISSED_SHOULDS
    assert {a["status"] for a in shoulds if a["id"] in missed} == {"warn"}
    assert (len(shoulds) - len(missed), len(shoulds)) == (15, 23)  # as the README says


def test_every_may_audit_passes(audits):
    mays = [a for a in audits if _level(a) == "MAY"]
    assert len(mays) == 25
    assert [a for a in mays if a["status"] != "ok"] == []
