"""Bulk export over HTTP (``/export``) and from the command line (``trailql export``).

Expected records are read back from the generated files and the samples with the standard
library; the export must give exactly them: the same set, each exactly as written.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from typing import Any

import pytest
from starlette.testclient import TestClient

from api.export import MAX_FIELDS, PAGE_SIZE, export_columns
from common.elastic import Connection
from tests.api.credentials import SIGMA

# Correctness that must hold on every engine: scripts/test-engines runs these on each.
pytestmark = pytest.mark.engines

GUARD_SECONDS = 300  # a guard against a hang, not a measurement


@pytest.fixture(scope="module")
def generated(generated_api):
    """4,000 events over 400 days: many monthly indices, and exactly four full pages."""
    data = generated_api(events=4000, seed=18, days=400)
    assert len(data.records) % PAGE_SIZE == 0
    return data


def by_id(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {record["eventID"]: record for record in records}


def ndjson(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def test_the_ndjson_export_is_every_record_exactly_as_written(generated):
    response = generated.client.get("/export")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    assert response.headers["cache-control"] == "no-store"
    exported = ndjson(response.text)
    assert len(exported) == len(generated.records)
    assert by_id(exported) == by_id(generated.records)
    times = [record["eventTime"] for record in exported]
    assert times == sorted(times)  # oldest first


def test_a_filter_means_what_it_means_in_a_query(generated):
    names = ["DeleteLogGroup", "PutRetentionPolicy"]
    body = {"filter": {"eventName": names}, "fields": ["eventID", "eventName"]}
    response = generated.client.post("/export", json=body)
    exported = ndjson(response.text)
    expected = [r for r in generated.records if r["eventName"] in names]
    assert expected
    assert sorted(e["eventID"] for e in exported) == sorted(r["eventID"] for r in expected)
    assert all(set(e) == {"eventID", "eventName"} for e in exported)


def test_the_csv_export_has_a_row_per_event_with_nested_fields_dotted(generated):
    response = generated.client.get("/export", params={"format": "csv"})
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(response.text)))
    header, body = rows[0], rows[1:]
    assert header == export_columns()
    assert "userIdentity.sessionContext.sessionIssuer.arn" in header
    assert len(body) == len(generated.records)
    records = by_id(generated.records)
    column = {name: number for number, name in enumerate(header)}
    for row in body:
        record = records[row[column["eventID"]]]
        assert row[column["userIdentity.arn"]] == record["userIdentity"].get("arn", "")
        parameters = record.get("requestParameters")
        cell = row[column["requestParameters"]]
        assert (json.loads(cell) if cell else None) == parameters


def test_csv_with_fields_has_just_those_columns(generated):
    fields = "eventTime,userIdentity.type,readOnly,nowhere.at.all"
    response = generated.client.get("/export", params={"format": "csv", "fields": fields})
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == fields.split(",")
    expected = sorted(
        [
            r["eventTime"],
            r["userIdentity"]["type"],
            {True: "true", False: "false", None: ""}[r.get("readOnly")],
            "",
        ]
        for r in generated.records
    )
    assert sorted(rows[1:]) == expected


def test_a_tenant_exports_only_its_accounts(secured_api, keys, sample_records):
    response = secured_api.get("/export", headers={"X-API-Key": keys.sigma})
    exported = ndjson(response.text)
    expected = [r for r in sample_records if r["recipientAccountId"] == SIGMA]
    assert 0 < len(expected) < len(sample_records)
    assert by_id(exported) == by_id(expected)
    assert secured_api.get("/export").status_code == 401


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"filter": "{not json"}, "filter must be JSON"),
        ({"filter": '{"nope": 1}'}, "not an EventFilter"),
        ({"filter": '{"eventName": {"a": 1}}'}, "not an EventFilter"),
        ({"filter": '{"from": "2024-02-01T00:00:00Z", "to": "2024-01-01T00:00:00Z"}'}, "from"),
        ({"filter": json.dumps({"eventName": ["x"] * 5000})}, "at most 1,000"),
        ({"filter": "[" * 2000 + "]" * 2000}, "filter must be JSON"),
        ({"filter": '{"logFileIntegrity": ["MODIFIED"]}'}, "logFileIntegrity is not available"),
        ({"filter": '{"or": [{"not": {"logFileIntegrity": []}}]}'}, "logFileIntegrity is not"),
        ({"format": "xml"}, "format must be ndjson or csv"),
        ({"fields": "__proto__"}, "not a field path"),
        ({"fields": "a..b"}, "not a field path"),
        ({"fields": ",".join(f"f{n}" for n in range(MAX_FIELDS + 1))}, "at most"),
    ],
)
def test_a_bad_export_request_is_400_with_a_code(generated, params, says):
    response = generated.client.get("/export", params=params)
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert says in error["message"]


def test_a_post_body_that_is_not_an_object_is_refused(generated):
    response = generated.client.post("/export", content=b"[1]")
    assert response.status_code == 400
    response = generated.client.post("/export", json={"fields": [1]})
    assert response.status_code == 400


def test_an_alias_with_no_indices_exports_nothing(es_connection: Connection):
    from api.app import create_app  # noqa: PLC0415

    with TestClient(create_app(es_connection, "trailql-test-nothing-here")) as client:
        response = client.get("/export")
    assert response.status_code == 200
    assert response.text == ""


def _trailql_export(
    connection: Connection, alias: str, *arguments: str, **env: str
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("TRAILQL_", "ELASTIC"))}
    return subprocess.run(
        [sys.executable, "-m", "trailql", "export", *arguments],
        env={**base, **connection.environment(), "TRAILQL_INDEX": alias, **env},
        capture_output=True,
        text=True,
        timeout=GUARD_SECONDS,
        check=False,
    )


def test_the_command_exports_the_keys_accounts_as_csv(
    es_connection, samples_alias, keys, sample_records
):
    done = _trailql_export(
        es_connection,
        samples_alias[0],
        "--format",
        "csv",
        "--fields",
        "eventID,recipientAccountId",
        "--api-key",
        keys.sigma,
        TRAILQL_API_KEYS=keys.lines,
    )
    assert done.returncode == 0, done.stderr
    rows = list(csv.reader(io.StringIO(done.stdout)))
    expected = sorted(
        [r["eventID"], SIGMA] for r in sample_records if r["recipientAccountId"] == SIGMA
    )
    assert rows[0] == ["eventID", "recipientAccountId"]
    assert sorted(rows[1:]) == expected


def test_the_command_needs_a_credential_when_authentication_is_on(
    es_connection, samples_alias, keys
):
    done = _trailql_export(es_connection, samples_alias[0], TRAILQL_API_KEYS=keys.lines)
    assert done.returncode == 2
    assert "give --api-key" in done.stderr
    assert done.stdout == ""
    wrong = _trailql_export(
        es_connection, samples_alias[0], "--api-key", "tql_nope", TRAILQL_API_KEYS=keys.lines
    )
    assert wrong.returncode == 2
    assert "Traceback" not in wrong.stderr
    bad = _trailql_export(
        es_connection, samples_alias[0], "--filter", "{", TRAILQL_AUTH_DISABLED="true"
    )
    assert (bad.returncode, bad.stdout) == (2, "")
    assert "--filter is not JSON" in bad.stderr


def test_the_command_exports_ndjson_with_a_filter(es_connection, generated):
    done = _trailql_export(
        es_connection,
        generated.alias,
        "--filter",
        '{"readOnly": false}',
        TRAILQL_AUTH_DISABLED="true",
    )
    assert done.returncode == 0, done.stderr
    expected = [r for r in generated.records if r.get("readOnly") is False]
    assert expected
    assert by_id(ndjson(done.stdout)) == by_id(expected)
