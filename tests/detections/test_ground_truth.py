"""``trailql generate --attacks``: every planted scenario raises exactly its findings; the
look-alikes raise none; a backfill run twice leaves the findings as they were."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from detections import DetectionSettings, Detector, Finding, findings_index, load_rules
from detections.continuous import trust_of
from generator import ground_truth_path
from indexer.run import index_sources
from tests.detections.conftest import EVERYTHING
from tests.helpers import drop_alias
from tests.indexer.continuous import worker_environment
from tests.samples import records_of

EVENTS = 20_000


@dataclass(frozen=True)
class Planted:
    alias: str
    folder: Path
    truth: dict[str, Any]
    settings: DetectionSettings

    def detector(self, es: Elasticsearch) -> Detector:
        return Detector(es, self.alias, load_rules([]), trust_of(self.settings))


@pytest.fixture(scope="module")
def planted(es: Elasticsearch, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Planted]:
    folder = tmp_path_factory.mktemp("attacks")
    subprocess.run(
        [sys.executable, "-m", "trailql", "generate", str(folder), "--events", str(EVENTS),
         "--attacks"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    truth = json.loads(ground_truth_path(folder).read_text())
    alias = f"trailql-attacks-{uuid.uuid4().hex[:8]}"
    summary = index_sources([str(folder)], client=es, alias=alias)
    assert summary.clean, summary
    settings = DetectionSettings(
        **{
            name.removeprefix("TRAILQL_").lower(): value
            for name, value in truth["settings"].items()
        }
    )
    yield Planted(alias, folder, truth, settings)
    drop_alias(es, alias)


@pytest.fixture(scope="module")
def found(es: Elasticsearch, planted: Planted) -> list[Finding]:
    _, findings = planted.detector(es).evaluate(EVERYTHING)
    return findings


def test_the_ground_truth_names_every_shipped_rule_and_events_that_are_in_the_files(
    planted: Planted,
):
    rules = {rule.info.name for rule in load_rules([]).rules}
    expected = {e["rule"] for s in planted.truth["scenarios"] for e in s["expected"]}
    assert expected == rules
    in_files = {
        r["eventID"] for path in planted.folder.rglob("*.json.gz") for r in records_of(path)
    }
    planted_ids = [
        i
        for group in ("scenarios", "lookalikes")
        for s in planted.truth[group]
        for i in s["eventIds"]
    ]
    assert set(planted_ids) <= in_files
    assert len(in_files) == EVENTS + len(planted_ids)


def test_every_planted_scenario_raises_exactly_its_expected_findings(
    planted: Planted, found: list[Finding]
):
    for scenario in planted.truth["scenarios"]:
        ids = set(scenario["eventIds"])
        got = sorted(
            (finding.rule.name, sorted(finding.event_ids))
            for finding in found
            if ids & set(finding.event_ids)
        )
        expected = sorted((e["rule"], sorted(e["evidence"])) for e in scenario["expected"])
        assert got == expected, scenario["id"]


def test_no_finding_holds_a_lookalike_event(planted: Planted, found: list[Finding]):
    for lookalike in planted.truth["lookalikes"]:
        ids = set(lookalike["eventIds"])
        assert [f.summary for f in found if ids & set(f.event_ids)] == [], lookalike["id"]


def test_a_finding_says_what_and_who_in_one_sentence(found: list[Finding]):
    [deleted] = [f for f in found if f.rule.name == "logs_log_group_deleted"
                 and "/planted/payments" in f.log_groups]  # fmt: skip
    assert deleted.summary == (
        "intruder-deleter deleted log group /planted/payments in 234567890123 (us-east-1)."
    )
    assert deleted.rule.techniques == ("T1562.008",)
    assert deleted.rule.severity == "high"


def _stored(es: Elasticsearch, alias: str) -> dict[str, dict[str, Any]]:
    es.indices.refresh(index=findings_index(alias))
    response = es.search(index=findings_index(alias), size=10_000, query={"match_all": {}})
    return {hit["_id"]: hit["_source"] for hit in response["hits"]["hits"]}


def test_backfilling_twice_leaves_the_same_findings_and_keeps_their_status(
    es: Elasticsearch, planted: Planted, found: list[Finding]
):
    first = _stored(es, planted.alias)
    assert set(first) == {finding.id for finding in found}
    some = next(iter(first))
    es.update(
        index=findings_index(planted.alias),
        id=some,
        doc={"status": "acknowledged"},
        refresh=True,
    )
    outcome, _ = planted.detector(es).evaluate(EVERYTHING)
    assert outcome.created == []
    second = _stored(es, planted.alias)
    assert set(second) == set(first)
    assert second[some]["status"] == "acknowledged"
    for finding_id, finding in first.items():
        assert second[finding_id]["eventIds"] == finding["eventIds"]
        assert second[finding_id]["createdAt"] == finding["createdAt"]


def test_trailql_detect_backfills_a_window_and_reports_each_rule(
    es_connection, moto_endpoint, planted: Planted
):
    env = {
        **worker_environment(es_connection, planted.alias, moto_endpoint),
        **planted.truth["settings"],
    }
    truth_times = sorted(
        r["eventTime"]
        for path in planted.folder.rglob("*planted*.json.gz")
        for r in records_of(path)
        if r["eventName"] == "StopLogging"
    )
    result = subprocess.run(
        [sys.executable, "-m", "trailql", "detect", "--from", truth_times[0][:10],
         "--to", "2100-01-01", "--no-such-option"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr  # argparse refuses an unknown option
    result = subprocess.run(
        [sys.executable, "-m", "trailql", "detect", "--from", "2100-01-01", "--to", "2000-01-01"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 2  # EXIT_ERROR, as every refused command line
    assert "--from must be before --to" in result.stderr
    result = subprocess.run(
        [sys.executable, "-m", "trailql", "detect", "--from", truth_times[0][:10]],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "cloudtrail_logging_stopped" in result.stdout + result.stderr
