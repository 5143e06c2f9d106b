"""The same trail files, indexed into Elasticsearch 9, Elasticsearch 8 and OpenSearch 2, get
the same answer to every question, byte for byte, from the same API.

Each engine is a real local node (``trailql elasticsearch up --engine … --version …``). The
questions cover every kind of read the API serves: filters, statistics, paging both ways,
log groups, and hostile requests (whose error codes must agree too). A few answers are also
checked against counts read from the files, so three engines agreeing on a wrong answer fails.
"""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from api.app import create_app
from common.elastic import Connection, sync_client
from generator import generate
from indexer.run import index_sources
from tests.api.hostile_requests import HOSTILE_REQUESTS
from tests.conftest import local_engine_connection
from tests.helpers import drop_alias
from tests.samples import SAMPLES, read_sample_records, records_of
from trailql import local_elasticsearch

NODES = "nodes { eventID eventTime eventName eventSource awsRegion sourceIPAddress readOnly"
EVENT_FIELDS = (
    NODES + " errorCode userIdentity { type arn accountId principalId } requestParameters }"
)

FILTERED = (
    "query($f: EventFilter) { events(first: 100, filter: $f) { totalCount nodes { eventID } } }"
)
ALL_STATS = (
    "{ eventStats { count errorRate distinct(field: PRINCIPAL) "
    "sources: terms(field: EVENT_SOURCE, size: 20) { key count } "
    "names: terms(field: EVENT_NAME, size: 50) { key count } "
    "identities: terms(field: USER_IDENTITY_TYPE) { key count } "
    "groups: terms(field: LOG_GROUP_NAME, size: 30) { key count } "
    "timeline(interval: DAY) { interval buckets { start count } } } }"
)
FILTERED_STATS = (
    "query($f: EventFilter) { eventStats(filter: $f) { count "
    "timeline(interval: MONTH, field: EVENT_SOURCE, size: 3) "
    "{ interval buckets { start count groups { key count } } } } }"
)
LOG_GROUPS = (
    "{ logGroups(first: 100) { totalCount nodes { name arns firstSeen lastSeen eventCount "
    "lastChange { kind eventID } history(first: 5) { nodes { kind eventID eventTime principal } } "
    "} } }"
)
NEWEST = f"{{ events(first: 100) {{ totalCount {EVENT_FIELDS} pageInfo {{ endCursor }} }} }}"
OLDEST = (
    "{ events(first: 60, orderBy: {field: EVENT_TIME, direction: ASC}) "
    f"{{ totalCount {EVENT_FIELDS} }} }}"
)
WRITES = (
    f"query($f: EventFilter) {{ events(first: 200, filter: $f) {{ totalCount {EVENT_FIELDS} }} }}"
)

#: name: (document, variables); every one is asked of every engine.
QUESTIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "newest page": (NEWEST, {}),
    "oldest page": (OLDEST, {}),
    "CloudWatch Logs writes in two regions": (
        WRITES,
        {
            "f": {
                "eventSource": ["logs.amazonaws.com"],
                "readOnly": False,
                "awsRegion": ["us-east-1", "eu-west-1"],
            }
        },
    ),
    "parameters, text, errors, not and or": (
        FILTERED,
        {
            "f": {
                "or": [
                    {"requestParameters": [{"path": "logGroupName", "exists": True}]},
                    {"search": "bucket"},
                    {"hasError": True},
                ],
                "not": {"userIdentityType": ["AWSService"]},
            }
        },
    ),
    "addresses by network": (
        FILTERED,
        {"f": {"sourceIPAddress": ["10.0.0.0/8", "192.168.0.0/16", "1.2.3.4"]}},
    ),
    "statistics": (ALL_STATS, {}),
    "statistics of a filter, by month and source": (
        FILTERED_STATS,
        {"f": {"eventSource": ["logs.amazonaws.com", "monitoring.amazonaws.com"]}},
    ),
    "log groups": (LOG_GROUPS, {}),
}

PAGE = """query($after: String, $before: String, $first: Int, $last: Int) {
  events(first: $first, after: $after, last: $last, before: $before,
         filter: {eventSource: ["logs.amazonaws.com"]}) {
    nodes { eventID } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"""

ENGINES = ("elasticsearch-9.3.2", "elasticsearch-8.19.3", "opensearch-2.19.6")


def _walk(client: TestClient, *, forwards: bool) -> list[str]:
    """Every eventID of a filter, 37 at a time, forwards with ``after`` or backwards."""
    ids: list[str] = []
    cursor = None
    while True:
        variables = {"first": 37, "after": cursor} if forwards else {"last": 37, "before": cursor}
        page = _ask(client, PAGE, variables)["data"]["events"]
        nodes = [node["eventID"] for node in page["nodes"]]
        ids.extend(nodes if forwards else reversed(nodes))
        info = page["pageInfo"]
        if not (info["hasNextPage"] if forwards else info["hasPreviousPage"]):
            return ids if forwards else ids[::-1]
        cursor = info["endCursor"] if forwards else info["startCursor"]


def _ask(client: TestClient, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """The answer without its ``extensions`` (how long each engine took, which differs)."""
    response = client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    return {key: value for key, value in response.json().items() if key != "extensions"}


def _hostile(client: TestClient) -> list[tuple[str, int, list[str]]]:
    """Each hostile request's status and error codes, as this engine's API answers them."""
    answers = []
    for case in HOSTILE_REQUESTS:
        response = client.post(
            "/graphql",
            content=case.body(),
            headers={"content-type": "application/json", **case.headers},
        )
        try:
            errors = response.json().get("errors") or []
        except ValueError:
            errors = []
        codes = sorted({str((error.get("extensions") or {}).get("code")) for error in errors})
        answers.append((case.name, response.status_code, codes))
    return answers


@pytest.fixture(scope="module")
def trail(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generated files over several months, beside which the samples are indexed."""
    folder = tmp_path_factory.mktemp("engines-generated")
    generate(folder, events=3000, seed=19, days=150)
    return folder


@pytest.fixture(scope="module")
def answers(es_connection: Connection, trail: Path) -> dict[str, dict[str, Any]]:
    """Every question's answer from every engine, each over its own node and index."""
    collected: dict[str, dict[str, Any]] = {}
    for name in ENGINES:
        started = False
        if name == ENGINES[0]:
            connection = es_connection
        else:
            connection, started = local_engine_connection(name)
        client = sync_client(connection)
        alias = f"trailql-engines-{uuid.uuid4().hex[:8]}"
        try:
            summary = index_sources([str(SAMPLES), str(trail)], client=client, alias=alias)
            assert summary.clean, (name, summary)
            with TestClient(create_app(connection, alias)) as api:
                found: dict[str, Any] = {
                    question: _ask(api, query, variables)
                    for question, (query, variables) in QUESTIONS.items()
                }
                found["forwards"] = _walk(api, forwards=True)
                found["backwards"] = _walk(api, forwards=False)
                found["hostile"] = _hostile(api)
            collected[name] = found
        finally:
            drop_alias(client, alias)
            client.close()
            if started:
                local_elasticsearch.down(port=int(connection.url.rsplit(":", 1)[1]))
    return collected


@pytest.mark.parametrize("question", [*QUESTIONS, "forwards", "backwards"])
def test_every_engine_gives_the_same_answer(answers: dict[str, Any], question: str) -> None:
    reference = answers[ENGINES[0]][question]
    assert "errors" not in (reference if isinstance(reference, dict) else {})
    for engine in ENGINES[1:]:
        assert answers[engine][question] == reference, engine


def test_hostile_requests_are_refused_alike(answers: dict[str, Any]) -> None:
    reference = answers[ENGINES[0]]["hostile"]
    for engine in ENGINES[1:]:
        assert answers[engine]["hostile"] == reference, engine


def test_the_answers_are_the_files(answers: dict[str, Any], trail: Path) -> None:
    """What the engines agree on is what the files hold, counted with the standard library."""
    records = read_sample_records() + [
        record for path in sorted(trail.rglob("*.json.gz")) for record in records_of(path)
    ]
    by_source = Counter(record["eventSource"] for record in records)
    logs = sorted(
        (r for r in records if r["eventSource"] == "logs.amazonaws.com"),
        key=lambda r: (r["eventTime"], r["eventID"]),
        reverse=True,
    )
    for engine in ENGINES:
        found = answers[engine]
        assert found["newest page"]["data"]["events"]["totalCount"] == len(records)
        stats = found["statistics"]["data"]["eventStats"]
        assert stats["count"] == len(records)
        buckets = {bucket["key"]: bucket["count"] for bucket in stats["sources"]}
        assert len(buckets) == min(20, len(by_source))
        assert buckets == {key: by_source[key] for key in buckets}
        assert min(buckets.values()) >= max(
            (count for key, count in by_source.items() if key not in buckets), default=0
        )
        # Newest first, eventID breaking ties, as the API orders them.
        assert len(found["forwards"]) == len(logs)
        assert set(found["forwards"]) == {r["eventID"] for r in logs}
        assert found["backwards"] == found["forwards"]
