"""Detections in the continuous indexer: a finding follows its event, a redelivered file adds
none, and every new finding reaches a webhook (down for 30 s meanwhile) and an SNS topic."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import io
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from pydantic import SecretStr

from bench.api_server import free_port
from common.indices import state_index
from common.retry import Backoff
from detections import DetectionSettings, findings_index, load_rules
from detections.continuous import ContinuousDetector, configured
from indexer.follow import FollowOptions, follow
from indexer.pipeline import IndexOptions
from indexer.report import JsonLinesReport
from tests.indexer.continuous import wait_until

SECRET = "a-webhook-secret-of-some-length"  # noqa: S105  a test's own
ACCOUNT = "210987654321"


def _record(name: str, source: str, minute: int, params: dict[str, Any]) -> dict[str, Any]:
    return {
        "eventVersion": "1.09",
        "eventID": str(uuid.uuid4()),
        "eventTime": f"2026-11-02T10:{minute:02d}:00Z",
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.7",
        "userAgent": "aws-cli/2.17.0",
        "userIdentity": {
            "type": "IAMUser",
            "userName": "mallory",
            "arn": f"arn:aws:iam::{ACCOUNT}:user/mallory",
            "accountId": ACCOUNT,
        },
        "requestParameters": params,
        "recipientAccountId": ACCOUNT,
        "eventType": "AwsApiCall",
    }


ATTACK = [
    _record("DeleteLogGroup", "logs.amazonaws.com", 1, {"logGroupName": "/app/audit"}),
    _record("StopLogging", "cloudtrail.amazonaws.com", 2, {"name": "main"}),
    _record("DeleteMetricFilter", "logs.amazonaws.com", 3,
            {"logGroupName": "/app/audit", "filterName": "root"}),
    _record("DescribeLogGroups", "logs.amazonaws.com", 4, {}),  # raises nothing
]  # fmt: skip


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def aws_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for service in ("S3", "SQS", "SNS"):
        monkeypatch.setenv(f"AWS_ENDPOINT_URL_{service}", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


def _stored(es, alias: str) -> dict[str, dict[str, Any]]:
    name = findings_index(alias)
    if not es.indices.exists(index=name):
        return {}
    es.indices.refresh(index=name)
    hits = es.search(index=name, size=100)["hits"]["hits"]
    return {hit["_id"]: hit["_source"] for hit in hits}


def test_findings_follow_their_events_and_reach_a_webhook_down_for_30_s_and_sns(  # noqa: PLR0915
    es,
    alias,
    aws_env,  # noqa: ARG001  aws_env: boto3 pointed at moto
):
    session = boto3.session.Session()
    s3, sns, sqs = session.client("s3"), session.client("sns"), session.client("sqs")
    bucket = f"trail-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    topic = sns.create_topic(Name=f"findings-{uuid.uuid4().hex[:8]}")["TopicArn"]
    queue_url = sqs.create_queue(QueueName=f"findings-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)

    port = free_port()
    settings = DetectionSettings(
        webhook_url=f"http://127.0.0.1:{port}/hook",
        webhook_secret=SecretStr(SECRET),
        sns_topic_arn=topic,
    )
    setup = configured(es, alias, settings, load_rules([]))
    key = f"AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2026/11/02/a.json.gz"
    body = gzip.compress(json.dumps({"Records": ATTACK}).encode())
    s3.put_object(Bucket=bucket, Key=key, Body=body)

    log = io.StringIO()
    stop = threading.Event()
    backoff = Backoff(1.0, 8.0)  # 1, 2, 4, 8, 8, 8, 8: past the 30 s outage within 8 tries
    with ContinuousDetector(es, alias, setup, idle_seconds=1.0, delivery_backoff=backoff) as cd:
        options = FollowOptions(
            (f"s3://{bucket}/AWSLogs/",),
            poll_seconds=0.5,
            load=IndexOptions(on_indexed=cd.submit),
        )
        follower = threading.Thread(
            target=follow,
            args=(options,),
            kwargs={"client": es, "alias": alias, "stop": stop,
                    "report": JsonLinesReport(log)},
        )  # fmt: skip
        follower.start()
        try:
            down_since = time.monotonic()
            try:
                wait_until(lambda: len(_stored(es, alias)) == 3, timeout=20, what="three findings")
            except AssertionError:
                raise AssertionError(log.getvalue()) from None
            first = _stored(es, alias)
            assert {f["rule"]["name"] for f in first.values()} == {
                "logs_log_group_deleted", "cloudtrail_logging_stopped", "logs_metric_filter_deleted"
            }  # fmt: skip
            assert all(f["delivery"]["webhook"] == "pending" for f in first.values())
            # The webhook's receiver comes up only 30 s after the findings were made.
            time.sleep(max(0.0, 30 - (time.monotonic() - down_since)))
            _Receiver.received = []
            server = ThreadingHTTPServer(("127.0.0.1", port), _Receiver)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            try:
                wait_until(
                    lambda: all(
                        f["delivery"] == {"webhook": "delivered", "sns": "delivered"}
                        for f in _stored(es, alias).values()
                    ),
                    timeout=120,
                    what="every finding delivered",
                )
                # The same file delivered again (another key, the same events).
                rounds = cd.rounds
                s3.put_object(Bucket=bucket, Key=key.replace("a.json", "b.json"), Body=body)
                wait_until(lambda: cd.rounds >= rounds + 2, timeout=60, what="another round")
                wait_until(
                    lambda: es.count(index=state_index(alias))["count"] == 2,
                    timeout=60,
                    what="the second file recorded",
                )
                wait_until(lambda: cd.rounds >= rounds + 4, timeout=60, what="its evaluation")
            finally:
                server.shutdown()
                server.server_close()
        finally:
            stop.set()
            follower.join(timeout=60)
    again = _stored(es, alias)
    assert set(again) == set(first)
    assert [again[k]["createdAt"] for k in sorted(again)] == [
        first[k]["createdAt"] for k in sorted(first)
    ]
    received = {}
    for headers, content in _Receiver.received:
        expected = "sha256=" + hmac.new(SECRET.encode(), content, hashlib.sha256).hexdigest()
        assert headers["x-trailql-signature"] == expected
        finding = json.loads(content)
        assert headers["x-trailql-finding-id"] == finding["id"]
        received[finding["id"]] = finding
    assert set(received) == set(first)  # each once: nothing new after the redelivery
    assert len(_Receiver.received) == 3
    messages = []
    while True:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            break
        messages += batch
    published = [json.loads(json.loads(m["Body"])["Message"]) for m in messages]
    assert sorted(p["id"] for p in published) == sorted(first)
