"""The API's view of integrity: each event's file and verdict, the filter, the summary.

Over a tampered trail loaded by ``--follow`` (tests/integrity/continuous.py); the expected
values come from the trail's files, not from the code under test.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from starlette.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from common.indices import state_index
from tests.api.credentials import api_key
from tests.helpers import drop_alias
from tests.integrity.continuous import EDITED, GAPPED, Follower, Tampered, settled, tampered_trail

Loaded = tuple[TestClient, Tampered, dict[str, str]]


@pytest.fixture(scope="module")
def loaded(es, es_connection, moto_endpoint, tmp_path_factory) -> Iterator[Loaded]:
    """The trail loaded once, the API over it, and an API key per generated account."""
    alias = f"trailql-test-{uuid.uuid4().hex[:10]}"
    bucket = f"trail-{uuid.uuid4().hex[:12]}"
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AWS_ENDPOINT_URL_S3": moto_endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }.items():
            patch.setenv(name, value)
        s3 = boto3.session.Session().client("s3")
        trail = tampered_trail(Path(tmp_path_factory.mktemp("integrity-api")), s3, bucket)
        follower = Follower(es, alias, trail)
        try:
            follower.until(lambda: settled(es, alias, trail), "every verdict")
        finally:
            follower.finish()
    es.indices.refresh(index=alias)
    keys = {account: api_key(f"team-{account}", account) for account in (EDITED[0], GAPPED[0])}
    settings = ApiSettings(
        auth_disabled=False, api_keys=";".join(line for _, line in keys.values())
    )
    try:
        with TestClient(create_app(es_connection, alias, settings)) as client:
            yield client, trail, {account: key for account, (key, _) in keys.items()}
    finally:
        drop_alias(es, alias)
        es.options(ignore_status=404).indices.delete(index=state_index(alias))


def _ask(client: TestClient, key: str, query: str, **variables: Any) -> dict[str, Any]:
    response = client.post(
        "/graphql", json={"query": query, "variables": variables}, headers={"X-API-Key": key}
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _data(client: TestClient, key: str, query: str, **variables: Any) -> dict[str, Any]:
    body = _ask(client, key, query, **variables)
    assert "errors" not in body, body["errors"]
    return body["data"]  # type: ignore[no-any-return]


def _account_of(uri: str) -> str:
    return uri.split("/AWSLogs/")[1].split("/", maxsplit=1)[0]


EVENTS = """query($filter: EventFilter) {
  events(first: 500, filter: $filter) {
    totalCount nodes { eventID recipientAccountId logFile { key integrity } } } }"""


def test_each_event_knows_its_file_and_its_file_s_verdict_in_two_searches(loaded):
    client, trail, keys = loaded
    account = EDITED[0]
    body = _ask(client, keys[account], EVENTS)
    nodes = body["data"]["events"]["nodes"]
    mine = {e: uri for e, uri in trail.events.items() if _account_of(uri) == account}
    assert len(nodes) == len(mine) > 5
    assert {n["eventID"]: n["logFile"]["key"] for n in nodes} == mine
    assert {n["logFile"]["key"]: n["logFile"]["integrity"] for n in nodes} == {
        uri: trail.files[uri].upper() for uri in mine.values()
    }
    # The page and its count (api/events.py), then every event's file, then every file's
    # verdict: four, not one per event.
    assert body["extensions"]["elasticsearch"]["searches"] == 4


def _events_of(trail: Tampered, account: str, verdicts: set[str]) -> Counter[str]:
    return Counter(
        uri
        for uri in trail.events.values()
        if _account_of(uri) == account and trail.files[uri] in verdicts
    )


@pytest.mark.parametrize(
    "verdicts",
    [["VALID"], ["MODIFIED"], ["UNLISTED"], ["MODIFIED", "UNLISTED"], ["MISSING"], []],
)
def test_the_filter_keeps_the_events_of_files_with_those_verdicts(loaded, verdicts):
    client, trail, keys = loaded
    for account in keys:
        expected = _events_of(trail, account, {v.lower() for v in verdicts})
        data = _data(client, keys[account], EVENTS, filter={"logFileIntegrity": verdicts})
        assert data["events"]["totalCount"] == sum(expected.values())
        assert Counter(n["logFile"]["key"] for n in data["events"]["nodes"]) == expected
        negated = {"not": {"logFileIntegrity": verdicts}}
        everything = sum(1 for uri in trail.events.values() if _account_of(uri) == account)
        data = _data(client, keys[account], EVENTS, filter=negated)
        assert data["events"]["totalCount"] == everything - sum(expected.values())


def test_the_filter_is_narrowed_by_the_times_beside_it(loaded):
    client, trail, keys = loaded
    account = EDITED[0]
    window = {"from": "2025-03-01T12:00:00Z", "to": "2025-03-01T18:00:00Z"}
    data = _data(
        client, keys[account], EVENTS, filter={**window, "logFileIntegrity": ["VALID", "MODIFIED"]}
    )
    nodes = data["events"]["nodes"]
    assert nodes
    assert {trail.files[n["logFile"]["key"]] for n in nodes} <= {"valid", "modified"}
    everything = _data(client, keys[account], EVENTS, filter=window)["events"]["nodes"]
    expected = [n for n in everything if trail.files[n["logFile"]["key"]] in {"valid", "modified"}]
    assert sorted(n["eventID"] for n in nodes) == sorted(n["eventID"] for n in expected)


SUMMARY = """query($filter: IntegrityFilter) { integrity(filter: $filter) {
  files { verdict count } digests { verdict count }
  problems(first: 100) { file digest verdict detail account }
  gaps { reason after before start end account } } }"""


@pytest.mark.parametrize("account", [EDITED[0], GAPPED[0]])
def test_the_summary_counts_a_tenant_s_files_and_lists_its_problems_and_gaps(loaded, account):
    client, trail, keys = loaded
    summary = _data(client, keys[account], SUMMARY)["integrity"]
    files = Counter(v for uri, v in trail.files.items() if _account_of(uri) == account)
    digests = Counter(v for uri, v in trail.digests.items() if _account_of(uri) == account)
    assert {c["verdict"].lower(): c["count"] for c in summary["files"]} == files
    assert {c["verdict"].lower(): c["count"] for c in summary["digests"]} == digests
    problems = {(p["file"], p["digest"], p["verdict"]) for p in summary["problems"]}
    expected = {(u, False, v) for u, v in trail.files.items() if v != "valid"}
    expected |= {(u, True, v) for u, v in trail.digests.items() if v != "valid"}
    assert problems == {p for p in expected if _account_of(p[0]) == account}
    assert {p["account"] for p in summary["problems"]} == {account}
    gaps = [(g["reason"], g["after"]) for g in summary["gaps"]]
    assert gaps == ([("DIGEST_MISSING", trail.gap_after)] if account == GAPPED[0] else [])


def test_the_summary_is_narrowed_by_delivery_time_account_and_region(loaded):
    client, trail, keys = loaded
    account, region = EDITED
    narrowed = {
        "from": "2025-03-01T10:00:00Z",
        "to": "2025-03-01T11:00:00Z",
        "recipientAccountId": [account],
        "awsRegion": [region],
    }
    summary = _data(client, keys[account], SUMMARY, filter=narrowed)["integrity"]
    in_window = [
        uri
        for uri in trail.files
        if f"/{account}/CloudTrail/{region}/" in uri
        and datetime(2025, 3, 1, 10, tzinfo=UTC)
        <= _delivered(uri)
        < datetime(2025, 3, 1, 11, tzinfo=UTC)
    ]
    assert in_window
    assert sum(c["count"] for c in summary["files"]) == len(in_window)


def _delivered(uri: str) -> datetime:
    stamp = uri.rsplit("/", 1)[1].split("_")[3]
    return datetime.strptime(stamp, "%Y%m%dT%H%MZ").replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("query", "code", "message"),
    [
        ("{ integrity { problems(first: 100000) { file } } }", "QUERY_TOO_COSTLY", "would cost"),
        ("{ integrity { problems(first: 501) { file } } }", "BAD_USER_INPUT", "0 to 500"),
        ("{ integrity { gaps(first: -1) { end } } }", "BAD_USER_INPUT", "`first` must be 0 to 500"),
        (
            "{ events(filter: {or: [%s]}) { totalCount } }"
            % ", ".join(
                '{logFileIntegrity: [VALID], from: "2025-03-01T%02d:00:00Z"}' % hour
                for hour in range(9)
            ),
            "BAD_USER_INPUT",
            "at most 8 different `logFileIntegrity` conditions",
        ),
    ],
)
def test_hostile_integrity_questions_are_refused_with_a_code(loaded, query, code, message):
    client, _, keys = loaded
    body = _ask(client, keys[EDITED[0]], query)
    [error] = body["errors"]
    assert error["extensions"]["code"] == code
    assert message in error["message"]
