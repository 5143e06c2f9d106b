"""Helpers for the continuous-ingestion tests: trail files, moto buckets and queues, waiting.

Expected values come from the trail files themselves, read with the standard library.
"""

from __future__ import annotations

import gzip
import json
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

from elasticsearch import Elasticsearch
from elasticsearch.helpers import scan

from common.elastic import Connection

REGION = "us-east-1"


@dataclass(frozen=True)
class TrailObject:
    """One trail file to upload: its key, its bytes on disk, its eventIDs."""

    key: str
    path: Path
    event_ids: frozenset[str]


def event_ids_of(path: Path) -> frozenset[str]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return frozenset(record["eventID"] for record in json.load(handle)["Records"])


def repack(
    source: Path, out: Path, *, events: int, files: int, odd_names: int = 0
) -> list[TrailObject]:
    """The ``events`` records generated under ``source`` split evenly into ``files`` files.

    Busy accounts get files of hundreds of records; ``generate`` spreads a day thinly. The
    first ``odd_names`` files get keys with a space and a plus sign, as hand-uploaded files
    have, so that S3's URL-encoding of keys in event notifications is exercised.
    """
    size = -(-events // files)
    objects: list[TrailObject] = []
    chunk: list[dict[str, Any]] = []
    for path in sorted(source.rglob("*.json.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            chunk += json.load(handle)["Records"]
        while len(chunk) >= size:
            objects.append(_write_chunk(out, len(objects), chunk[:size], odd_names))
            chunk = chunk[size:]
    if chunk:
        objects.append(_write_chunk(out, len(objects), chunk, odd_names))
    assert len(objects) == files, len(objects)
    return objects


def _write_chunk(
    out: Path, number: int, chunk: list[dict[str, Any]], odd_names: int
) -> TrailObject:
    first = chunk[0]
    account, region = first["recipientAccountId"], first["awsRegion"]
    day = first["eventTime"][:10].replace("-", "/")
    if number < odd_names:
        key = f"manual uploads/back fill+{number}.json.gz"
    else:
        stamp = first["eventTime"][:16].replace("-", "").replace(":", "") + "Z"
        key = (
            f"AWSLogs/{account}/CloudTrail/{region}/{day}/"
            f"{account}_CloudTrail_{region}_{stamp}_{number:016d}.json.gz"
        )
    path = out / f"{number:04d}.json.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(json.dumps({"Records": chunk}).encode(), mtime=0))
    return TrailObject(key, path, frozenset(r["eventID"] for r in chunk))


def all_ids(objects: Iterable[TrailObject]) -> set[str]:
    return set().union(*(o.event_ids for o in objects))


def upload(s3: Any, bucket: str, objects: Sequence[TrailObject]) -> dict[str, str]:
    """Upload the files; their ETags by key, without quotes."""
    return {
        o.key: s3.put_object(Bucket=bucket, Key=o.key, Body=o.path.read_bytes())["ETag"].strip('"')
        for o in objects
    }


def make_queue(sqs: Any, name: str, *, visibility: int, max_receive_count: int) -> tuple[str, str]:
    """A queue with a dead-letter queue behind it; both URLs."""
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": max_receive_count})
    queue = sqs.create_queue(
        QueueName=name,
        Attributes={"VisibilityTimeout": str(visibility), "RedrivePolicy": policy},
    )["QueueUrl"]
    return queue, dlq


def s3_event(bucket: str, *keys: str, etags: dict[str, str] | None = None) -> str:
    """An S3 event notification body, keys URL-encoded as S3 sends them."""
    records = [
        {
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": REGION,
            "eventName": "ObjectCreated:Put",
            "s3": {
                "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                "object": {
                    "key": quote_plus(key, safe="/"),
                    **({"eTag": etags[key]} if etags and key in etags else {}),
                },
            },
        }
        for key in keys
    ]
    return json.dumps({"Records": records})


def cloudtrail_notification(bucket: str, *keys: str) -> str:
    """CloudTrail's own notification: plain keys."""
    return json.dumps({"s3Bucket": bucket, "s3ObjectKey": list(keys)})


def sns(message: str) -> str:
    """A message as SNS delivers it to a queue without raw message delivery."""
    return json.dumps(
        {
            "Type": "Notification",
            "MessageId": "b7f1a2c4-0000-4000-8000-000000000000",
            "TopicArn": f"arn:aws:sns:{REGION}:123456789012:trail-files",
            "Message": message,
            "Timestamp": "2025-03-01T00:00:00.000Z",
        }
    )


def queue_counts(sqs: Any, url: str) -> tuple[int, int]:
    """Visible and in-flight messages."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


def wait_until(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    """A guard against hanging, never a measurement: fails only when ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)


def indexed_ids(es: Elasticsearch, alias: str) -> list[str]:
    """Every _id behind the alias (a list: duplicates would show)."""
    es.indices.refresh(index=alias)
    hits = scan(es, index=alias, query={"query": {"match_all": {}}}, _source=False, size=5000)
    return [hit["_id"] for hit in hits]


def count(es: Elasticsearch, alias: str) -> int:
    """Documents searchable behind the alias; 0 before its first index exists or answers."""
    answer = es.options(ignore_status=(404, 503)).count(index=alias)
    return int(answer.get("count", 0))


def worker_environment(connection: Connection, alias: str, aws_endpoint: str) -> dict[str, str]:
    """What a ``python -m trailql`` subprocess needs to reach the test's Elasticsearch and moto."""
    env = {
        **os.environ,
        "ELASTICSEARCH_URL": connection.url,
        "TRAILQL_INDEX": alias,
        "AWS_ENDPOINT_URL_S3": aws_endpoint,
        "AWS_ENDPOINT_URL_SQS": aws_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "PYTHONUNBUFFERED": "1",
    }
    optional = {
        "ELASTICSEARCH_USERNAME": connection.username,
        "ELASTICSEARCH_PASSWORD": connection.password,
        "ELASTICSEARCH_API_KEY": connection.api_key,
        "ELASTICSEARCH_CA_CERTS": connection.ca_certs,
    }
    env.update({name: value for name, value in optional.items() if value})
    return env


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line of a JSON-lines log (each must be one object)."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def recorded_files(es: Elasticsearch, alias: str) -> int:
    """Log files the state index records as loaded (not the digests it records as checked)."""
    name = f"{alias}_state"
    if not es.indices.exists(index=name):
        return 0
    es.indices.refresh(index=name)
    query = {
        "bool": {
            "filter": [{"exists": {"field": "done_at"}}],
            "must_not": [{"term": {"kind": "digest"}}],
        }
    }
    return int(es.count(index=name, query=query)["count"])
