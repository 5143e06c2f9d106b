"""Elasticsearch stopped for 30 seconds in the middle of a load: the load completes, whole.

The worker holds its messages through the outage (the heartbeat keeps them hidden, so they
are not handed out again and never approach the dead-letter queue), waits for Elasticsearch,
and sends the unfinished files again when it answers.

Runs on a node of its own (port 9291), never the shared one: stopping that would break every
other test and everyone else using it.
"""

from __future__ import annotations

import io
import os
import threading
import time
from collections import Counter

import pytest

from common.elastic import Connection, sync_client
from common.indices import state_index
from indexer.pipeline import IndexOptions
from indexer.report import JsonLinesReport
from indexer.worker import WorkerOptions, run_worker
from tests.helpers import drop_alias
from tests.indexer.continuous import (
    all_ids,
    count,
    indexed_ids,
    json_lines,
    make_queue,
    queue_counts,
    s3_event,
    upload,
    wait_until,
)
from trailql import local_elasticsearch

OUTAGE_PORT = 9291
OUTAGE_SECONDS = 30
FILES = 60  # of the 100,000-event trail's 250: 24,000 events, as the node is started twice
STOP_AT = 8_000


@pytest.mark.skipif(
    bool(os.environ.get("ELASTICSEARCH_URL")),
    reason="needs a node of its own to stop; runs wherever the tests start the local node",
)
def test_a_load_survives_thirty_seconds_without_elasticsearch(aws, names, alias, trail_100k):
    s3, sqs = aws
    s3.create_bucket(Bucket=names)
    trail = trail_100k[:FILES]
    upload(s3, names, trail)
    queue, dlq = make_queue(sqs, names, visibility=10, max_receive_count=3)
    node = local_elasticsearch.up(port=OUTAGE_PORT, heap="512m")
    es = sync_client(
        Connection(url=node.url, username=node.username, password=node.password, request_timeout=10)
    )
    log = io.StringIO()
    stop = threading.Event()
    options = WorkerOptions(
        queue_url=queue,
        wait_seconds=1,
        max_messages=10,
        load=IndexOptions(max_bytes=1024 * 1024, max_backoff_seconds=4.0),
    )
    worker = threading.Thread(
        target=run_worker,
        args=(options,),
        kwargs={"client": es, "alias": alias, "stop": stop, "report": JsonLinesReport(log)},
    )
    try:
        worker.start()
        keys = [o.key for o in trail]
        for start in range(0, len(keys), 10):
            entries = [
                {"Id": str(n), "MessageBody": s3_event(names, key)}
                for n, key in enumerate(keys[start : start + 10])
            ]
            sqs.send_message_batch(QueueUrl=queue, Entries=entries)

        wait_until(lambda: count(es, alias) >= STOP_AT, timeout=120, what="the load to start")
        local_elasticsearch.down(port=OUTAGE_PORT)
        stopped_at = time.monotonic()
        wait_until(
            lambda: "Elasticsearch is unavailable" in log.getvalue(),
            timeout=60,
            what="the worker to notice",
        )
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - stopped_at)))
        local_elasticsearch.up(port=OUTAGE_PORT, heap="512m")

        wait_until(lambda: queue_counts(sqs, queue) == (0, 0), timeout=180, what="the load")
        stop.set()
        worker.join(timeout=60)
        assert not worker.is_alive()

        ids = indexed_ids(es, alias)
        expected = all_ids(trail)
        assert len(ids) == count(es, alias) == len(expected) == 24_000
        assert set(ids) == expected
    finally:
        stop.set()
        worker.join(timeout=60)
        try:
            drop_alias(es, alias)
            es.options(ignore_status=404).indices.delete(index=state_index(alias))
        finally:
            es.close()
            local_elasticsearch.down(port=OUTAGE_PORT)

    # Held through the outage: none handed out twice, none near the dead-letter queue.
    assert queue_counts(sqs, dlq) == (0, 0)
    lines = json_lines(log.getvalue())
    loaded = Counter(line["file"] for line in lines if line.get("outcome") == "loaded")
    assert loaded == Counter(f"s3://{names}/{key}" for key in keys)
    assert not [line for line in lines if line["level"] == "error"]
    messages = [line["message"] for line in lines]
    assert "Elasticsearch answers again; going on" in messages
