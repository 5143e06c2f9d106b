"""Integrity in the continuous modes: digests checked as they come, every file judged.

A generated trail with digests signed by a test key, in moto's S3 with the signatures as
object metadata, tampered with (tests/integrity/continuous.py). ``--follow`` and the SQS
worker must reach the verdicts worked out from the files, record the gap, hand each problem
to the findings hook, and judge a file again when it changes.
"""

from __future__ import annotations

import io
import random
import threading

import pytest

from indexer.integrity import IntegrityOptions
from indexer.pipeline import IndexOptions
from indexer.report import JsonLinesReport
from indexer.worker import WorkerOptions, run_worker
from integrity import IntegrityFinding, set_finding_recorder
from schema.paths import LOG_FILE
from tests.indexer.continuous import make_queue, queue_counts, s3_event, wait_until
from tests.integrity.continuous import (
    Follower,
    edited,
    gaps,
    settled,
    tampered_trail,
    verdicts,
)


@pytest.fixture
def findings():
    found: list[IntegrityFinding] = []
    set_finding_recorder(found.append)
    yield found
    set_finding_recorder(None)


def _expected_findings(trail) -> set[tuple[str, str]]:
    problems = {(verdict, uri) for uri, verdict in trail.files.items() if verdict != "valid"}
    problems |= {
        (f"digest_{verdict}", uri) for uri, verdict in trail.digests.items() if verdict != "valid"
    }
    return problems | {("gap_digest_missing", trail.gap_after)}


def test_follow_judges_every_file_and_digest_and_judges_a_changed_file_again(  # noqa: PLR0917
    es, stateful_alias, aws, names, tmp_path, findings
):
    alias = stateful_alias
    s3, _ = aws
    trail = tampered_trail(tmp_path, s3, names)
    follower = Follower(es, alias, trail)
    try:
        follower.until(lambda: settled(es, alias, trail), "every verdict")
        # A file written again after it was judged valid is loaded and judged again.
        key = trail.untouched.removeprefix(f"s3://{names}/")
        s3.put_object(
            Bucket=names, Key=key, Body=edited(s3.get_object(Bucket=names, Key=key)["Body"].read())
        )
        follower.until(
            lambda: verdicts(es, alias, "log")[trail.untouched] == "modified", "the change"
        )
    finally:
        follower.finish()

    assert verdicts(es, alias, "log") == trail.files | {trail.untouched: "modified"}
    assert verdicts(es, alias, "digest") == trail.digests
    [gap] = gaps(es, alias)
    assert (gap["gap_reason"], gap["gap_after"]) == ("digest_missing", trail.gap_after)
    assert gap["gap_start"] is not None  # the digest before the missing one was seen first
    assert {(f.kind, f.file) for f in findings} == _expected_findings(trail) | {
        ("modified", trail.untouched)
    }
    assert {f.severity for f in findings} == {"critical"}

    # Each event knows its file.
    es.indices.refresh(index=alias)
    hits = es.search(index=alias, size=500, source=["eventID"], docvalue_fields=[LOG_FILE])
    files = {h["_source"]["eventID"]: h["fields"][LOG_FILE][0] for h in hits["hits"]["hits"]}
    assert files == trail.events


def test_the_sqs_worker_reaches_the_same_verdicts_in_any_order(  # noqa: PLR0917
    es, stateful_alias, aws, names, tmp_path, findings
):
    alias = stateful_alias
    s3, sqs = aws
    trail = tampered_trail(tmp_path, s3, names, seed=7)
    queue, _ = make_queue(sqs, names, visibility=30, max_receive_count=5)
    keys = [
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=names)
        for item in page.get("Contents", [])
    ]
    random.Random(11).shuffle(keys)  # noqa: S311  an order, not a secret
    for start in range(0, len(keys), 10):
        entries = [
            {"Id": str(n), "MessageBody": s3_event(names, key)}
            for n, key in enumerate(keys[start : start + 10])
        ]
        sqs.send_message_batch(QueueUrl=queue, Entries=entries)
    log = io.StringIO()
    options = WorkerOptions(
        queue_url=queue,
        wait_seconds=1,
        max_messages=20,
        load=IndexOptions(max_bytes=1024 * 1024),
        integrity=IntegrityOptions(public_keys=(trail.key_file,)),
    )
    stop = threading.Event()
    worker = threading.Thread(
        target=run_worker,
        args=(options,),
        kwargs={"client": es, "alias": alias, "stop": stop, "report": JsonLinesReport(log)},
    )
    worker.start()
    try:
        wait_until(lambda: queue_counts(sqs, queue) == (0, 0), timeout=300, what="the queue")
        wait_until(lambda: settled(es, alias, trail), timeout=30, what="every verdict")
    finally:
        stop.set()
        worker.join(timeout=60)
    assert verdicts(es, alias, "log") == trail.files
    assert verdicts(es, alias, "digest") == trail.digests
    assert [(g["gap_reason"], g["gap_after"]) for g in gaps(es, alias)] == [
        ("digest_missing", trail.gap_after)
    ]
    # In any order, a file may be found unlisted before its digest shows otherwise (a digest
    # held back in the queue); what is found at last is what counts, and every problem is.
    assert {(f.kind, f.file) for f in findings} >= _expected_findings(trail)
