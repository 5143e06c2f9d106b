"""logGroups and logGroup over generated and sample trails, checked against the files."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from api.app import create_app
from indexer.run import index_sources
from tests.api.log_group_files import (
    CHANGE_FIELDS,
    expected_change,
    history_of,
    is_change,
    named_groups,
    order_key,
)
from tests.helpers import graphql, requests_sent

# Correctness that must hold on every engine: scripts/test-engines runs these on each.
pytestmark = pytest.mark.engines

Record = dict[str, Any]

LOG_GROUP = (
    """query($name: String!, $first: Int, $after: String) { logGroup(name: $name) {
  name eventCount firstSeen lastSeen lastChange { eventID }
  history(first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } nodes { %s } } } }"""
    % CHANGE_FIELDS
)

LOG_GROUPS = """query($first: Int, $after: String, $filter: EventFilter) {
  logGroups(first: $first, after: $after, filter: $filter) {
    totalCount pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { cursor node { name eventCount firstSeen lastSeen lastChange { eventID kind } } } } }"""


@pytest.fixture
def generated(generated_api) -> tuple[TestClient, list[Record]]:
    """3,000 generated events, indexed behind an alias of their own, and the API over them."""
    data = generated_api(events=3000, seed=7)
    return data.client, data.records


def _history(client: TestClient, name: str) -> list[dict[str, Any]]:
    group = graphql(client, LOG_GROUP, name=name, first=500)["logGroup"]
    assert not group["history"]["pageInfo"]["hasNextPage"]
    assert group["history"]["totalCount"] == len(group["history"]["nodes"])
    return group["history"]["nodes"]  # type: ignore[no-any-return]


def _names(records: list[Record]) -> list[str]:
    return sorted({name for r in records for name in named_groups(r)})


def _succeeded(records: list[Record], event_name: str) -> list[Record]:
    return [r for r in records if r["eventName"] == event_name and "errorCode" not in r]


def _first_group(records: list[Record], wanted: Any) -> str:
    """The first group by name whose history satisfies ``wanted``; the test needs one."""
    for name in _names(records):
        if wanted(history_of(records, name)):
            return name
    pytest.fail("the generated data holds no such log group")


def test_a_created_then_deleted_group_has_its_whole_history_in_order(generated):
    client, records = generated

    def created_then_deleted(history: list[Record]) -> bool:
        names = [r["eventName"] for r in history if "errorCode" not in r]
        return "CreateLogGroup" in names and names[-1] == "DeleteLogGroup"

    name = _first_group(records, created_then_deleted)
    expected = history_of(records, name)
    nodes = _history(client, name)
    assert nodes == [expected_change(r) for r in expected]
    kinds = [n["kind"] for n in nodes if n["succeeded"]]
    assert kinds[0] == "CREATED"
    assert kinds[-1] == "DELETED"


def test_retention_changes_come_with_the_days_set(generated):
    client, records = generated

    def retained_often(history: list[Record]) -> bool:
        return len(_succeeded(history, "PutRetentionPolicy")) >= 3

    name = _first_group(records, retained_often)
    expected = history_of(records, name)
    nodes = _history(client, name)
    assert nodes == [expected_change(r) for r in expected]
    retention = [
        (n["eventID"], n["retentionInDays"]) for n in nodes if n["kind"] == "RETENTION_SET"
    ]
    assert retention == [
        (r["eventID"], r["requestParameters"]["retentionInDays"])
        for r in expected
        if r["eventName"] == "PutRetentionPolicy"
    ]
    assert len({days for _, days in retention}) >= 2


def test_subscription_filters_and_exports_come_with_their_destinations(generated):
    client, records = generated

    def filtered_and_exported(history: list[Record]) -> bool:
        return bool(
            _succeeded(history, "PutSubscriptionFilter") and _succeeded(history, "CreateExportTask")
        )

    name = _first_group(records, filtered_and_exported)
    expected = history_of(records, name)
    nodes = _history(client, name)
    assert nodes == [expected_change(r) for r in expected]
    filters = [
        (n["filterName"], n["destination"]) for n in nodes if n["kind"] == "SUBSCRIPTION_FILTER_PUT"
    ]
    assert filters == [
        (r["requestParameters"]["filterName"], r["requestParameters"]["destinationArn"])
        for r in expected
        if r["eventName"] == "PutSubscriptionFilter"
    ]
    exports = [
        (n["destination"], n["destinationPrefix"])
        for n in nodes
        if n["kind"] == "EXPORT_TASK_CREATED"
    ]
    assert exports == [
        (r["requestParameters"]["destination"], r["requestParameters"]["destinationPrefix"])
        for r in expected
        if r["eventName"] == "CreateExportTask"
    ]


def test_tags_set_by_resource_arn_are_in_the_history(generated):
    client, records = generated
    name = _first_group(records, lambda h: bool(_succeeded(h, "TagResource")))
    nodes = _history(client, name)
    assert nodes == [expected_change(r) for r in history_of(records, name)]
    tagged = [n for n in nodes if n["event"]["eventName"] == "TagResource"]
    assert tagged
    assert {n["kind"] for n in tagged} == {"TAGGED"}


def test_every_group_named_in_the_files_is_listed_with_its_counts(generated):
    client, records = generated
    seen: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        for name in named_groups(record):
            seen[name].append(record)
    page = graphql(client, LOG_GROUPS, first=500)["logGroups"]
    assert page["totalCount"] == len(seen) > 100
    assert not page["pageInfo"]["hasNextPage"]
    listed = {
        e["node"]["name"]: (e["node"]["eventCount"], e["node"]["firstSeen"], e["node"]["lastSeen"])
        for e in page["edges"]
    }
    assert listed == {
        name: (
            len(group),
            min(datetime.fromisoformat(r["eventTime"]) for r in group).isoformat(),
            max(datetime.fromisoformat(r["eventTime"]) for r in group).isoformat(),
        )
        for name, group in seen.items()
    }
    assert [e["node"]["name"] for e in page["edges"]] == sorted(seen)


def test_the_last_change_is_the_newest_successful_change_naming_the_group(generated):
    client, records = generated
    newest: dict[str, Record] = {}
    for record in sorted(filter(is_change, records), key=order_key):
        for name in named_groups(record):
            newest[name] = record
    page = graphql(client, LOG_GROUPS, first=500)["logGroups"]
    last_changes = {e["node"]["name"]: e["node"]["lastChange"] for e in page["edges"]}
    assert last_changes == {
        name: {"eventID": newest[name]["eventID"], "kind": expected_change(newest[name])["kind"]}
        if name in newest
        else None
        for name in _names(records)
    }
    assert sum(change is None for change in last_changes.values()) > 0
    name = next(iter(newest))
    one = graphql(client, LOG_GROUP, name=name, first=0)["logGroup"]
    assert one["lastChange"] == {"eventID": newest[name]["eventID"]}


def test_paging_by_7_lists_every_group_once_in_name_order(generated):
    client, records = generated
    names: list[str] = []
    after = None
    pages = 0
    while True:
        page = graphql(client, LOG_GROUPS, first=7, after=after)["logGroups"]
        pages += 1
        assert page["totalCount"] == len(_names(records))
        assert page["pageInfo"]["hasPreviousPage"] == (after is not None)
        names.extend(e["node"]["name"] for e in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        assert len(page["edges"]) == 7
        after = page["pageInfo"]["endCursor"]
        assert after == page["edges"][-1]["cursor"]
    assert names == _names(records)
    assert pages == -(-len(names) // 7)


def test_a_page_of_groups_is_one_search(generated):
    client, _ = generated
    response = client.post("/graphql", json={"query": LOG_GROUPS, "variables": {"first": 20}})
    body = response.json()
    assert "errors" not in body
    assert len(body["data"]["logGroups"]["edges"]) == 20
    assert body["extensions"]["elasticsearch"]["searches"] == 1


def test_the_filter_restricts_which_events_count(generated):
    client, records = generated
    region = [r for r in records if r["awsRegion"] == "eu-west-1"]
    page = graphql(client, LOG_GROUPS, first=500, filter={"awsRegion": ["eu-west-1"]})
    listed = {e["node"]["name"]: e["node"]["eventCount"] for e in page["logGroups"]["edges"]}
    expected: dict[str, int] = defaultdict(int)
    for record in region:
        for name in named_groups(record):
            expected[name] += 1
    assert listed == expected
    assert page["logGroups"]["totalCount"] == len(expected) < len(_names(records))


def test_history_pages_with_a_small_first_exactly_once(generated):
    client, records = generated
    name = max(_names(records), key=lambda n: (len(history_of(records, n)), n))
    expected = [r["eventID"] for r in history_of(records, name)]
    seen: list[str] = []
    after = None
    while True:
        group = graphql(client, LOG_GROUP, name=name, first=4, after=after)["logGroup"]
        history = group["history"]
        assert history["totalCount"] == len(expected)
        seen.extend(node["eventID"] for node in history["nodes"])
        if not history["pageInfo"]["hasNextPage"]:
            break
        after = history["pageInfo"]["endCursor"]
    assert seen == expected
    assert len(expected) > 12


def _searches(sent: list[tuple[str, str]]) -> list[str]:
    """The endpoint of each search sent: ``_search`` or ``_msearch``."""
    return [target.split("?")[0].rsplit("/", 1)[1] for _, target in sent if "search" in target]


def test_a_group_and_its_page_of_history_are_one_round_trip(generated):
    client, records = generated
    name = max(_names(records), key=lambda n: (len(history_of(records, n)), n))
    expected = history_of(records, name)
    with requests_sent(client.app.state.elasticsearch) as sent:
        group = graphql(client, LOG_GROUP, name=name, first=4)["logGroup"]
    assert _searches(sent) == ["_msearch"]
    assert group["history"]["nodes"] == [expected_change(r) for r in expected[:4]]
    assert group["history"]["totalCount"] == len(expected) > 4
    assert group["eventCount"] == len([r for r in records if name in named_groups(r)])

    # Two pages (aliases) are each their own search, as is the group's.
    two_pages = """query($name: String!) { logGroup(name: $name) { eventCount
        a: history(first: 2) { nodes { eventID } } b: history(first: 3) { nodes { eventID } } } }"""
    with requests_sent(client.app.state.elasticsearch) as sent:
        pages = graphql(client, two_pages, name=name)["logGroup"]
    assert _searches(sent) == ["_search"] * 3
    ids = [r["eventID"] for r in expected]
    assert [n["eventID"] for n in pages["a"]["nodes"]] == ids[:2]
    assert [n["eventID"] for n in pages["b"]["nodes"]] == ids[:3]

    # A page a directive may leave out is searched only if asked, on its own.
    maybe = """query($name: String!, $show: Boolean!) { logGroup(name: $name) { eventCount
        history(first: 2) @include(if: $show) { nodes { eventID } } } }"""
    for show, searches in ((False, ["_search"]), (True, ["_search", "_search"])):
        with requests_sent(client.app.state.elasticsearch) as sent:
            shown = graphql(client, maybe, name=name, show=show)["logGroup"]
        assert _searches(sent) == searches
        assert ("history" in shown) is show
    assert [n["eventID"] for n in shown["history"]["nodes"]] == ids[:2]

    # A cursor the page refuses is refused where it was given, as before.
    body = client.post(
        "/graphql", json={"query": LOG_GROUP, "variables": {"name": name, "after": "bm9wZQ"}}
    ).json()
    [error] = body["errors"]
    assert (error["path"], error["extensions"]["code"]) == (
        ["logGroup", "history"],
        "INVALID_CURSOR",
    )


def _error(client: TestClient, query: str, **variables: Any) -> str:
    body = client.post("/graphql", json={"query": query, "variables": variables}).json()
    [error] = body["errors"]
    assert "Traceback" not in error["message"]
    return str(error["extensions"]["code"])


def test_bad_arguments_answer_with_a_code(generated):
    client, records = generated
    name = _names(records)[0]
    events_page = graphql(client, "{ events(first: 1) { pageInfo { endCursor } } }")
    events_cursor = events_page["events"]["pageInfo"]["endCursor"]
    assert _error(client, LOG_GROUPS, first=501) == "BAD_USER_INPUT"
    assert _error(client, LOG_GROUPS, first=-1) == "BAD_USER_INPUT"
    assert _error(client, LOG_GROUPS, after="bm9wZQ") == "INVALID_CURSOR"
    assert _error(client, LOG_GROUPS, after="not a cursor!") == "INVALID_CURSOR"
    assert _error(client, LOG_GROUPS, after=events_cursor) == "INVALID_CURSOR"
    assert _error(client, LOG_GROUP, name=name, first=501) == "BAD_USER_INPUT"
    assert _error(client, LOG_GROUP, name=name, after="bm9wZQ") == "INVALID_CURSOR"
    assert _error(client, LOG_GROUP, name=name, after=events_cursor) == "INVALID_CURSOR"


def test_an_unknown_name_is_null(generated):
    client, _ = generated
    assert graphql(client, LOG_GROUP, name="/no/such/group") == {"logGroup": None}


def test_history_pages_past_10000_calls(es, es_connection, alias, tmp_path):
    name = "/trailql/busy"
    start = datetime(2025, 4, 1, tzinfo=UTC)
    records = [
        {
            "eventID": str(uuid.uuid5(uuid.NAMESPACE_URL, f"trailql-busy-{n}")),
            "eventTime": (start + timedelta(seconds=n // 7)).isoformat().replace("+00:00", "Z"),
            "eventSource": "logs.amazonaws.com",
            "eventName": "StartQuery",
            "userIdentity": {"type": "IAMUser", "userName": "analyst"},
            "requestParameters": {"logGroupName": name, "queryString": f"limit {n}"},
            "readOnly": True,
        }
        for n in range(10_050)
    ]
    (tmp_path / "busy.json").write_text(json.dumps({"Records": records}), encoding="utf-8")
    assert index_sources([str(tmp_path)], client=es, alias=alias).indexed == 10_050
    seen: list[str] = []
    after = None
    with TestClient(create_app(es_connection, alias)) as client:
        while True:
            group = graphql(client, LOG_GROUP, name=name, first=500, after=after)["logGroup"]
            history = group["history"]
            assert history["totalCount"] == 10_050
            seen.extend(node["eventID"] for node in history["nodes"])
            if not history["pageInfo"]["hasNextPage"]:
                break
            after = history["pageInfo"]["endCursor"]
    assert group["eventCount"] == 10_050
    assert group["lastChange"] is None
    assert seen == [r["eventID"] for r in sorted(records, key=order_key)]


def test_the_sample_flow_log_group_was_created_then_deleted(samples_api, sample_records):
    name = "/stratus-red-team/vpc-flow-logs"
    expected = history_of(sample_records, name)
    assert [r["eventName"] for r in expected] == ["CreateLogGroup", "DeleteLogGroup"]
    group = graphql(samples_api, LOG_GROUP, name=name, first=50)["logGroup"]
    assert group["history"]["nodes"] == [expected_change(r) for r in expected]
    assert [n["kind"] for n in group["history"]["nodes"]] == ["CREATED", "DELETED"]
    naming = [r for r in sample_records if name in named_groups(r)]
    assert group["eventCount"] == len(naming) == 4
    assert group["lastChange"] == {"eventID": expected[-1]["eventID"]}
    assert (
        group["firstSeen"]
        == min(datetime.fromisoformat(r["eventTime"]) for r in naming).isoformat()
    )
    assert (
        group["lastSeen"] == max(datetime.fromisoformat(r["eventTime"]) for r in naming).isoformat()
    )
