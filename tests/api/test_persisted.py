"""Persisted queries: Apollo's automatic ones, GET answers caches may keep, and the allow-list.

Expected counts come from the sample files (read with the standard library); hashes are
computed here with hashlib, as a client computes them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from api.app import create_app
from api.media_types import GRAPHQL_RESPONSE_JSON
from api.persisted import Manifest, PersistedQueryConfigError
from api.settings import ApiSettings
from common.elastic import Connection
from indexer.run import IndexSummary
from tests.api.credentials import SIGMA, STRATUS

QUERY = 'query Logs($n: Int!) { events(first: $n, filter: {eventSource: ["logs.amazonaws.com"]}) { totalCount nodes { eventID } } }'  # noqa: E501
LISTED = "query Count { events { totalCount } }"
UNLISTED = "query Other { events { totalCount pageInfo { hasNextPage } } }"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def persisted(text: str, version: object = 1) -> dict[str, Any]:
    return {"persistedQuery": {"version": version, "sha256Hash": sha256(text)}}


def codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


@pytest.fixture(scope="module")
def logs_records(sample_records) -> list[dict[str, Any]]:
    return [r for r in sample_records if r["eventSource"] == "logs.amazonaws.com"]


@pytest.fixture(scope="module")
def api(es_connection: Connection, samples_alias: tuple[str, IndexSummary]) -> Iterator[TestClient]:
    """Its own app, so hashes registered by other tests' apps are not known to it."""
    with TestClient(create_app(es_connection, samples_alias[0])) as client:
        yield client


def test_an_unknown_hash_is_not_found_then_registered_then_answered(api, logs_records):
    variables = {"n": 2}
    asked = {"extensions": persisted(QUERY), "variables": variables}

    missed = api.post("/graphql", json=asked)
    assert missed.status_code == 200
    body = missed.json()
    assert body["errors"][0]["message"] == "PersistedQueryNotFound"  # what Apollo matches
    assert codes(body) == ["PERSISTED_QUERY_NOT_FOUND"]

    registered = api.post("/graphql", json={**asked, "query": QUERY}).json()
    assert registered["data"]["events"]["totalCount"] == len(logs_records)
    assert len(registered["data"]["events"]["nodes"]) == 2

    hit = api.post("/graphql", json=asked).json()
    assert hit["data"] == registered["data"]


def test_a_hash_that_is_not_the_documents_is_refused(api):
    wrong = {"query": QUERY, "variables": {"n": 1}, "extensions": persisted(LISTED)}
    response = api.post("/graphql", json=wrong, headers={"Accept": GRAPHQL_RESPONSE_JSON})
    assert response.status_code == 400
    assert "data" not in response.json()
    assert codes(response.json()) == ["PERSISTED_QUERY_HASH_MISMATCH"]
    # The document was not registered under the wrong hash, nor under its own.
    again = api.post("/graphql", json={"extensions": persisted(LISTED)}).json()
    assert codes(again) == ["PERSISTED_QUERY_NOT_FOUND"]


@pytest.mark.parametrize(
    ("persisted_query", "code"),
    [
        ({"version": 2, "sha256Hash": sha256(LISTED)}, "PERSISTED_QUERY_NOT_SUPPORTED"),
        ({"version": 1, "sha256Hash": "x" * 129}, "BAD_REQUEST"),
        ({"version": 1, "sha256Hash": "../../etc/passwd"}, "BAD_REQUEST"),
        ({"version": 1, "sha256Hash": ["a"]}, "BAD_REQUEST"),
        ({"version": 1}, "BAD_REQUEST"),
        ("a string", "BAD_REQUEST"),
        ({"version": 1, "sha256Hash": "0" * 64}, "PERSISTED_QUERY_NOT_FOUND"),
    ],
)
def test_malformed_persisted_queries_get_a_code(api, persisted_query, code):
    response = api.post("/graphql", json={"extensions": {"persistedQuery": persisted_query}})
    assert response.status_code == 200
    assert codes(response.json()) == [code]


def test_a_get_with_variables_is_answered_through_the_same_executor(api, logs_records):
    api.post(
        "/graphql", json={"query": QUERY, "variables": {"n": 1}, "extensions": persisted(QUERY)}
    )
    params = {
        "extensions": json.dumps(persisted(QUERY)),
        "variables": json.dumps({"n": 3}),
        "operationName": "Logs",
    }
    response = api.get("/graphql", params=params, headers={"Accept": "*/*"})
    assert response.status_code == 200, response.text
    events = response.json()["data"]["events"]
    assert events["totalCount"] == len(logs_records)
    assert len(events["nodes"]) == 3
    assert response.headers["cache-control"] == "public, max-age=60"  # authentication is off
    assert "Accept" in response.headers["vary"]

    over = api.get("/graphql", params={**params, "variables": json.dumps({"n": 501})})
    assert codes(over.json()) == ["BAD_USER_INPUT"]  # the same limits as POST
    assert over.headers["cache-control"] == "no-store"


def test_a_get_of_an_unknown_hash_is_not_graphiqls_page(api):
    params = {"extensions": json.dumps(persisted("{ __typename }"))}
    response = api.get("/graphql", params=params, headers={"Accept": "text/html, */*"})
    assert codes(response.json()) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert response.headers["cache-control"] == "no-store"


def test_authenticated_get_answers_are_private_to_the_caller(secured_api, keys, sample_records):
    query = "{ events { totalCount } }"
    params = {"query": query}
    sigma = secured_api.get("/graphql", params=params, headers={"X-API-Key": keys.sigma})
    stratus = secured_api.get("/graphql", params=params, headers={"X-API-Key": keys.stratus})
    expected = {
        "sigma": sum(r["recipientAccountId"] == SIGMA for r in sample_records),
        "stratus": sum(r["recipientAccountId"] in STRATUS for r in sample_records),
    }
    assert expected["sigma"] != expected["stratus"]  # the same URL, two answers
    assert sigma.json()["data"]["events"]["totalCount"] == expected["sigma"]
    assert stratus.json()["data"]["events"]["totalCount"] == expected["stratus"]
    for response in (sigma, stratus):
        assert response.headers["cache-control"] == "private, max-age=60"
        vary = {v.strip() for v in response.headers["vary"].split(",")}
        assert {"Authorization", "X-API-Key", "Accept"} <= vary
    posted = secured_api.post("/graphql", json=params, headers={"X-API-Key": keys.sigma})
    assert "cache-control" not in posted.headers


def _apollo_manifest(*documents: str) -> dict[str, Any]:
    return {
        "format": "apollo-persisted-query-manifest",
        "version": 1,
        "operations": [
            {"id": sha256(d), "name": d.split()[1], "type": "query", "body": d} for d in documents
        ],
    }


@pytest.fixture(scope="module")
def allow_listed(
    es_connection: Connection, samples_alias: tuple[str, IndexSummary], tmp_path_factory
) -> Iterator[TestClient]:
    manifest = tmp_path_factory.mktemp("persisted") / "persisted-query-manifest.json"
    manifest.write_text(json.dumps(_apollo_manifest(LISTED)))
    settings = ApiSettings(persisted_queries_only=True, persisted_queries_manifest=manifest)
    with TestClient(create_app(es_connection, samples_alias[0], settings)) as client:
        yield client


def test_the_allow_list_answers_its_operations_by_hash_or_text(allow_listed, sample_records):
    by_hash = allow_listed.post("/graphql", json={"extensions": persisted(LISTED)}).json()
    assert by_hash["data"]["events"]["totalCount"] == len(sample_records)
    by_text = allow_listed.post("/graphql", json={"query": LISTED}).json()
    assert by_text["data"] == by_hash["data"]


def test_the_allow_list_refuses_any_other_document(allow_listed):
    headers = {"Accept": GRAPHQL_RESPONSE_JSON}
    for body in (
        {"query": UNLISTED},
        {"query": UNLISTED, "extensions": persisted(UNLISTED)},  # no registering either
        {"query": LISTED + " "},  # not the very text
    ):
        refused = allow_listed.post("/graphql", json=body, headers=headers)
        assert refused.status_code == 400
        assert codes(refused.json()) == ["PERSISTED_QUERY_NOT_IN_LIST"]
        assert "not one of them" in refused.json()["errors"][0]["message"]
    unknown = allow_listed.post("/graphql", json={"extensions": persisted(UNLISTED)}).json()
    assert codes(unknown) == ["PERSISTED_QUERY_NOT_FOUND"]


def test_a_relay_manifest_is_read_by_its_own_ids(tmp_path):
    path = tmp_path / "persisted_queries.json"
    path.write_text(json.dumps({"a1b2c3": LISTED}))
    manifest = Manifest.read(path)
    assert manifest.by_id["a1b2c3"] == LISTED
    assert manifest.by_id[sha256(LISTED)] == LISTED
    assert manifest.hashes == {sha256(LISTED)}


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("{not json", "is not JSON"),
        ("[1, 2]", "neither Apollo's manifest nor Relay's"),
        ('{"id": 3}', "must map an ID"),
        ('{"": "{ a }"}', "must map an ID"),
        (json.dumps({**_apollo_manifest(LISTED), "version": 2}), "only version 1"),
        (
            json.dumps(
                {
                    "format": "apollo-persisted-query-manifest",
                    "version": 1,
                    "operations": [{"id": sha256("{ a }"), "body": "{ b }"}],
                }
            ),
            "'id' is not the SHA-256 of 'body'",
        ),
    ],
)
def test_a_manifest_that_cannot_work_stops_the_start(tmp_path, content, says):
    path = tmp_path / "manifest.json"
    path.write_text(content)
    with pytest.raises(PersistedQueryConfigError, match=says):
        Manifest.read(path)


def test_the_allow_list_needs_a_manifest(es_connection, samples_alias):
    settings = ApiSettings(persisted_queries_only=True)
    with pytest.raises(PersistedQueryConfigError, match="PERSISTED_QUERIES_MANIFEST"):
        create_app(es_connection, samples_alias[0], settings)
