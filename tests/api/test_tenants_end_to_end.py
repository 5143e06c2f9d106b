"""Tenants see only their accounts' events: in every list, count, aggregation and lookup.

The samples hold events of 36 accounts: 2,900 of the sigma account and 310 of stratus ones.
Each tenant's expected values are computed from the sample files, filtered to its accounts.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from api.app import create_app
from indexer.run import index_sources
from tests.api.credentials import SIGMA, STRATUS, token
from tests.api.log_group_files import (
    CHANGE_FIELDS,
    expected_change,
    history_of,
    is_change,
    named_groups,
    order_key,
)
from tests.samples import read_sample_records

# Correctness that must hold on every engine: scripts/test-engines runs these on each.
pytestmark = pytest.mark.engines

Record = dict[str, Any]
STRATUS_DAY = {"from": "2024-08-02T00:00:00Z", "to": "2024-08-03T00:00:00Z"}
VPC_FLOW_LOGS = "/stratus-red-team/vpc-flow-logs"


class Tenant:
    """A caller and the sample records it should see."""

    def __init__(self, name: str, headers: dict[str, str], accounts: set[str] | None) -> None:
        self.name = name
        self.headers = headers
        self.accounts = accounts

    def sees(self, record: Record) -> bool:
        return self.accounts is None or record["recipientAccountId"] in self.accounts

    def own(self, records: list[Record]) -> list[Record]:
        return [r for r in records if self.sees(r)]

    def ask(self, client: TestClient, query: str, **variables: Any) -> dict[str, Any]:
        response = client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=self.headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return self.name


@pytest.fixture(scope="module")
def tenants(keys, signing_key) -> dict[str, Tenant]:
    stratus_token = token(signing_key, accounts=STRATUS, sub="bob")
    return {
        "sigma": Tenant("sigma (API key)", {"X-API-Key": keys.sigma}, {SIGMA}),
        "stratus": Tenant(
            "stratus (JWT)", {"Authorization": f"Bearer {stratus_token}"}, set(STRATUS)
        ),
        "stratus-key": Tenant("stratus (API key)", {"X-API-Key": keys.stratus}, set(STRATUS)),
        "ops": Tenant("ops (API key, every account)", {"X-API-Key": keys.everything}, None),
    }


@pytest.fixture(params=["sigma", "stratus", "ops"])
def tenant(request, tenants) -> Tenant:
    return tenants[request.param]  # type: ignore[no-any-return]


def top(counter: Counter[Any], size: int) -> list[dict[str, Any]]:
    ranked = sorted(counter.items(), key=lambda item: (-item[1], item[0]))[:size]
    return [{"key": key, "count": count} for key, count in ranked]


def newest_first(records: list[Record]) -> list[str]:
    return [r["eventID"] for r in sorted(records, key=order_key, reverse=True)]


EVENTS = """query($first: Int, $after: String, $filter: EventFilter, $order: EventOrder) {
  events(first: $first, after: $after, filter: $filter, orderBy: $order) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes { eventID recipientAccountId } } }"""


def test_events_and_their_total_count_are_the_tenants_own(secured_api, sample_records, tenant):
    mine = tenant.own(sample_records)
    data = tenant.ask(secured_api, EVENTS, first=500)["events"]
    assert data["totalCount"] == len(mine)
    assert [n["eventID"] for n in data["nodes"]] == newest_first(mine)[:500]
    if tenant.accounts is not None:
        assert {n["recipientAccountId"] for n in data["nodes"]} <= tenant.accounts
    # Asking for another tenant's account by filter finds nothing of it.
    others = sorted({r["recipientAccountId"] for r in sample_records} - (tenant.accounts or set()))
    filtered = tenant.ask(secured_api, EVENTS, first=1, filter={"recipientAccountId": others})
    expected = [r for r in mine if r["recipientAccountId"] in others]
    assert filtered["events"]["totalCount"] == len(expected)


def test_paging_through_a_tenants_events_gives_each_once(secured_api, sample_records, tenants):
    stratus = tenants["stratus"]
    seen: list[str] = []
    after = None
    while True:
        page = stratus.ask(secured_api, EVENTS, first=40, after=after)["events"]
        assert page["totalCount"] == 101
        seen += [n["eventID"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == newest_first(stratus.own(sample_records))


def _key_of(records: list[Record], event_id: str) -> tuple[datetime, str]:
    return order_key(next(r for r in records if r["eventID"] == event_id))


@pytest.mark.parametrize(
    "case",
    [
        ("ops", "stratus", "DESC"),
        ("ops", "stratus", "ASC"),
        ("sigma", "stratus-key", "DESC"),
        ("sigma", "stratus-key", "ASC"),
    ],
    ids="-".join,
)
def test_a_cursor_reused_by_another_tenant_pages_only_that_tenants_events(
    secured_api, sample_records, tenants, case
):
    owner, user, direction = case
    order = {"field": "EVENT_TIME", "direction": direction}
    first = tenants[owner].ask(secured_api, EVENTS, first=150, order=order)["events"]
    cursor = first["pageInfo"]["endCursor"]
    key = _key_of(sample_records, first["nodes"][-1]["eventID"])

    reused = tenants[user].ask(secured_api, EVENTS, first=500, after=cursor, order=order)
    mine = tenants[user].own(sample_records)
    if direction == "DESC":
        expected = newest_first([r for r in mine if order_key(r) < key])
    else:
        expected = newest_first([r for r in mine if order_key(r) > key])[::-1]
    assert [n["eventID"] for n in reused["events"]["nodes"]] == expected
    assert {n["recipientAccountId"] for n in reused["events"]["nodes"]} <= set(STRATUS)
    assert reused["events"]["totalCount"] == len(mine)  # the count ignores cursors


EVENT = "query($id: ID!) { event(id: $id) { eventID recipientAccountId } }"


def test_another_tenants_event_by_id_is_null_not_an_error(secured_api, sample_records, tenants):
    sigma_event = next(r for r in sample_records if r["recipientAccountId"] == SIGMA)
    stratus_event = next(r for r in sample_records if r["recipientAccountId"] == STRATUS[0])
    for tenant, event in (
        (tenants["sigma"], sigma_event),
        (tenants["stratus"], stratus_event),
        (tenants["ops"], sigma_event),
    ):
        found = tenant.ask(secured_api, EVENT, id=event["eventID"])["event"]
        assert found == {
            "eventID": event["eventID"],
            "recipientAccountId": event["recipientAccountId"],
        }
    for tenant, event in ((tenants["sigma"], stratus_event), (tenants["stratus"], sigma_event)):
        response = secured_api.post(
            "/graphql",
            json={"query": EVENT, "variables": {"id": event["eventID"]}},
            headers=tenant.headers,
        )
        assert response.json()["data"] == {"event": None}
        assert "errors" not in response.json()


STATS = """query($f: EventFilter) { eventStats(filter: $f) {
  count errorRate
  accounts: terms(field: ACCOUNT_ID, size: 50) { key count }
  sources: terms(field: EVENT_SOURCE, size: 50) { key count }
  types: terms(field: USER_IDENTITY_TYPE, size: 3) { key count
    stats { count accounts: distinct(field: ACCOUNT_ID)
      actions: terms(field: EVENT_NAME, size: 4) { key count } } }
  names: distinct(field: EVENT_NAME)
  regions: distinct(field: AWS_REGION) } }"""


def test_every_statistic_counts_only_the_tenants_events(secured_api, sample_records, tenant):
    mine = tenant.own(sample_records)
    stats = tenant.ask(secured_api, STATS)["eventStats"]
    assert stats["count"] == len(mine)
    assert stats["errorRate"] == pytest.approx(sum("errorCode" in r for r in mine) / len(mine))
    assert stats["accounts"] == top(Counter(r["recipientAccountId"] for r in mine), 50)
    assert stats["sources"] == top(Counter(r["eventSource"] for r in mine), 50)
    types = Counter(r["userIdentity"].get("type") for r in mine)
    del types[None]
    assert [{"key": b["key"], "count": b["count"]} for b in stats["types"]] == top(types, 3)
    for bucket in stats["types"]:
        of_type = [r for r in mine if r["userIdentity"].get("type") == bucket["key"]]
        assert bucket["stats"]["count"] == len(of_type)
        assert bucket["stats"]["accounts"] == len({r["recipientAccountId"] for r in of_type})
        assert bucket["stats"]["actions"] == top(Counter(r["eventName"] for r in of_type), 4)
    assert stats["names"] == len({r["eventName"] for r in mine})
    assert stats["regions"] == len({r["awsRegion"] for r in mine})


TIMELINE = """query($f: EventFilter) { eventStats(filter: $f) {
  timeline(interval: HOUR, field: ACCOUNT_ID, size: 5) {
    interval buckets { start count groups { key count stats { count } } } } } }"""


def test_a_timeline_and_its_groups_count_only_the_tenants_events(
    secured_api, sample_records, tenant
):
    in_day = [r for r in tenant.own(sample_records) if r["eventTime"].startswith("2024-08-02")]
    timeline = tenant.ask(secured_api, TIMELINE, f=STRATUS_DAY)["eventStats"]["timeline"]
    day = datetime(2024, 8, 2, tzinfo=UTC)
    expected = []
    for hour in (day + timedelta(hours=n) for n in range(24)):
        of_hour = [r for r in in_day if r["eventTime"].startswith(hour.strftime("%Y-%m-%dT%H"))]
        groups = top(Counter(r["recipientAccountId"] for r in of_hour), 5)
        expected.append(
            {
                "start": hour.isoformat(),
                "count": len(of_hour),
                "groups": [{**g, "stats": {"count": g["count"]}} for g in groups],
            }
        )
    assert timeline == {"interval": "1h", "buckets": expected}


LOG_GROUPS = """{ logGroups(first: 50) { totalCount
  nodes { name eventCount arns lastChange { eventID } } } }"""
LOG_GROUP = (
    """query($name: String!) { logGroup(name: $name) {
  eventCount history(first: 500) { totalCount nodes { %s } } } }"""
    % CHANGE_FIELDS
)


def test_log_groups_are_the_tenants_own(secured_api, sample_records, tenants):
    sigma, stratus = tenants["sigma"], tenants["stratus"]
    naming = [r for r in sample_records if VPC_FLOW_LOGS in named_groups(r)]
    assert {r["recipientAccountId"] for r in naming} == {SIGMA}
    groups = sigma.ask(secured_api, LOG_GROUPS)["logGroups"]
    assert groups["totalCount"] == 1
    assert [(n["name"], n["eventCount"]) for n in groups["nodes"]] == [(VPC_FLOW_LOGS, 4)]
    assert stratus.ask(secured_api, LOG_GROUPS) == {"logGroups": {"totalCount": 0, "nodes": []}}
    assert stratus.ask(secured_api, LOG_GROUP, name=VPC_FLOW_LOGS) == {"logGroup": None}


def _copied_to(records: list[Record], account: str) -> list[Record]:
    """The records as if another account had made the same calls an hour later."""
    copies = []
    for record in records:
        time = datetime.fromisoformat(record["eventTime"]) + timedelta(hours=1)
        copies.append(
            {
                **record,
                "eventID": str(uuid.uuid5(uuid.NAMESPACE_URL, record["eventID"] + account)),
                "eventTime": time.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "recipientAccountId": account,
            }
        )
    return copies


@pytest.fixture
def two_accounts(
    es, es_connection, alias, tmp_path, secured_settings
) -> Iterator[tuple[TestClient, list[Record]]]:
    """The samples' CloudWatch Logs calls, and the same calls made in a stratus account."""
    logs = [r for r in read_sample_records() if r["eventSource"] == "logs.amazonaws.com"]
    records = logs + _copied_to(logs, STRATUS[0])
    (tmp_path / "trail.json").write_text(json.dumps({"Records": records}), encoding="utf-8")
    assert index_sources([str(tmp_path)], client=es, alias=alias).indexed == len(records)
    with TestClient(create_app(es_connection, alias, secured_settings)) as client:
        yield client, records


def test_a_group_in_several_accounts_is_summed_over_the_tenants_events_only(two_accounts, tenants):
    """The same group name in two accounts: counts, ARNs, last change, history all split."""
    client, records = two_accounts
    for tenant in (tenants["sigma"], tenants["stratus"], tenants["ops"]):
        mine = tenant.own(records)
        naming = [r for r in mine if VPC_FLOW_LOGS in named_groups(r)]
        changes = sorted((r for r in naming if is_change(r)), key=order_key)
        accounts = sorted({r["recipientAccountId"] for r in naming})
        regions = sorted({r["awsRegion"] for r in naming})
        groups = tenant.ask(client, LOG_GROUPS)["logGroups"]
        assert groups == {
            "totalCount": 1,
            "nodes": [
                {
                    "name": VPC_FLOW_LOGS,
                    "eventCount": len(naming),
                    "arns": sorted(
                        f"arn:aws:logs:{region}:{account}:log-group:{VPC_FLOW_LOGS}"
                        for account in accounts
                        for region in regions
                    ),
                    "lastChange": {"eventID": changes[-1]["eventID"]},
                }
            ],
        }, tenant
        group = tenant.ask(client, LOG_GROUP, name=VPC_FLOW_LOGS)["logGroup"]
        history = history_of(mine, VPC_FLOW_LOGS)
        assert group["eventCount"] == len(naming)
        assert group["history"]["totalCount"] == len(history)
        assert group["history"]["nodes"] == [expected_change(r) for r in history]
