"""What an SQS message announces: the trail files to load, or why there are none.

New CloudTrail files reach a queue in two shapes, either of them possibly wrapped in an SNS
envelope (``{"Type": "Notification", "Message": "<the JSON as a string>"}``) when the queue is
subscribed to a topic without raw delivery:

- an S3 event notification, ``{"Records": [{"s3": {"bucket": {"name"}, "object": {"key"}}}]}``,
  whose keys are URL-encoded (a space arrives as ``+``);
- CloudTrail's own notification, ``{"s3Bucket": "...", "s3ObjectKey": ["...", ...]}``, whose
  keys are plain.

S3 also sends an ``s3:TestEvent`` when notifications are configured; it announces nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

import orjson


class NotANotificationError(ValueError):
    """The message body is not JSON, or is JSON in neither known shape."""


@dataclass(frozen=True, slots=True)
class S3Object:
    """One object to load; ``etag`` and ``size`` when the announcement or listing gave them."""

    bucket: str
    key: str
    etag: str | None = None
    size: int | None = None

    @property
    def uri(self) -> str:
        """How the object is named in logs and in the state index."""
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True, slots=True)
class Announcement:
    """The objects a message announces, and what it held besides (test events, deletions)."""

    objects: tuple[S3Object, ...]
    ignored: tuple[str, ...] = ()


def parse_message(body: str) -> Announcement:
    """Read one SQS message body; raises :class:`NotANotificationError` for anything else."""
    document = _json(body)
    if isinstance(document, dict) and document.get("Type") == "Notification":
        message = document.get("Message")
        if not isinstance(message, str):
            raise NotANotificationError("an SNS envelope without a Message string")
        document = _json(message)
    if not isinstance(document, dict):
        raise NotANotificationError("the message is JSON but not an object")
    if document.get("Event") == "s3:TestEvent":
        return Announcement((), ("s3:TestEvent",))
    if "s3Bucket" in document:
        return _cloudtrail_notification(document)
    if isinstance(document.get("Records"), list):
        return _s3_event(document["Records"])
    raise NotANotificationError(
        "neither an S3 event notification nor a CloudTrail notification"
        f" (keys: {', '.join(sorted(map(str, document))) or 'none'})"
    )


def normalise_etag(etag: str | None) -> str | None:
    """ETags without their quotes: listings quote them, event notifications do not."""
    return etag.strip('"') if etag else None


def _json(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise NotANotificationError(f"the message is not JSON: {exc}") from None


def _cloudtrail_notification(document: dict[str, Any]) -> Announcement:
    bucket, keys = document.get("s3Bucket"), document.get("s3ObjectKey")
    if isinstance(keys, str):
        keys = [keys]
    if not isinstance(bucket, str) or not isinstance(keys, list):
        raise NotANotificationError("a CloudTrail notification without s3Bucket or s3ObjectKey")
    if not all(isinstance(key, str) for key in keys):
        raise NotANotificationError("a CloudTrail notification with a key that is not a string")
    return Announcement(tuple(S3Object(bucket, key) for key in keys))


def _s3_event(records: list[Any]) -> Announcement:
    objects: list[S3Object] = []
    ignored: list[str] = []
    for record in records:
        try:
            name = str(record.get("eventName", "ObjectCreated:"))
            bucket = record["s3"]["bucket"]["name"]
            detail = record["s3"]["object"]
            key = unquote_plus(detail["key"])
        except (AttributeError, KeyError, TypeError):
            raise NotANotificationError(
                "an S3 event record without s3.bucket.name or key"
            ) from None
        if not name.startswith("ObjectCreated:"):
            ignored.append(f"{name} s3://{bucket}/{key}")
            continue
        size = detail.get("size")
        etag = normalise_etag(detail.get("eTag"))
        objects.append(S3Object(bucket, key, etag, size if isinstance(size, int) else None))
    return Announcement(tuple(objects), tuple(ignored))
