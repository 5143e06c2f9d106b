"""The samples behind an alias of their own, with every rule evaluated once (findings unstored)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from detections import Detector, Finding, Trust, Window, load_rules
from indexer.run import IndexSummary

EVERYTHING = Window(datetime(1970, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC))


@pytest.fixture(scope="session")
def sample_findings(es: Elasticsearch, samples_alias: tuple[str, IndexSummary]) -> list[Finding]:
    """What the shipped pack raises over the samples, with nothing trusted."""
    detector = Detector(es, samples_alias[0], load_rules([]), Trust())
    _, findings = detector.evaluate(EVERYTHING, store=False)
    return findings


def by_rule(findings: list[Finding]) -> dict[str, set[tuple[str, ...]]]:
    """Each rule's findings, as their evidence eventIDs."""
    found: dict[str, set[tuple[str, ...]]] = {}
    for finding in findings:
        found.setdefault(finding.rule.name, set()).add(finding.event_ids)
    return found


def ok(record: dict[str, Any]) -> bool:
    """A successful call: no errorCode, or an empty one."""
    return record.get("errorCode") in (None, "")
