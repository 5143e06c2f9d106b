"""Findings over GraphQL: confined to the caller's accounts, triaged only with the triage scope."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from starlette.testclient import TestClient

from api.app import create_app
from api.keys import KeyConfigError, parse_key_line
from api.settings import ApiSettings
from detections import Detector, Trust, Window, load_rules
from indexer.run import index_sources
from tests.api.credentials import AUDIENCE, ISSUER, api_key, token
from tests.helpers import drop_alias

OURS, THEIRS = "111111111111", "222222222222"


def _record(account: str, name: str, source: str, minute: int, **params: Any) -> dict[str, Any]:
    return {
        "eventVersion": "1.09",
        "eventID": str(uuid.uuid4()),
        "eventTime": f"2026-10-05T08:{minute:02d}:00Z",
        "eventSource": source,
        "eventName": name,
        "awsRegion": "eu-west-1",
        "sourceIPAddress": "203.0.113.9",
        "userAgent": "aws-cli/2.17.0",
        "userIdentity": {"type": "IAMUser", "userName": f"eve-{account[:3]}",
                         "arn": f"arn:aws:iam::{account}:user/eve", "accountId": account},
        "requestParameters": params,
        "recipientAccountId": account,
        "eventType": "AwsApiCall",
    }  # fmt: skip


RECORDS = [
    _record(OURS, "DeleteLogGroup", "logs.amazonaws.com", 1, logGroupName="/ours/a"),
    _record(OURS, "StopLogging", "cloudtrail.amazonaws.com", 2, trailName="trail"),
    _record(OURS, "DeleteMetricFilter", "logs.amazonaws.com", 3, logGroupName="/ours/b",
            filterName="m"),
    _record(THEIRS, "DeleteLogGroup", "logs.amazonaws.com", 4, logGroupName="/theirs/a"),
]  # fmt: skip


def _with_scopes(_: None) -> str:
    from api.keys import hash_line, mint_key  # noqa: PLC0415

    key = mint_key()
    _with_scopes.line = hash_line("our-triager", key, [OURS], scopes=["triage"])  # type: ignore[attr-defined]
    return key


@pytest.fixture(scope="module")
def client(es, es_connection, tmp_path_factory, signing_key, jwks_url) -> Iterator[TestClient]:
    import gzip  # noqa: PLC0415
    import json  # noqa: PLC0415

    folder = tmp_path_factory.mktemp("findings")
    (folder / "trail.json.gz").write_bytes(gzip.compress(json.dumps({"Records": RECORDS}).encode()))
    alias = f"trailql-findings-{uuid.uuid4().hex[:8]}"
    index_sources([str(folder)], client=es, alias=alias)
    es.indices.refresh(index=alias)
    window = Window(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))
    Detector(es, alias, load_rules([]), Trust()).evaluate(window)
    reader, reader_line = api_key("our-reader", OURS)
    triager = _with_scopes(None)
    theirs, theirs_line = api_key("their-reader", THEIRS)
    lines = f"{reader_line};{_with_scopes.line};{theirs_line}"  # type: ignore[attr-defined]
    settings = ApiSettings(
        auth_disabled=False,
        api_keys=lines,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        jwt_jwks_url=jwks_url,
    )
    with TestClient(create_app(es_connection, alias, settings)) as test_client:
        test_client.credentials = {  # type: ignore[attr-defined]
            "reader": {"X-API-Key": reader},
            "triager": {"X-API-Key": triager},
            "theirs": {"X-API-Key": theirs},
            "jwt-triager": {
                "Authorization": "Bearer "
                + token(signing_key, accounts=[OURS], trailql_scopes="read triage")
            },
        }
        yield test_client
    drop_alias(es, alias)


def ask(client: TestClient, who: str, query: str, **variables: Any) -> dict[str, Any]:
    response = client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers=client.credentials[who],  # type: ignore[attr-defined]
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


FINDINGS = """query($after: String) { findings(first: 2, after: $after) {
  totalCount pageInfo { hasNextPage endCursor }
  nodes { id accountId principal summary status rule { name severity techniques }
          logGroups eventIds events { eventID eventName } } } }"""


def _all_findings(client: TestClient, who: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    after = None
    while True:
        page = ask(client, who, FINDINGS, after=after)["data"]["findings"]
        found += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["pageInfo"]["endCursor"]


def test_a_tenant_pages_through_its_own_findings_only(client):
    ours = _all_findings(client, "reader")
    assert {f["rule"]["name"] for f in ours} == {
        "logs_log_group_deleted", "cloudtrail_logging_stopped", "logs_metric_filter_deleted"
    }  # fmt: skip
    assert {f["accountId"] for f in ours} == {OURS}
    by_id = {r["eventID"]: r for r in RECORDS}
    for finding in ours:
        assert [e["eventID"] for e in finding["events"]] == finding["eventIds"]
        assert all(by_id[e["eventID"]]["eventName"] == e["eventName"] for e in finding["events"])
    theirs = _all_findings(client, "theirs")
    assert [(f["accountId"], f["logGroups"]) for f in theirs] == [(THEIRS, ["/theirs/a"])]


def test_another_tenants_finding_is_null(client):
    [theirs] = _all_findings(client, "theirs")
    query = "query($id: ID!) { finding(id: $id) { id } }"
    assert ask(client, "reader", query, id=theirs["id"])["data"]["finding"] is None
    assert ask(client, "theirs", query, id=theirs["id"])["data"]["finding"] == {"id": theirs["id"]}


def test_finding_stats_count_the_tenants_findings_in_one_search(client):
    body = ask(
        client,
        "reader",
        "{ findingStats { count bySeverity { key count } byAccount { key count } "
        "timeline { count } } }",
    )
    stats = body["data"]["findingStats"]
    assert stats["count"] == 3
    assert sorted((b["key"], b["count"]) for b in stats["bySeverity"]) == [
        ("critical", 1), ("high", 1), ("medium", 1)
    ]  # fmt: skip
    assert stats["byAccount"] == [{"key": OURS, "count": 3}]
    assert sum(b["count"] for b in stats["timeline"]) == 3
    assert body["extensions"]["elasticsearch"]["searches"] == 1


def test_rules_list_the_pack(client):
    rules = ask(client, "reader", "{ rules { name severity techniques } }")["data"]["rules"]
    assert {r["name"] for r in rules} == {r.info.name for r in load_rules([]).rules}


MUTATION = """mutation($id: ID!, $status: FindingStatus!, $note: String) {
  updateFindingStatus(id: $id, status: $status, note: $note) {
    status history { status by note } } }"""


def test_a_read_only_credential_is_forbidden_to_change_a_status(client):
    [first, *_] = _all_findings(client, "reader")
    body = ask(client, "reader", MUTATION, id=first["id"], status="ACKNOWLEDGED")
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert body["data"] is None


def test_triage_changes_a_status_and_keeps_who_when_and_why(client):
    [first, *_] = _all_findings(client, "reader")
    body = ask(client, "triager", MUTATION, id=first["id"], status="ACKNOWLEDGED", note="on it")
    assert body["data"]["updateFindingStatus"] == {
        "status": "ACKNOWLEDGED",
        "history": [
            {"status": "OPEN", "by": "trailql", "note": None},
            {"status": "ACKNOWLEDGED", "by": "our-triager", "note": "on it"},
        ],
    }
    body = ask(client, "jwt-triager", MUTATION, id=first["id"], status="RESOLVED")
    assert [h["by"] for h in body["data"]["updateFindingStatus"]["history"]] == [
        "trailql", "our-triager", "jwt:alice"
    ]  # fmt: skip
    query = "query($id: ID!) { finding(id: $id) { status } }"
    assert ask(client, "reader", query, id=first["id"])["data"]["finding"]["status"] == "RESOLVED"


def test_triage_of_another_tenants_finding_is_not_found(client):
    [theirs] = _all_findings(client, "theirs")
    body = ask(client, "triager", MUTATION, id=theirs["id"], status="RESOLVED")
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


def test_a_note_too_long_is_refused(client):
    [first, *_] = _all_findings(client, "reader")
    body = ask(client, "triager", MUTATION, id=first["id"], status="OPEN", note="x" * 4001)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_a_mutation_over_get_is_refused(client):
    response = client.get(
        "/graphql",
        params={"query": 'mutation { updateFindingStatus(id: "x", status: OPEN) { status } }'},
        headers=client.credentials["triager"],
    )
    assert response.status_code == 405


def test_key_lines_without_scopes_read_and_with_scopes_triage():
    digest = "0" * 64
    assert parse_key_line(f"a:{digest}:{OURS}", "t").scopes == {"read"}
    assert parse_key_line(f"a:{digest}:{OURS}:2030-01-01T00:00:00Z", "t").scopes == {"read"}
    line = parse_key_line(f"a:{digest}:*:triage:2030-01-01T00:00:00Z", "t")
    assert line.scopes == {"read", "triage"}
    assert line.expires == datetime(2030, 1, 1, tzinfo=UTC)
    with pytest.raises(KeyConfigError, match="'admin' is not a scope"):
        parse_key_line(f"a:{digest}:*:admin", "t")
