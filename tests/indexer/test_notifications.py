"""Reading SQS message bodies: both announcement shapes, SNS envelopes, and what is not one."""

from __future__ import annotations

import json

import pytest

from indexer.notifications import (
    Announcement,
    NotANotificationError,
    S3Object,
    parse_message,
)
from tests.indexer.continuous import cloudtrail_notification, s3_event, sns

BUCKET = "trail-bucket"
KEY = "AWSLogs/111122223333/CloudTrail/us-east-1/2025/03/01/111122223333_CloudTrail_x.json.gz"


def test_an_s3_event_names_its_objects_with_the_keys_decoded():
    odd = "manual uploads/back fill+1 = 100%.json.gz"
    body = s3_event(BUCKET, KEY, odd, etags={KEY: "0123abcd"})
    assert '"manual+uploads/back+fill%2B1+%3D+100%25.json.gz"' in body  # as S3 encodes it
    assert parse_message(body) == Announcement(
        (S3Object(BUCKET, KEY, "0123abcd"), S3Object(BUCKET, odd))
    )


def test_an_s3_event_through_sns_is_unwrapped():
    assert parse_message(sns(s3_event(BUCKET, KEY))).objects == (S3Object(BUCKET, KEY),)


def test_a_cloudtrail_notification_names_every_key_as_is():
    keys = [KEY, "AWSLogs/o-abc/111122223333/CloudTrail/eu-west-1/2025/03/01/a+b.json.gz"]
    expected = tuple(S3Object(BUCKET, key) for key in keys)
    assert parse_message(cloudtrail_notification(BUCKET, *keys)).objects == expected
    assert parse_message(sns(cloudtrail_notification(BUCKET, *keys))).objects == expected


def test_a_test_event_and_deletions_announce_nothing():
    test_event = json.dumps(
        {"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2025-03-01T00:00:00.000Z"}
    )
    assert parse_message(test_event) == Announcement((), ("s3:TestEvent",))
    removed = json.loads(s3_event(BUCKET, KEY))
    removed["Records"][0]["eventName"] = "ObjectRemoved:Delete"
    assert parse_message(json.dumps(removed)) == Announcement(
        (), (f"ObjectRemoved:Delete s3://{BUCKET}/{KEY}",)
    )


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("this is not JSON {", "not JSON"),
        ("[1, 2]", "not an object"),
        ('{"hello": "world"}', "neither an S3 event notification nor a CloudTrail"),
        ('{"Type": "Notification", "Message": 5}', "SNS envelope without a Message"),
        ('{"Records": [{"s3": {}}]}', "without s3.bucket.name or key"),
        ('{"s3Bucket": "b"}', "without s3Bucket or s3ObjectKey"),
    ],
)
def test_anything_else_is_refused_with_a_reason(body, says):
    with pytest.raises(NotANotificationError, match=says):
        parse_message(body)
