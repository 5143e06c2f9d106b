"""``trailql indices``: list, optimize, delete (dry run and real), snapshot and restore.

Four months of generated events on the cluster; every figure expected is counted from the
trail files. A restored cluster answers the same questions with the same results.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from elasticsearch import ApiError
from starlette.testclient import TestClient

from api.app import create_app
from generator import generate
from indexer.run import index_sources
from tests.cluster.conftest import questions
from tests.cluster.load import Question
from tests.helpers import graphql
from tests.samples import records_of
from trailql import local_elasticsearch
from trailql.cli import EXIT_ERROR, EXIT_OK, main

pytestmark = pytest.mark.cluster

MONTHS = ["2024-01", "2024-02", "2024-03", "2024-04"]


def _month_questions(records: list[dict[str, Any]]) -> list[Question]:
    by_month = Counter(record["eventTime"][:7] for record in records)
    assert sorted(by_month) == MONTHS
    asked = []
    for month in MONTHS:
        year, number = int(month[:4]), int(month[5:])
        after = f"{year + number // 12}-{number % 12 + 1:02d}-01T00:00:00Z"
        query = '{ events(filter: {from: "%s-01T00:00:00Z", to: "%s"}) { totalCount } }'
        expected = {"events": {"totalCount": by_month[month]}}
        asked.append(Question(month, query % (month, after), expected))
    return asked


def _answers(api: TestClient, asked: list[Question]) -> dict[str, Any]:
    return {question.name: graphql(api, question.query) for question in asked}


def test_optimize_delete_snapshot_and_restore(  # noqa: PLR0915, PLR0917
    cluster_es, cluster_connection, cluster_alias, tmp_path, monkeypatch, capsys
):
    es = cluster_es
    alias = cluster_alias("lifecycle")
    generate(tmp_path, events=3_000, seed=13, start=datetime(2024, 1, 1, tzinfo=UTC), days=120)
    records = [
        record for path in sorted(tmp_path.rglob("*.json.gz")) for record in records_of(path)
    ]
    assert index_sources([str(tmp_path)], client=es, alias=alias).clean
    by_month = Counter(record["eventTime"][:7] for record in records)
    asked = questions(records) + _month_questions(records)
    for name, value in cluster_connection.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TRAILQL_INDEX", alias)
    repository, location = f"test-{uuid.uuid4().hex[:8]}", f"test-{uuid.uuid4().hex[:8]}"

    def run(*arguments: str) -> tuple[int, str, str]:
        code = main(["indices", *arguments])
        output = capsys.readouterr()
        return code, output.out, output.err

    def listed() -> dict[str, dict[str, Any]]:
        code, out, _ = run("list", "--json")
        assert code == EXIT_OK
        return {line["month"]: line for line in map(json.loads, out.splitlines())}

    with TestClient(create_app(cluster_connection, alias)) as api:
        before = _answers(api, asked)
        assert before == {question.name: question.expected for question in asked}
        months = listed()
        assert {month: line["documents"] for month, line in months.items()} == by_month
        assert {line["index"] for line in months.values()} == {
            f"{alias}-{month.replace('-', '.')}" for month in MONTHS
        }
        assert not any(line["read_only"] for line in months.values())
        assert {line["replicas"] for line in months.values()} == {1}  # auto: a second node

        # Optimize: the two oldest months read-only and merged; the others untouched.
        assert run("optimize", "--before", "2024-03")[0] == EXIT_OK
        months = listed()
        for month in MONTHS[:2]:
            assert months[month]["read_only"]
            assert months[month]["segments"] == months[month]["shards"]
        assert not any(months[month]["read_only"] for month in MONTHS[2:])
        with pytest.raises(ApiError) as refused:
            es.index(index=f"{alias}-2024.01", id="late", document={"eventID": "late"})
        assert refused.value.meta.status == 403
        _, _, err = run("optimize", "--before", "2024-03")
        assert err.count("already optimized") == 2
        assert _answers(api, asked) == before
        code, _, err = run("optimize", "--before", "2999-01")
        assert code == EXIT_ERROR
        assert "would include the current month" in err

        # Delete, dry run: said, not done.
        code, _, err = run("delete", "--before", "2024-02", "--dry-run")
        assert code == EXIT_OK
        assert f"would delete {alias}-2024.01 ({by_month['2024-01']:,} events)" in err
        assert sorted(listed()) == MONTHS

        # Snapshot, then delete two months for real.
        code, out, _ = run("snapshot", "--repository", repository, "--location", location)
        assert code == EXIT_OK
        snapshot = out.strip()
        code, _, err = run("delete", "--before", "2024-03", "--yes")
        assert code == EXIT_OK
        assert sorted(listed()) == MONTHS[2:]
        total = graphql(api, "{ events { totalCount } }")["events"]["totalCount"]
        assert total == by_month["2024-03"] + by_month["2024-04"]

        # Restore: the deleted months come back; those present are left as they are.
        code, _, err = run("restore", snapshot, "--repository", repository)
        assert code == EXIT_OK, err
        assert "2 restored, 2 left as they were" in err
        # Each month's hourly counts come back with it, so statistics are read from counts again.
        assert f"restored {alias}_hours-2024.01" in err
        assert f"left {alias}_hours-2024.04 as it is" in err
        months = listed()
        assert {month: line["documents"] for month, line in months.items()} == by_month
        assert all(months[month]["read_only"] for month in MONTHS[:2])
        assert _answers(api, asked) == before

        # One month only, from the same snapshot, after deleting it again.
        es.indices.delete(index=f"{alias}-2024.02")
        code, _, err = run("restore", snapshot, "--repository", repository, "--month", "2024-02")
        assert code == EXIT_OK, err
        assert "1 restored, 0 left as they were" in err
        assert _answers(api, asked) == before

    es.snapshot.delete(repository=repository, snapshot=snapshot)
    es.snapshot.delete_repository(name=repository)
    shutil.rmtree(local_elasticsearch.snapshots_dir() / location, ignore_errors=True)


def test_what_cannot_be_done_is_said(
    cluster_es, cluster_connection, cluster_alias, monkeypatch, capsys
):
    alias = cluster_alias("refusals")
    for name, value in cluster_connection.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TRAILQL_INDEX", alias)
    cases = [
        (["snapshots", "--repository", "no-such"], "there is no snapshot repository 'no-such'"),
        (["snapshot", "--repository", "x", "--location", "/etc"], "doesn't match any of the"),
        (["delete", "--before", "2999-12", "--dry-run"], "would include the current month"),
    ]
    for arguments, message in cases:
        assert main(["indices", *arguments]) == EXIT_ERROR
        assert message in capsys.readouterr().err
    # Nothing behind the alias: nothing listed, nothing to snapshot.
    assert main(["indices", "list", "--json"]) == EXIT_OK
    assert capsys.readouterr().out == ""
    cluster_es.snapshot.create_repository(
        name="trailql-test-empty", repository={"type": "fs", "settings": {"location": "empty"}}
    )
    try:
        assert main(["indices", "snapshot", "--repository", "trailql-test-empty"]) == EXIT_ERROR
        assert f"{alias} has no indices to snapshot" in capsys.readouterr().err
    finally:
        cluster_es.snapshot.delete_repository(name="trailql-test-empty")
