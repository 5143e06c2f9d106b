"""Delivering each new finding, at least once, to a webhook and/or an SNS topic.

A new finding is stored marked ``pending`` for each configured channel; :func:`deliver_pending`
sends what is pending, retrying with backoff, and marks each delivered only once its receiver
took it. What is still pending after the retries (a receiver down for longer) stays so, and
is sent at the next round: nothing is lost, across restarts too, and a receiver may see a
finding twice, which it recognises by the finding's id (``X-TrailQL-Finding-Id``, and the
``id`` in the body). Delivery never holds up indexing: the continuous indexer runs it on a
thread of its own (:mod:`detections.continuous`).

Webhook: ``POST`` of the finding as JSON, with ``X-TrailQL-Signature: sha256=<hex>``, the
HMAC-SHA256 of the body under ``TRAILQL_WEBHOOK_SECRET``. SNS: ``Publish`` of the same JSON,
with the finding's id and severity as message attributes.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from elasticsearch import Elasticsearch

from common.metrics import NOTIFICATIONS
from common.retry import Backoff
from detections.findings import findings_index

logger = logging.getLogger("trailql.detections.notifications")

SIGNATURE_HEADER = "X-TrailQL-Signature"
FINDING_ID_HEADER = "X-TrailQL-Finding-Id"
#: Findings sent per round, oldest first.
_BATCH = 200


class Channel(Protocol):
    """Somewhere findings are sent."""

    @property
    def name(self) -> str:
        """The channel's name, as delivery marks and metrics say it."""

    def send(self, finding: dict[str, Any]) -> None:
        """Deliver one finding; raise if it was not taken."""


def signature(body: bytes, secret: str) -> str:
    """The signature header's value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def body_of(finding: dict[str, Any]) -> bytes:
    """What is sent: the finding without its delivery bookkeeping."""
    shown = {key: value for key, value in finding.items() if key != "delivery"}
    return orjson.dumps(shown, option=orjson.OPT_SORT_KEYS)


@dataclass(frozen=True)
class Webhook:
    """An HTTP(S) receiver."""

    url: str
    secret: str
    timeout: float = 10.0
    name: str = "webhook"

    def send(self, finding: dict[str, Any]) -> None:
        """POST the finding; any answer but 2xx is a failure."""
        body = body_of(finding)
        request = urllib.request.Request(  # noqa: S310  the URL is the operator's setting
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: signature(body, self.secret),
                FINDING_ID_HEADER: str(finding.get("id", "")),
                "User-Agent": "TrailQL-Detections",
            },
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
            if not 200 <= response.status < 300:  # noqa: PLR2004
                raise OSError(f"the webhook answered {response.status}")


@dataclass(frozen=True)
class SnsTopic:
    """An SNS topic, published to through boto3."""

    topic_arn: str
    client_factory: Callable[[], Any]
    name: str = "sns"

    def send(self, finding: dict[str, Any]) -> None:
        """Publish the finding."""
        self.client_factory().publish(
            TopicArn=self.topic_arn,
            Message=body_of(finding).decode(),
            Subject=f"TrailQL finding: {finding.get('rule', {}).get('title', '')}"[:100],
            MessageAttributes={
                "finding_id": {"DataType": "String", "StringValue": str(finding.get("id"))},
                "severity": {
                    "DataType": "String",
                    "StringValue": str(finding.get("rule", {}).get("severity", "")),
                },
            },
        )


def _pending(client: Elasticsearch, alias: str, channel: str) -> list[tuple[str, dict[str, Any]]]:
    response = client.options(ignore_status=404).search(
        index=findings_index(alias),
        query={"term": {f"delivery.{channel}": "pending"}},
        sort=[{"createdAt": "asc"}, {"id": "asc"}],
        size=_BATCH,
    )
    return [(hit["_id"], hit["_source"]) for hit in response.get("hits", {}).get("hits", [])]


def deliver_pending(
    client: Elasticsearch,
    alias: str,
    channels: list[Channel],
    *,
    backoff: Backoff | None = None,
    attempts: int = 8,
    stop: threading.Event | None = None,
) -> dict[str, int]:
    """Send every pending finding on every channel; how many each channel delivered.

    Each finding is tried ``attempts`` times with ``backoff`` between; one that still fails
    stays pending for the next round, and the channel's round ends there (its receiver is
    down: the next findings would fail the same way, and keep their order).
    """
    backoff = backoff or Backoff(1.0, 30.0)
    stop = stop or threading.Event()
    delivered: dict[str, int] = {}
    for channel in channels:
        delivered[channel.name] = 0
        receiving = True
        while receiving:
            pending = _pending(client, alias, channel.name)
            if not pending:
                break
            for document_id, finding in pending:
                receiving = _send_with_retries(channel, finding, backoff, attempts, stop)
                if not receiving:
                    break
                client.update(
                    index=findings_index(alias),
                    id=document_id,
                    doc={"delivery": {channel.name: "delivered"}},
                    refresh="wait_for",
                )
                delivered[channel.name] += 1
    return delivered


def _send_with_retries(
    channel: Channel,
    finding: dict[str, Any],
    backoff: Backoff,
    attempts: int,
    stop: threading.Event,
) -> bool:
    for attempt in range(attempts):
        try:
            channel.send(finding)
        except Exception as exc:  # noqa: BLE001  any failure of a receiver is retried
            NOTIFICATIONS.labels(channel=channel.name, outcome="failed").inc()
            logger.warning(
                "delivery failed; retrying",
                extra={"channel": channel.name, "finding": finding.get("id"), "error": str(exc)},
            )
            if attempt + 1 == attempts or stop.wait(backoff.delay(attempt)):
                return False
        else:
            NOTIFICATIONS.labels(channel=channel.name, outcome="delivered").inc()
            return True
    return False
