"""application/graphql-response+json for clients that accept it; application/json otherwise."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from api.media_types import GRAPHQL_RESPONSE_JSON, JSON, negotiate

GRAPHQL_RESPONSE = {"Accept": GRAPHQL_RESPONSE_JSON}


def _nested(depth: int) -> object:
    value: object = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, JSON),
        ("", JSON),
        ("*/*", JSON),
        ("application/json", JSON),
        ("application/graphql-response+json", GRAPHQL_RESPONSE_JSON),
        ("application/graphql-response+json, application/json", GRAPHQL_RESPONSE_JSON),
        ("application/json, application/graphql-response+json", GRAPHQL_RESPONSE_JSON),
        ("application/graphql-response+json;q=0.5, application/json", JSON),
        ("application/json;q=0.5, application/graphql-response+json", GRAPHQL_RESPONSE_JSON),
        ("APPLICATION/GRAPHQL-RESPONSE+JSON; charset=utf-8", GRAPHQL_RESPONSE_JSON),
        ("application/graphql-response+json;q=0", JSON),
        ("application/graphql-response+json;q=banana", JSON),
        ("text/html", JSON),
        ("," * 100_000 + "application/graphql-response+json", JSON),  # read no further
    ],
)
def test_the_media_type_follows_accept(accept, expected):
    assert negotiate(accept) == expected


def test_a_document_that_does_not_validate_is_400_without_data(samples_api: TestClient):
    response = samples_api.post("/graphql", json={"query": "{ nope }"}, headers=GRAPHQL_RESPONSE)
    assert response.status_code == 400
    assert response.headers["content-type"] == GRAPHQL_RESPONSE_JSON
    assert "Accept" in response.headers["vary"]
    body = response.json()
    assert "data" not in body
    assert [e["extensions"]["code"] for e in body["errors"]] == ["GRAPHQL_VALIDATION_FAILED"]


def test_under_application_json_the_same_document_is_200_with_data_null(samples_api):
    response = samples_api.post("/graphql", json={"query": "{ nope }"})
    assert response.status_code == 200
    assert response.headers["content-type"] == JSON
    body = response.json()
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["GRAPHQL_VALIDATION_FAILED"]


@pytest.mark.parametrize(
    ("query", "variables", "code"),
    [
        ("{ events(first: 1) { totalCount ", None, "GRAPHQL_VALIDATION_FAILED"),  # syntax
        ("query Q($n: Int!) { events(first: $n) { totalCount } }", {"n": "x"}, "BAD_USER_INPUT"),
        ("{ __typename }", {"v": _nested(40)}, "BAD_USER_INPUT"),  # deeper than the limit
        (
            "{ %s }" % " ".join("a%d: events(first: 1) { totalCount }" % n for n in range(61)),
            None,
            "QUERY_TOO_COSTLY",
        ),
    ],
)
def test_refusals_before_running_are_400(samples_api, query, variables, code):
    response = samples_api.post(
        "/graphql", json={"query": query, "variables": variables}, headers=GRAPHQL_RESPONSE
    )
    assert response.status_code == 400, response.text
    assert "data" not in response.json()
    assert response.json()["errors"][0]["extensions"]["code"] == code


def test_an_answer_that_ran_is_200_even_with_a_field_error(samples_api: TestClient):
    query = '{ events(first: 1, after: "not-a-cursor") { totalCount } }'
    response = samples_api.post("/graphql", json={"query": query}, headers=GRAPHQL_RESPONSE)
    assert response.status_code == 200
    assert response.headers["content-type"] == GRAPHQL_RESPONSE_JSON
    body = response.json()
    assert "data" in body
    assert body["errors"][0]["extensions"]["code"] == "INVALID_CURSOR"


def test_a_refusal_of_the_transport_is_in_the_media_type_asked(samples_api: TestClient):
    response = samples_api.get(
        "/graphql", params={"query": "mutation { __typename }"}, headers=GRAPHQL_RESPONSE
    )
    assert response.status_code == 405
    assert response.headers["content-type"] == GRAPHQL_RESPONSE_JSON
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
