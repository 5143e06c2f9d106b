"""/metrics after a load and a few queries: every API counter moved by exactly what was done."""

from __future__ import annotations

import uuid
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from api.app import create_app
from indexer.run import index_sources
from tests.samples import records_of, sigma_files

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: TestClient) -> tuple[Samples, set[str]]:
    """Every sample on /metrics by name and labels, and the metric families' names."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == CONTENT_TYPE_LATEST
    samples: Samples = {}
    families = set()
    for family in text_string_to_metric_families(response.text):
        families.add(family.name)
        for sample in family.samples:
            samples[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return samples, families


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


def post(client: TestClient, query: str, **headers: str) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": query}, headers=headers)
    return response.json()  # type: ignore[no-any-return]


def test_metrics_count_operations_errors_and_searches(es, es_connection, alias):
    files = sigma_files()[:3]
    loaded = sum(len(records_of(path)) for path in files)

    run = uuid.uuid4().hex[:8]  # operation names no other test uses
    recent, stats, too_big, broken, cursor = (
        f"{name}_{run}" for name in ("Recent", "Stats", "TooBig", "Broken", "Cursor")
    )
    with TestClient(create_app(es_connection, alias)) as client:
        before, _ = scrape(client)
        summary = index_sources([str(path) for path in files], client=es, alias=alias)
        assert summary.indexed == loaded
        answers = [
            post(client, f"query {recent} {{ events(first: 3) {{ totalCount }} }}"),
            post(client, f"query {recent} {{ events(first: 1) {{ nodes {{ eventID }} }} }}"),
            post(
                client,
                f"query {stats} {{ eventStats {{ count terms(field: EVENT_NAME) {{ key }} }} }}",
            ),
            post(client, "{ events { totalCount } }"),
            post(client, f"query {too_big} {{ events(first: 501) {{ totalCount }} }}"),
            post(client, f"query {broken} {{ events {{ nope }} }}"),
            post(client, f'query {cursor} {{ events(after: "bogus") {{ totalCount }} }}'),
        ]
        after, families = scrape(client)

    assert answers[0]["data"]["events"]["totalCount"] == loaded
    assert answers[2]["data"]["eventStats"]["count"] == loaded
    codes = [e["extensions"]["code"] for a in answers for e in a.get("errors", [])]
    assert codes == ["BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED", "INVALID_CURSOR"]
    searches = sum(
        a.get("extensions", {}).get("elasticsearch", {}).get("searches", 0) for a in answers
    )
    assert searches == 4

    requests = "trailql_graphql_requests_total"
    latency = "trailql_graphql_request_seconds"
    for operation, count in ((recent, 2), (stats, 1), (too_big, 1), (broken, 1), (cursor, 1)):
        assert after[requests, (("operation", operation),)] == count
        assert after[f"{latency}_count", (("operation", operation),)] == count
        assert after[f"{latency}_bucket", (("le", "+Inf"), ("operation", operation))] == count
        assert after[f"{latency}_sum", (("operation", operation),)] >= 0
    assert moved(before, after, requests, operation="anonymous") == 1
    assert moved(before, after, f"{latency}_count", operation="anonymous") == 1

    errors = "trailql_graphql_errors_total"
    assert moved(before, after, errors, code="BAD_USER_INPUT") == 1
    assert moved(before, after, errors, code="GRAPHQL_VALIDATION_FAILED") == 1
    assert moved(before, after, errors, code="INVALID_CURSOR") == 1
    assert moved(before, after, errors, code="INTERNAL") == 0

    elasticsearch = "trailql_elasticsearch_request_seconds"
    assert moved(before, after, f"{elasticsearch}_count", kind="search") == searches
    assert moved(before, after, f"{elasticsearch}_bucket", kind="search", le="+Inf") == searches

    # The indexer counts in the same registry, so its figures are on the same page.
    indexer_events = "trailql_indexer_events_total"
    assert moved(before, after, indexer_events, outcome="indexed") == loaded
    assert moved(before, after, indexer_events, outcome="rejected") == 0
    assert moved(before, after, "trailql_indexer_files_total", outcome="read") == len(files)
    assert "trailql_indexer_retries" in families


def test_refused_requests_count_as_unauthenticated_errors(secured_api, keys):
    before, _ = scrape(secured_api)
    for headers in ({}, {"X-API-Key": "tql_wrong"}, {"X-API-Key": keys.expired}):
        assert (
            secured_api.post(
                "/graphql", json={"query": "{ __typename }"}, headers=headers
            ).status_code
            == 401
        )
    accepted = post(secured_api, "{ __typename }", **{"X-API-Key": keys.sigma})
    assert accepted["data"] == {"__typename": "Query"}
    after, _ = scrape(secured_api)
    assert moved(before, after, "trailql_graphql_errors_total", code="UNAUTHENTICATED") == 3
    assert moved(before, after, "trailql_graphql_requests_total", operation="anonymous") == 1


def test_operation_names_are_bounded_labels(samples_api):
    long_name = "Q" + "x" * 120
    before, _ = scrape(samples_api)
    answer = post(samples_api, f"query {long_name} {{ __typename }}")
    assert answer["data"] == {"__typename": "Query"}
    after, _ = scrape(samples_api)
    assert moved(before, after, "trailql_graphql_requests_total", operation="other") == 1
    assert ("trailql_graphql_requests_total", (("operation", long_name),)) not in after
