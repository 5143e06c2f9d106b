"""Integrity problems the continuous indexer finds become critical findings (issues 10 and 11).

``trailql index --follow`` and the SQS worker hand each problem to the recorder
:func:`trailql.commands.index.integrity_recorder` builds; here it is handed the problems the
indexer reports (tests/indexer/test_integrity.py shows it reports them), and the findings
index is read back directly.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from detections.findings import findings_index
from integrity import IntegrityFinding
from trailql.commands.index import integrity_recorder

ACCOUNT = "123456789012"
BUCKET = "s3://trail/AWSLogs/123456789012/CloudTrail/us-east-1/2025/03/01/"
FOUND_AT = datetime(2025, 3, 1, 10, 17, 30, tzinfo=UTC)
PROBLEMS = [
    IntegrityFinding("modified", BUCKET + "a.json.gz", "sha256 differs", ACCOUNT, FOUND_AT),
    IntegrityFinding("missing", BUCKET + "b.json.gz", "", ACCOUNT, FOUND_AT),
    IntegrityFinding("unlisted", BUCKET + "c.json.gz", "", ACCOUNT, FOUND_AT),
    IntegrityFinding("gap_digest_missing", BUCKET + "d-digest.json.gz", "", ACCOUNT, FOUND_AT),
    IntegrityFinding("digest_signature_invalid", BUCKET + "e.json.gz", "bad", None, FOUND_AT),
]


def _stored(es, alias) -> dict[str, dict[str, Any]]:
    es.indices.refresh(index=findings_index(alias))
    hits = es.search(index=findings_index(alias), size=100)["hits"]["hits"]
    return {hit["_source"]["rule"]["id"]: hit["_source"] for hit in hits}


def test_each_problem_is_one_critical_finding_and_a_second_report_raises_nothing_new(es, alias):
    record = integrity_recorder(es, alias, channels=["webhook"])
    for problem in PROBLEMS:
        record(problem)
    stored = _stored(es, alias)
    assert sorted(stored) == [
        "integrity_digest_signature_invalid",
        "integrity_gap_digest_missing",
        "integrity_missing",
        "integrity_modified",
        "integrity_unlisted",
    ]
    assert {finding["rule"]["severity"] for finding in stored.values()} == {"critical"}
    modified = stored["integrity_modified"]
    assert modified["accountId"] == ACCOUNT
    assert modified["status"] == "open"
    assert modified["summary"] == f"{BUCKET}a.json.gz is modified: sha256 differs."
    assert modified["firstEventTime"] == "2025-03-01T10:17:30.000+00:00"
    assert modified["delivery"] == {"webhook": "pending"}
    assert stored["integrity_digest_signature_invalid"]["accountId"] == ""

    for problem in PROBLEMS:  # judged again: the same findings, none new
        record(problem)
    assert len(_stored(es, alias)) == len(PROBLEMS)


def test_a_failure_to_store_is_logged_and_never_raised(es, caplog):
    # An alias no index can be created under: Elasticsearch refuses upper case.
    record = integrity_recorder(es, "UPPER-case-alias")
    record(PROBLEMS[0])
    assert "cannot store an integrity finding" in caplog.text
