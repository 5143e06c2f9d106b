"""Every query the guides show (docs/queries/) runs against the guides' data, answered right.

Expected answers are computed from the trail files themselves, read with the standard library
(tests/samples.py, tests/api/log_group_files.py), never through the indexer or the API.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.api.log_group_files import history_of, kind_of, named_groups, order_key, principal_of
from tests.docs.conftest import GuideData
from tests.helpers import graphql

ROOT = Path(__file__).resolve().parents[2]
QUERIES = ROOT / "docs" / "queries"
PAGES = ROOT / "docs" / "pages"

RETENTION_AND_DELETION = {"DeleteLogGroup", "PutRetentionPolicy", "DeleteRetentionPolicy"}
SENDING = {"PutSubscriptionFilter", "CreateExportTask"}
READING = {
    "GetLogEvents",
    "FilterLogEvents",
    "GetLogRecord",
    "StartQuery",
    "GetQueryResults",
    "StartLiveTail",
}


def query(name: str) -> str:
    return (QUERIES / f"{name}.graphql").read_text(encoding="utf-8")


def documented_variables(name: str) -> dict[str, Any]:
    path = QUERIES / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def logs_calls(records: list[dict[str, Any]], names: set[str]) -> list[dict[str, Any]]:
    return [
        r for r in records if r["eventSource"] == "logs.amazonaws.com" and r["eventName"] in names
    ]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_every_query_file_is_shown_by_a_guide_and_every_include_names_a_query_file():
    included = set()
    for page in PAGES.rglob("*.md"):
        included |= set(re.findall(r'--8<-- "([^"]+)"', page.read_text(encoding="utf-8")))
    files = {path.name for path in QUERIES.iterdir()}
    assert included == files
    assert {name for name in files if name.endswith(".graphql")} == {
        "who-deleted-or-shortened.graphql",
        "log-group-history.graphql",
        "where-logs-are-sent.graphql",
        "who-reads-log-contents.graphql",
        "what-changed.graphql",
    }


def _deletions_and_retention(records: list[dict[str, Any]], group: str) -> list[dict[str, Any]]:
    calls = [r for r in logs_calls(records, RETENTION_AND_DELETION) if group in named_groups(r)]
    return [
        {
            "eventTime": r["eventTime"],
            "eventName": r["eventName"],
            "principal": principal_of(r["userIdentity"]),
            "sourceIPAddress": r["sourceIPAddress"],
            "errorCode": r.get("errorCode"),
            "requestParameters": r["requestParameters"],
            "userIdentity": {
                "type": r["userIdentity"]["type"],
                "arn": r["userIdentity"].get("arn"),
                "accessKeyId": r["userIdentity"].get("accessKeyId"),
            },
        }
        for r in sorted(calls, key=order_key)
    ]


def _answered_times(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**node, "eventTime": at(node["eventTime"])} for node in nodes]


def test_who_deleted_the_sample_log_group(guides_api: TestClient, guide_data: GuideData):
    variables = documented_variables("who-deleted-or-shortened")
    expected = _deletions_and_retention(guide_data.records, variables["logGroup"])
    # The samples' one deletion: bert-jan deleted the group Stratus Red Team created.
    assert [(e["eventName"], e["principal"]) for e in expected] == [("DeleteLogGroup", "bert-jan")]

    answer = graphql(guides_api, query("who-deleted-or-shortened"), **variables)["events"]

    assert answer["totalCount"] == len(expected)
    assert _answered_times(answer["nodes"]) == _answered_times(expected)


def _busiest_retention_group(records: list[dict[str, Any]]) -> str:
    """The generated group with the most deletions and retention changes (then by name)."""
    counts = Counter(
        group for r in logs_calls(records, RETENTION_AND_DELETION) for group in named_groups(r)
    )
    return min(counts, key=lambda group: (-counts[group], group))


def test_who_shortened_the_retention_of_a_generated_log_group(
    guides_api: TestClient, guide_data: GuideData
):
    group = _busiest_retention_group(guide_data.records)
    expected = _deletions_and_retention(guide_data.records, group)
    assert len(expected) >= 2  # the data holds a story to tell, not one call
    assert any(e["eventName"] == "PutRetentionPolicy" for e in expected)

    answer = graphql(guides_api, query("who-deleted-or-shortened"), logGroup=group)["events"]

    assert answer["totalCount"] == len(expected)
    assert _answered_times(answer["nodes"]) == _answered_times(expected)


def test_the_history_of_the_documented_log_group(guides_api: TestClient, guide_data: GuideData):
    group = documented_variables("log-group-history")["logGroup"]
    calls = history_of(guide_data.records, group)
    naming = [r for r in guide_data.records if group in named_groups(r)]
    assert any(r["eventName"] == "PutRetentionPolicy" for r in calls)

    found = graphql(guides_api, query("log-group-history"), logGroup=group)["logGroup"]

    assert found["name"] == group
    assert at(found["firstSeen"]) == min(at(r["eventTime"]) for r in naming)
    assert at(found["lastSeen"]) == max(at(r["eventTime"]) for r in naming)
    history = found["history"]
    assert history["totalCount"] == len(calls)
    assert [{**node, "eventTime": at(node["eventTime"])} for node in history["nodes"]] == [
        {
            "kind": kind_of(r),
            "eventTime": at(r["eventTime"]),
            "principal": principal_of(r["userIdentity"]),
            "sourceIPAddress": r["sourceIPAddress"],
            "succeeded": "errorCode" not in r,
            "errorCode": r.get("errorCode"),
            "retentionInDays": (
                r["requestParameters"]["retentionInDays"]
                if r["eventName"] == "PutRetentionPolicy"
                else None
            ),
        }
        for r in calls[:100]
    ]


def test_where_logs_are_sent(guides_api: TestClient, guide_data: GuideData):
    sending = [r for r in logs_calls(guide_data.records, SENDING) if "errorCode" not in r]
    groups = sorted({group for r in sending for group in named_groups(r)})
    assert groups  # subscription filters and exports to show

    answer = graphql(guides_api, query("where-logs-are-sent"))["logGroups"]

    assert answer["totalCount"] == len(groups)
    assert [node["name"] for node in answer["nodes"]] == groups[:100]
    for node in answer["nodes"]:
        calls = history_of(sending, node["name"])
        expected = []
        for r in calls[:50]:
            parameters = r["requestParameters"]
            export = r["eventName"] == "CreateExportTask"
            expected.append(
                {
                    "kind": "EXPORT_TASK_CREATED" if export else "SUBSCRIPTION_FILTER_PUT",
                    "eventTime": at(r["eventTime"]),
                    "principal": principal_of(r["userIdentity"]),
                    "destination": parameters["destination" if export else "destinationArn"],
                    "destinationPrefix": parameters.get("destinationPrefix") if export else None,
                    "filterName": None if export else parameters["filterName"],
                }
            )
        answered = [{**c, "eventTime": at(c["eventTime"])} for c in node["history"]["nodes"]]
        assert answered == expected, node["name"]


@pytest.mark.parametrize("window", ["everything", "the generated day 2"])
def test_who_reads_log_contents(guides_api: TestClient, guide_data: GuideData, window: str):
    reads = logs_calls(guide_data.records, READING)
    variables: dict[str, Any] = documented_variables("who-reads-log-contents")
    if window != "everything":
        start = datetime(2025, 3, 2, tzinfo=UTC)
        variables = {"from": start.isoformat(), "to": (start + timedelta(days=1)).isoformat()}
        reads = [r for r in reads if start <= at(r["eventTime"]) < start + timedelta(days=1)]
    by_principal: dict[str, list[dict[str, Any]]] = {}
    for r in reads:
        by_principal.setdefault(principal_of(r["userIdentity"]) or "", []).append(r)
    assert len(by_principal) >= 2

    stats = graphql(guides_api, query("who-reads-log-contents"), **variables)["eventStats"]

    assert stats["count"] == len(reads)
    top = sorted(by_principal, key=lambda p: (-len(by_principal[p]), p))[:25]
    assert [(b["key"], b["count"]) for b in stats["terms"]] == [
        (p, len(by_principal[p])) for p in top
    ]
    for bucket in stats["terms"]:
        calls = by_principal[bucket["key"]]
        failed = sum(1 for r in calls if r.get("errorCode"))
        assert bucket["stats"]["errorRate"] == pytest.approx(failed / len(calls))
        actions = Counter(r["eventName"] for r in calls)
        assert [(t["key"], t["count"]) for t in bucket["stats"]["terms"]] == sorted(
            actions.items(), key=lambda item: (-item[1], item[0])
        )[:10]


def _changes(records: list[dict[str, Any]], start: datetime, end: datetime) -> list[dict[str, Any]]:
    return [r for r in records if r.get("readOnly") is False and start <= at(r["eventTime"]) < end]


@pytest.mark.parametrize(
    "variables",
    [
        documented_variables("what-changed"),  # the generated trail's last hour
        {"from": "2023-07-10T12:00:00Z", "to": "2023-07-10T13:00:00Z"},  # the samples'
    ],
)
def test_what_changed_in_an_hour(
    guides_api: TestClient, guide_data: GuideData, variables: dict[str, str]
):
    changes = _changes(guide_data.records, at(variables["from"]), at(variables["to"]))
    assert len(changes) > 5

    answer = graphql(guides_api, query("what-changed"), **variables)

    stats = answer["eventStats"]
    assert stats["count"] == len(changes)
    failed = sum(1 for r in changes if r.get("errorCode"))
    assert stats["errorRate"] == pytest.approx(failed / len(changes))
    sources = Counter(r["eventSource"] for r in changes)
    assert [(b["key"], b["count"]) for b in stats["terms"]] == sorted(
        sources.items(), key=lambda item: (-item[1], item[0])
    )[:20]
    for bucket in stats["terms"]:
        names = Counter(r["eventName"] for r in changes if r["eventSource"] == bucket["key"])
        assert [(t["key"], t["count"]) for t in bucket["stats"]["terms"]] == sorted(
            names.items(), key=lambda item: (-item[1], item[0])
        )[:20]
    newest = sorted(changes, key=order_key, reverse=True)[:50]
    assert answer["events"]["totalCount"] == len(changes)
    assert [
        (at(n["eventTime"]), n["eventName"], n["principal"]) for n in answer["events"]["nodes"]
    ] == [(at(r["eventTime"]), r["eventName"], principal_of(r["userIdentity"])) for r in newest]
