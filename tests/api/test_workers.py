"""Several API processes: one answer whichever serves, and /metrics counts them all.

The API holds no state of its own (cursors carry their position; prepared documents and
plans are caches), so a client may be sent to any process behind a load balancer.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx2 as httpx
from prometheus_client.parser import text_string_to_metric_families

from bench.api_server import serving
from common.elastic import Connection
from indexer.run import IndexSummary

PAGE = """query($after: String) { events(first: 97, after: $after) {
  pageInfo { hasNextPage endCursor } nodes { eventID } } }"""
OFF = {"TRAILQL_AUTH_DISABLED": "true"}
GUARD_SECONDS = 60  # a guard against a hang, not a measurement


def _ask(url: str, query: str, **variables: Any) -> dict[str, Any]:
    # A connection of its own each time, so the kernel may hand it to any worker.
    with httpx.Client(base_url=url, timeout=GUARD_SECONDS) as client:
        body = client.post("/graphql", json={"query": query, "variables": variables}).json()
    assert "errors" not in body, body
    return body["data"]  # type: ignore[no-any-return]


def test_paging_across_two_api_processes_gives_every_event_once(
    es_connection: Connection,
    samples_alias: tuple[str, IndexSummary],
    sample_records: list[dict[str, Any]],
):
    with (
        serving(es_connection, samples_alias[0], OFF, workers=1) as first,
        serving(es_connection, samples_alias[0], OFF, workers=1) as second,
    ):
        seen: list[str] = []
        after = None
        for page_number in range(1000):
            api = (first, second)[page_number % 2]  # each page from the other process
            page = _ask(api.url, PAGE, after=after)["events"]
            seen += [node["eventID"] for node in page["nodes"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(sample_records)
    assert set(seen) == {record["eventID"] for record in sample_records}


def _samples(url: str, metric: str) -> dict[tuple[tuple[str, str], ...], float]:
    text = httpx.get(f"{url}/metrics", timeout=GUARD_SECONDS).text
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == metric
    }


def test_two_workers_count_every_request_in_metrics(
    es_connection: Connection, samples_alias: tuple[str, IndexSummary]
):
    name = f"Workers{uuid.uuid4().hex[:8]}"
    with serving(es_connection, samples_alias[0], OFF, workers=2) as api:
        for _ in range(30):
            _ask(api.url, f"query {name} {{ eventStats {{ count }} }}")
        for _ in range(7):
            with httpx.Client(base_url=api.url, timeout=GUARD_SECONDS) as client:
                client.post("/graphql", json={"query": "{ events(first: 501) { totalCount } }"})
        requests = _samples(api.url, "trailql_graphql_requests_total")
        errors = _samples(api.url, "trailql_graphql_errors_total")
        searches = _samples(api.url, "trailql_elasticsearch_request_seconds_count")
    assert requests[(("operation", name),)] == 30
    assert requests[(("operation", "anonymous"),)] == 7
    assert errors[(("code", "BAD_USER_INPUT"),)] == 7
    assert searches[(("kind", "search"),)] == 30
