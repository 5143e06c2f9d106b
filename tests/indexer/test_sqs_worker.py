"""The SQS worker on moto's SQS and S3 over HTTP, and the real Elasticsearch.

Three workers drain one queue announcing 40 files in both announcement shapes, duplicates and
poison messages among them; every event ends up indexed exactly once.

Poison messages, as the worker handles them (documented in the README):
- ``s3:TestEvent`` and Insights objects: deleted, logged at info, never an error; a digest
  object is checked (integrity), recorded, and its message deleted;
- a missing object: not deleted, retried; at ``max_receives`` the worker gives up and says so,
  and the queue's redrive policy moves it to the dead-letter queue;
- a body that is not JSON: the same, so that the dead-letter queue keeps it for a person.
"""

from __future__ import annotations

import io
import random
import threading
import time
from typing import Any

import pytest

from common.indices import state_index
from common.metrics import INDEXER_EVENTS, INDEXER_FILES, SQS_OLDEST_MESSAGE_AGE_SECONDS
from indexer import worker as worker_module
from indexer.notifications import S3Object
from indexer.pipeline import IndexOptions
from indexer.report import JsonLinesReport
from indexer.sqs import Heartbeat, Queue
from indexer.state import state_document_id
from indexer.worker import WorkerOptions, run_worker
from tests.indexer.continuous import (
    all_ids,
    cloudtrail_notification,
    count,
    indexed_ids,
    json_lines,
    make_queue,
    queue_counts,
    s3_event,
    sns,
    upload,
    wait_until,
)

DIGEST = "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2025/03/01/digest.json.gz"
INSIGHT = "AWSLogs/111122223333/CloudTrail-Insight/us-east-1/2025/03/01/insight.json.gz"
MISSING = "AWSLogs/111122223333/CloudTrail/us-east-1/2025/03/01/never-uploaded.json.gz"
GARBAGE = "this is not JSON {"


def _value(metric: Any, **labels: str) -> float:
    return float(metric.labels(**labels)._value.get())


class _Worker:
    """One worker thread with a log of its own."""

    def __init__(self, options: WorkerOptions, es, alias: str, stop: threading.Event) -> None:
        self.log = io.StringIO()
        report = JsonLinesReport(self.log, debug=True)
        self.thread = threading.Thread(
            target=run_worker,
            args=(options,),
            kwargs={"client": es, "alias": alias, "stop": stop, "report": report},
        )

    def lines(self) -> list[dict[str, Any]]:
        return json_lines(self.log.getvalue())


def _start_workers(es, alias, options, number: int) -> tuple[list[_Worker], threading.Event]:
    stop = threading.Event()
    workers = [_Worker(options, es, alias, stop) for _ in range(number)]
    for worker in workers:
        worker.thread.start()
    wait_until(
        lambda: all(
            any(line["message"] == "worker started" for line in w.lines()) for w in workers
        ),
        timeout=60,
        what="the workers to start",
    )
    return workers, stop


def _stop_workers(workers: list[_Worker], stop: threading.Event) -> None:
    stop.set()
    for worker in workers:
        worker.thread.join(timeout=60)
        assert not worker.thread.is_alive()


def _messages(bucket: str, keys: list[str], etags: dict[str, str]) -> list[str]:
    """The 40 files announced in every shape, three of them twice, and the poison."""
    bodies = [s3_event(bucket, key, etags=etags) for key in keys[0:10]]
    bodies += [s3_event(bucket, *keys[n : n + 2]) for n in range(10, 14, 2)]
    bodies += [sns(s3_event(bucket, *keys[n : n + 2])) for n in range(14, 20, 2)]
    bodies += [sns(cloudtrail_notification(bucket, key)) for key in keys[20:30]]
    bodies += [cloudtrail_notification(bucket, *keys[n : n + 5]) for n in (30, 35)]
    bodies += [cloudtrail_notification(bucket, keys[3]), s3_event(bucket, keys[25], keys[31])]
    bodies += [
        '{"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "%s"}' % bucket,
        s3_event(bucket, DIGEST),
        sns(cloudtrail_notification(bucket, INSIGHT)),
    ]
    random.Random(40).shuffle(bodies)  # noqa: S311  an order, not a secret
    return bodies


def test_three_workers_index_every_event_once_and_poison_ends_in_the_dead_letter_queue(
    es, stateful_alias, aws, names, trail_40
):
    alias = stateful_alias
    s3, sqs = aws
    s3.create_bucket(Bucket=names)
    etags = upload(s3, names, trail_40)
    s3.put_object(Bucket=names, Key=DIGEST, Body=b'{"digestPublicKeyFingerprint": "x"}')
    s3.put_object(Bucket=names, Key=INSIGHT, Body=b'{"Records": []}')
    queue, dlq = make_queue(sqs, names, visibility=4, max_receive_count=3)
    options = WorkerOptions(
        queue_url=queue,
        max_receives=2,
        wait_seconds=1,
        retry_delay_seconds=1,
        max_messages=10,
        load=IndexOptions(max_bytes=64 * 1024),
    )
    indexed_before = _value(INDEXER_EVENTS, outcome="indexed")
    dead_before = _value(INDEXER_FILES, outcome="dead_letter")

    workers, stop = _start_workers(es, alias, options, 3)
    try:
        poison = {
            sqs.send_message(QueueUrl=queue, MessageBody=body)["MessageId"]: body
            for body in (GARBAGE, s3_event(names, MISSING))
        }
        for body in _messages(names, [o.key for o in trail_40], etags):
            sqs.send_message(QueueUrl=queue, MessageBody=body)
        wait_until(
            lambda: queue_counts(sqs, queue) == (0, 0) and queue_counts(sqs, dlq)[0] == 2,
            timeout=120,
            what="the queue to drain and the poison to reach the dead-letter queue",
        )
    finally:
        _stop_workers(workers, stop)

    # Every event exactly once.
    expected = all_ids(trail_40)
    ids = indexed_ids(es, alias)
    assert len(expected) == 4_000
    assert len(ids) == count(es, alias) == 4_000
    assert set(ids) == expected
    assert _value(INDEXER_EVENTS, outcome="indexed") - indexed_before == 4_000

    # The poison, and only the poison, in the dead-letter queue.
    dead = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    assert {m["Body"] for m in dead["Messages"]} == set(poison.values())

    lines = [line for worker in workers for line in worker.lines()]
    given_up = [line for line in lines if line["message"].startswith("giving up on a message")]
    assert sorted(line["message_id"] for line in given_up) == sorted(poison)
    assert all(line["level"] == "error" and line["receives"] == 2 for line in given_up)
    assert _value(INDEXER_FILES, outcome="dead_letter") - dead_before == 2
    reasons = {line["message_id"]: line["reason"] for line in given_up}
    assert any("not a notification" in reason for reason in reasons.values())
    assert any(f"s3://{names}/{MISSING}: cannot read" in reason for reason in reasons.values())

    # Test event, digest and Insights: dealt with quietly.
    assert any(line["message"] == "ignored" and line["what"] == "s3:TestEvent" for line in lines)
    skipped = {line["file"] for line in lines if line.get("outcome") == "skipped"}
    assert skipped == {f"s3://{names}/{INSIGHT}"}
    # A digest is checked (this one is no digest at all), recorded, and its message deleted.
    checked = {
        line["file"]: line["integrity"] for line in lines if line.get("outcome") == "checked"
    }
    assert checked == {f"s3://{names}/{DIGEST}": "unreadable"}
    errors = [line for line in lines if line["level"] == "error"]
    assert all(MISSING in str(line) or line in given_up for line in errors)

    # The work was shared, and each file was recorded once it was loaded.
    loaded = [
        {line["file"] for line in worker.lines() if line.get("outcome") == "loaded"}
        for worker in workers
    ]
    assert set().union(*loaded) == {f"s3://{names}/{o.key}" for o in trail_40}
    assert sum(1 for files in loaded if files) >= 2, loaded
    state = es.search(index=state_index(alias), size=100)["hits"]["hits"]
    state = [hit for hit in state if hit["_source"].get("kind") != "digest"]
    assert {hit["_source"]["key"]: hit["_source"]["etag"] for hit in state} == etags
    assert {hit["_source"]["records"] for hit in state} == {100}


def test_a_message_delivered_again_finds_its_events_already_present(
    es, stateful_alias, aws, names, trail_40
):
    """Re-delivery is harmless: ``create`` with the eventID as _id refuses a second copy."""
    alias = stateful_alias
    s3, sqs = aws
    s3.create_bucket(Bucket=names)
    trail_file = trail_40[5]
    upload(s3, names, [trail_file])
    queue, _ = make_queue(sqs, names, visibility=4, max_receive_count=3)
    options = WorkerOptions(queue_url=queue, wait_seconds=1)
    body = cloudtrail_notification(names, trail_file.key)
    uri = f"s3://{names}/{trail_file.key}"

    workers, stop = _start_workers(es, alias, options, 1)
    try:

        def deliver_and_wait() -> dict[str, Any]:
            sqs.send_message(QueueUrl=queue, MessageBody=body)
            wait_until(lambda: queue_counts(sqs, queue) == (0, 0), timeout=60, what="the load")
            mine = [line for line in workers[0].lines() if line.get("file") == uri]
            return mine[-1]

        first = deliver_and_wait()
        # As if a worker died after Elasticsearch acknowledged the events but before the file
        # was recorded: the state is gone, the events are not.
        state_id = state_document_id(S3Object(names, trail_file.key))
        es.delete(index=state_index(alias), id=state_id, refresh=True)
        second = deliver_and_wait()
        third = deliver_and_wait()
    finally:
        _stop_workers(workers, stop)

    assert (first["outcome"], first["indexed"], first["already_present"]) == ("loaded", 100, 0)
    assert (second["outcome"], second["indexed"], second["already_present"]) == ("loaded", 0, 100)
    assert third["outcome"] == "already loaded"
    assert set(indexed_ids(es, alias)) == trail_file.event_ids
    assert count(es, alias) == 100


def test_a_held_message_stays_hidden_until_released(aws, names):
    """The heartbeat keeps a message hidden for several times its visibility timeout."""
    _, sqs = aws
    url, _ = make_queue(sqs, names, visibility=3, max_receive_count=5)
    sqs.send_message(QueueUrl=url, MessageBody="x")
    queue = Queue(sqs, url)
    [message] = queue.receive(wait_seconds=1, visibility_timeout=3)
    report = JsonLinesReport(io.StringIO())
    with Heartbeat(queue, timeout=3, report=report) as heartbeat:
        heartbeat.hold([message])
        seen_while_held = [queue.receive(wait_seconds=1, visibility_timeout=3) for _ in range(7)]
        heartbeat.release([message])
    assert seen_while_held == [[]] * 7  # seven seconds: more than twice the timeout
    queue.set_visibility([message], 0)
    [again] = queue.receive(wait_seconds=1, visibility_timeout=3)
    assert (again.message_id, again.receive_count) == (message.message_id, 2)


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (["index", "--sqs-queue-url", "http://q", "./AWSLogs"], "takes no SOURCE"),
        (["index", "--follow", "./AWSLogs"], "s3://bucket/prefix SOURCEs"),
        (["index", "--follow", "s3://b/p", "--chunk-files", "0"], "--chunk-files must be at"),
        (["index"], "name at least one SOURCE"),
        (["index", "x", "--metrics-port", "9000"], "--metrics-port is for the continuous"),
        (["index", "--sqs-queue-url", "http://q", "--wait-seconds", "30"], "0 to 20"),
    ],
)
def test_options_that_do_not_go_together_are_refused(arguments, says, capsys):
    from trailql.cli import EXIT_ERROR, main  # noqa: PLC0415

    assert main(arguments) == EXIT_ERROR
    assert says in capsys.readouterr().err


def test_the_oldest_message_age_is_measured_from_sent_timestamp(aws, names):
    _, sqs = aws
    url, _ = make_queue(sqs, names, visibility=3, max_receive_count=5)
    queue = Queue(sqs, url)
    worker = worker_module._Worker(
        WorkerOptions(queue_url=url, wait_seconds=1, max_messages=10),
        queue,
        loader=None,  # type: ignore[arg-type]  # receiving needs none
        report=JsonLinesReport(io.StringIO()),
        visibility=3,
        heartbeat=Heartbeat(queue, timeout=3, report=JsonLinesReport(io.StringIO())),
    )
    for body in ("first", "second"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    time.sleep(1.0)  # so the age is at least a second; not a measurement
    before = time.time()
    batch = worker._receive()
    after = time.time()
    oldest = min(message.sent_at for message in batch)
    age = SQS_OLDEST_MESSAGE_AGE_SECONDS._value.get()
    assert {message.body for message in batch} == {"first", "second"}
    assert 1.0 <= before - oldest <= age <= after - oldest
    queue.delete(batch)
    assert worker._receive() == []
    assert SQS_OLDEST_MESSAGE_AGE_SECONDS._value.get() == 0
