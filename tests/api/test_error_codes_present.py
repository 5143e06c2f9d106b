"""Only a call with a non-empty errorCode failed: null, empty and absent codes are successes.

Checked end to end on a trail file of four calls to one log group, with errorCode absent,
null, empty and "AccessDenied": the filters, errorRate and a log group's history agree.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from api.app import create_app
from indexer.run import index_sources
from tests.helpers import graphql

GROUP = "/trailql/test/errors"
ERROR_CODES = {"absent": ..., "null": None, "empty": "", "real": "AccessDenied"}


def _record(event_id: str, minute: int, error_code: object) -> dict[str, object]:
    record: dict[str, object] = {
        "eventVersion": "1.08",
        "eventID": event_id,
        "eventTime": f"2024-03-01T10:{minute:02d}:00Z",
        "eventSource": "logs.amazonaws.com",
        "eventName": "PutRetentionPolicy",
        "awsRegion": "eu-west-1",
        "recipientAccountId": "111122223333",
        "readOnly": False,
        "userIdentity": {"type": "IAMUser", "userName": "alice", "accountId": "111122223333"},
        "requestParameters": {"logGroupName": GROUP, "retentionInDays": 7},
    }
    if error_code is not ...:
        record["errorCode"] = error_code
    return record


@pytest.fixture(scope="module")
def api(es, es_connection, tmp_path_factory):
    folder: Path = tmp_path_factory.mktemp("errors")
    records = [
        _record(f"error-code-{name}", minute, code)
        for minute, (name, code) in enumerate(ERROR_CODES.items())
    ]
    with gzip.open(folder / "calls.json.gz", "wt") as trail:
        json.dump({"Records": records}, trail)
    alias = "trailql-test-error-codes"
    summary = index_sources([str(folder)], client=es, alias=alias)
    assert summary.indexed == 4
    with TestClient(create_app(es_connection, alias)) as client:
        yield client
    for index in es.indices.get(index=f"{alias}-*"):
        es.indices.delete(index=index)
    es.indices.delete_index_template(name=alias)


def _ids(client: TestClient, event_filter: dict[str, object]) -> set[str]:
    query = "query($f: EventFilter) { events(filter: $f) { nodes { eventID } } }"
    return {node["eventID"] for node in graphql(client, query, f=event_filter)["events"]["nodes"]}


def test_has_error_counts_only_a_non_empty_code(api):
    assert _ids(api, {"hasError": True}) == {"error-code-real"}
    assert _ids(api, {"hasError": False}) == {
        "error-code-absent",
        "error-code-null",
        "error-code-empty",
    }


def test_error_rate_counts_only_a_non_empty_code(api):
    stats = graphql(api, "{ eventStats { count errorRate } }")["eventStats"]
    assert stats == {"count": 4, "errorRate": 0.25}


def test_a_log_groups_history_calls_only_the_real_failure_failed(api):
    query = """query($name: String!) { logGroup(name: $name) {
        lastChange { eventID } history { nodes { eventID succeeded errorCode } } } }"""
    group = graphql(api, query, name=GROUP)["logGroup"]
    assert group["history"]["nodes"] == [
        {"eventID": "error-code-absent", "succeeded": True, "errorCode": None},
        {"eventID": "error-code-null", "succeeded": True, "errorCode": None},
        {"eventID": "error-code-empty", "succeeded": True, "errorCode": None},
        {"eventID": "error-code-real", "succeeded": False, "errorCode": "AccessDenied"},
    ]
    assert group["lastChange"] == {"eventID": "error-code-empty"}
