"""The event and events queries over the indexed samples, checked against the files."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from starlette.testclient import TestClient

from api.app import create_app
from common.elastic import Connection

# Correctness that must hold on every engine: scripts/test-engines runs these on each.
pytestmark = pytest.mark.engines

_IDENTITY_STRINGS = ("type", "principalId", "arn", "accountId", "accessKeyId", "userName")

EVENT_BY_ID = """
query($id: ID!) { event(id: $id) {
  eventID eventName eventSource requestParameters responseElements record
  userIdentity { type principalId arn accountId accessKeyId userName invokedBy }
} }
"""


def _epoch(event_time: str) -> float:
    return datetime.fromisoformat(event_time).timestamp()


def _newest_first(records: list[dict[str, Any]]) -> list[str]:
    ordered = sorted(records, key=lambda r: (_epoch(r["eventTime"]), r["eventID"]), reverse=True)
    return [r["eventID"] for r in ordered]


def test_every_sample_event_comes_back_exactly_as_recorded(
    samples_api, sample_records, run_graphql
):
    batch = 50  # the API allows 60 aliases a query
    for start in range(0, len(sample_records), batch):
        chunk = sample_records[start : start + batch]
        fields = "eventID requestParameters responseElements record userIdentity { %s }" % (
            " ".join(_IDENTITY_STRINGS)
        )
        query = "{ %s }" % " ".join(
            f'e{n}: event(id: "{r["eventID"]}") {{ {fields} }}' for n, r in enumerate(chunk)
        )
        data = run_graphql(samples_api, query)
        for n, record in enumerate(chunk):
            event = data[f"e{n}"]
            assert event["eventID"] == record["eventID"]
            assert event["requestParameters"] == record.get("requestParameters")
            assert event["responseElements"] == record.get("responseElements")
            assert event["record"] == record
            assert event["record"]["userIdentity"] == record["userIdentity"]
            expected_identity = {key: record["userIdentity"].get(key) for key in _IDENTITY_STRINGS}
            assert event["userIdentity"] == expected_identity


def test_one_event_by_id_has_its_typed_fields(samples_api, sample_records, run_graphql):
    record = next(r for r in sample_records if r["eventName"] == "CreateLogGroup")
    event = run_graphql(samples_api, EVENT_BY_ID, id=record["eventID"])["event"]
    assert event["eventName"] == "CreateLogGroup"
    assert event["eventSource"] == "logs.amazonaws.com"
    assert event["requestParameters"] == record["requestParameters"]


def test_an_unknown_event_id_is_null(samples_api, run_graphql):
    assert run_graphql(samples_api, EVENT_BY_ID, id="not-an-event") == {"event": None}


def test_counts_per_event_source_equal_the_files(samples_api, sample_records, run_graphql):
    expected = Counter(r["eventSource"] for r in sample_records)
    sources = sorted(expected)
    query = "{ %s }" % " ".join(
        f'c{n}: events(filter: {{eventSource: ["{s}"]}}) {{ totalCount }}'
        for n, s in enumerate(sources)
    )
    data = run_graphql(samples_api, query)
    counted = {source: data[f"c{n}"]["totalCount"] for n, source in enumerate(sources)}
    assert counted == dict(expected)
    assert run_graphql(samples_api, "{ events { totalCount } }")["events"]["totalCount"] == 3210


def test_paging_by_37_returns_every_event_once_newest_first(
    samples_api, sample_records, run_graphql
):
    query = """query($after: String) { events(first: 37, after: $after) {
      edges { cursor node { eventID } } pageInfo { hasNextPage endCursor } } }"""
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        page = run_graphql(samples_api, query, after=after)["events"]
        pages += 1
        seen.extend(edge["node"]["eventID"] for edge in page["edges"])
        assert len(page["edges"]) == 37 or not page["pageInfo"]["hasNextPage"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        assert after == page["edges"][-1]["cursor"]
    assert pages == -(-3210 // 37)
    assert seen == _newest_first(sample_records)


def test_time_range_and_action_filters_return_exactly_the_matching_events(
    samples_api, sample_records, run_graphql
):
    start, end = "2023-07-10T12:00:00Z", "2023-07-10T12:30:00Z"
    names = ["DescribeLogGroups", "CreateLogGroup", "GetCallerIdentity"]
    expected = [
        r
        for r in sample_records
        if _epoch(start) <= _epoch(r["eventTime"]) < _epoch(end) and r["eventName"] in names
    ]
    assert expected, "the samples must hold matching events for this test to mean anything"
    query = """query($from: DateTime, $to: DateTime, $names: [String!]) {
      events(first: 500, filter: {from: $from, to: $to, eventName: $names}) {
        totalCount nodes { eventID } } }"""
    events = run_graphql(samples_api, query, **{"from": start, "to": end, "names": names})
    assert events["events"]["totalCount"] == len(expected)
    assert [n["eventID"] for n in events["events"]["nodes"]] == _newest_first(expected)


def test_a_filter_on_a_source_and_a_name_combines_with_and(
    samples_api, sample_records, run_graphql
):
    expected = [
        r
        for r in sample_records
        if r["eventSource"] == "logs.amazonaws.com" and r["eventName"] == "DescribeLogGroups"
    ]
    query = """{ events(filter: {eventSource: ["logs.amazonaws.com"],
      eventName: ["DescribeLogGroups"]}) { totalCount nodes { eventID } } }"""
    events = run_graphql(samples_api, query)["events"]
    assert events["totalCount"] == len(expected) == 2
    assert {n["eventID"] for n in events["nodes"]} == {r["eventID"] for r in expected}


def _error_code(client: TestClient, query: str) -> tuple[str, str]:
    body = client.post("/graphql", json={"query": query}).json()
    [error] = body["errors"]
    assert "Traceback" not in error["message"]
    return error["extensions"]["code"], error["message"]


def test_bad_arguments_answer_with_a_code(samples_api):
    assert _error_code(samples_api, "{ events(first: 501) { totalCount } }")[0] == (
        "BAD_USER_INPUT"
    )
    assert _error_code(samples_api, "{ events(first: -1) { totalCount } }")[0] == ("BAD_USER_INPUT")
    assert _error_code(samples_api, '{ events(after: "bm9wZQ") { totalCount } }')[0] == (
        "INVALID_CURSOR"
    )
    backwards = '{ events(filter: {from: "2024-01-02T00:00:00Z", to: "2024-01-01T00:00:00Z"}) { totalCount } }'  # noqa: E501
    assert _error_code(samples_api, backwards)[0] == "BAD_USER_INPUT"
    assert _error_code(samples_api, "{ events { nope } }")[0] == "GRAPHQL_VALIDATION_FAILED"


def test_elasticsearch_out_of_reach_is_upstream_unavailable():
    unreachable = Connection(url="http://127.0.0.1:9", request_timeout=2)
    with TestClient(create_app(unreachable, "trailql-events")) as client:
        code, message = _error_code(client, "{ events { totalCount } }")
        assert code == "UPSTREAM_UNAVAILABLE"
        assert message == "Elasticsearch is unavailable; try again shortly."
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert client.get("/healthz").json() == {"status": "ok"}


def test_readiness_needs_the_alias(es_connection, samples_alias):
    with TestClient(create_app(es_connection, samples_alias[0])) as client:
        assert client.get("/readyz").json() == {"status": "ready"}
    with TestClient(create_app(es_connection, "trailql-no-such-alias")) as client:
        response = client.get("/readyz")
        assert response.status_code == 503
        assert "does not exist yet" in response.json()["reason"]


def test_get_requests_are_served(samples_api):
    response = samples_api.get("/graphql", params={"query": "{ events { totalCount } }"})
    assert response.json()["data"] == {"events": {"totalCount": 3210}}


def test_event_time_is_utc(samples_api, sample_records, run_graphql):
    record = sample_records[0]
    event = run_graphql(samples_api, '{ event(id: "%s") { eventTime } }' % record["eventID"])
    parsed = datetime.fromisoformat(event["event"]["eventTime"])
    assert parsed == datetime.fromisoformat(record["eventTime"]).astimezone(UTC)


PAGE_OF_FIELDS = """query($after: String) {
  events(first: 500, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes { eventID ...Called }
    edges { node { eventID requestParameters userIdentity { %s } } }
  }
}
fragment Called on Event { eventName eventSource awsRegion sourceIPAddress userAgent errorCode
  recipientAccountId resources { ARN type } }""" % " ".join(_IDENTITY_STRINGS)


def test_every_field_of_a_page_is_the_recorded_value(samples_api, sample_records, run_graphql):
    """Pages fetch only the keys of each record their fields read: these must all arrive."""
    by_id = {record["eventID"]: record for record in sample_records}
    seen, after = 0, None
    while True:
        page = run_graphql(samples_api, PAGE_OF_FIELDS, after=after)["events"]
        for node, edge in zip(page["nodes"], page["edges"], strict=True):
            record = by_id[node["eventID"]]
            for name in ("eventName", "eventSource", "awsRegion", "sourceIPAddress", "userAgent"):
                assert node[name] == record.get(name), name
            assert node["errorCode"] == record.get("errorCode")
            assert node["recipientAccountId"] == record.get("recipientAccountId")
            resources = record.get("resources")
            expected = (
                None
                if resources is None
                else [{"ARN": r.get("ARN"), "type": r.get("type")} for r in resources]
            )
            assert node["resources"] == expected
            assert edge["node"]["requestParameters"] == record.get("requestParameters")
            identity = {key: record["userIdentity"].get(key) for key in _IDENTITY_STRINGS}
            assert edge["node"]["userIdentity"] == identity
            seen += 1
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == len(sample_records)
