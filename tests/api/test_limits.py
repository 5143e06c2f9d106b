"""Queries over the limits are refused before they run, with QUERY_TOO_COSTLY."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import DocumentNode, FragmentDefinitionNode, OperationDefinitionNode, parse
from starlette.testclient import TestClient

from api.app import create_app
from api.limits import QueryShape, measure
from api.schema import FIELD_COSTS
from api.settings import ApiSettings


def _errors(client: TestClient, query: str, **variables) -> list[dict[str, Any]]:
    body = client.post("/graphql", json={"query": query, "variables": variables}).json()
    assert body.get("data") is None
    return list(body["errors"])


def test_a_costly_query_is_refused_before_it_runs(samples_api):
    query = """{ eventStats { terms(field: PRINCIPAL, size: 500) {
        stats { terms(field: EVENT_NAME, size: 500) { key } } } } }"""
    [error] = _errors(samples_api, query)
    assert error["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert "at most 50,000" in error["message"]


def test_page_sizes_in_variables_count_too(samples_api):
    query = """query($n: Int) { a: events(first: $n) { nodes { eventID eventName } }
      b: events(first: $n) { nodes { eventID eventName } } }"""
    cheap = samples_api.post("/graphql", json={"query": query, "variables": {"n": 5}}).json()
    assert "errors" not in cheap
    # Each events field: 1 + 10 (a search) + 5 x (nodes 1 + eventID 1 + eventName 1) = 26.
    assert cheap["extensions"]["cost"] == {"requested": 52, "maximum": 50_000}


def test_every_response_reports_its_cost(samples_api):
    body = samples_api.post("/graphql", json={"query": "{ events(first: 3) { totalCount } }"})
    # 1 + 10 (a search) + 3 x totalCount 1.
    assert body.json()["extensions"]["cost"] == {"requested": 14, "maximum": 50_000}


def test_too_deep_and_too_many_aliases(samples_api):
    deep = (
        "{ eventStats { "
        + "terms(field: EVENT_NAME, size: 1) { stats { " * 6
        + "count"
        + " } }" * 6
        + " } }"
    )
    [error] = _errors(samples_api, deep)
    assert error["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert "levels deep; at most 12" in error["message"]
    aliased = "{ " + " ".join(f"a{n}: eventStats {{ count }}" for n in range(61)) + " }"
    [error] = _errors(samples_api, aliased)
    assert error["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert "61 aliases; at most 60" in error["message"]


def test_too_many_tokens(samples_api):
    query = "{ events { nodes { " + "eventID " * 6000 + "} } }"
    [error] = _errors(samples_api, query)
    assert error["extensions"]["code"] == "QUERY_TOO_COSTLY"


def test_the_ceiling_is_configurable(es_connection, samples_alias):
    settings = ApiSettings(max_query_cost=20)
    with TestClient(create_app(es_connection, samples_alias[0], settings)) as client:
        [error] = _errors(client, "{ events(first: 5) { nodes { eventID } } }")
        assert error["extensions"]["code"] == "QUERY_TOO_COSTLY"
        # 1 + 10 (a search) + 5 x (nodes 1 + eventID 1).
        assert "would cost 21; at most 20" in error["message"]


def test_introspection_is_not_charged():
    document = parse(
        "{ __schema { types { name fields { name type { name ofType { name } } } } } }"
    )
    assert _measure(document).cost == 0


@pytest.mark.parametrize(
    ("query", "cost"),
    [
        ('{ event(id: "x") { eventID } }', 1 + 10 + 1),
        ("{ eventStats { count } }", 1 + 10 + 1),
        ("{ eventStats { terms(field: EVENT_NAME) { key count } } }", 1 + 10 + (1 + 10 * 2)),
        (
            "{ eventStats { timeline(field: EVENT_NAME, size: 3) { buckets { count groups { key } } } } }",  # noqa: E501
            1 + 10 + (1 + 60 * (1 + (1 + 1) + 3 * 1)),
        ),
        (
            "fragment F on Event { eventID eventName } { events(first: 4) { nodes { ...F } } }",
            1 + 10 + 4 * (1 + 2),
        ),
    ],
)
def test_how_cost_is_counted(query, cost):
    assert _measure(parse(query)).cost == cost


def _measure(document: DocumentNode) -> QueryShape:
    [operation] = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    return measure(operation, fragments, {}, FIELD_COSTS)
