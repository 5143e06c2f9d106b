"""The queue side of the worker: receive, keep messages invisible while they load, delete.

SQS hands a message to one receiver at a time for the queue's visibility timeout; a file that
takes longer than that to load would be handed to a second worker meanwhile. The
:class:`Heartbeat` prevents it, extending the timeout of every message still being worked on
every third of the timeout.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Self

import boto3
import orjson
from botocore.exceptions import BotoCoreError, ClientError

from indexer.report import Report

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

#: SQS takes at most ten entries per batch call.
_BATCH = 10
#: SQS caps a long poll at 20 seconds.
MAX_WAIT_SECONDS = 20
_REGIONAL_HOST = re.compile(r"^https://sqs\.([a-z0-9-]+)\.amazonaws\.com")


@dataclass(frozen=True, slots=True)
class Received:
    """One message as received: what it says and how often it has been handed out."""

    message_id: str
    receipt_handle: str
    body: str
    receive_count: int
    sent_at: float  # seconds since the epoch


@dataclass(frozen=True, slots=True)
class QueueSettings:
    """The queue's own configuration, read once at start."""

    visibility_timeout: int
    max_receive_count: int | None  # from the redrive policy; None without a dead-letter queue
    dead_letter_queue: str | None


def sqs_client(queue_url: str) -> SQSClient:
    """A client for the queue's own region (from its URL when it names one)."""
    match = _REGIONAL_HOST.match(queue_url)
    session = boto3.session.Session()  # one per worker: sessions are not thread-safe
    return session.client("sqs", region_name=match[1] if match else None)


class Queue:
    """One SQS queue, by URL."""

    def __init__(self, client: SQSClient, url: str) -> None:
        self._client = client
        self.url = url

    def settings(self) -> QueueSettings:
        """The visibility timeout and redrive policy."""
        attributes = self._client.get_queue_attributes(
            QueueUrl=self.url, AttributeNames=["VisibilityTimeout", "RedrivePolicy"]
        )["Attributes"]
        policy = orjson.loads(attributes.get("RedrivePolicy") or "{}")
        max_receives = policy.get("maxReceiveCount")
        return QueueSettings(
            visibility_timeout=int(attributes.get("VisibilityTimeout", "30")),
            max_receive_count=int(max_receives) if max_receives is not None else None,
            dead_letter_queue=policy.get("deadLetterTargetArn"),
        )

    def receive(self, *, wait_seconds: int, visibility_timeout: int) -> list[Received]:
        """Up to ten messages, waiting up to ``wait_seconds`` for the first."""
        response = self._client.receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=_BATCH,
            WaitTimeSeconds=wait_seconds,
            VisibilityTimeout=visibility_timeout,
            MessageSystemAttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
        )
        received = []
        for message in response.get("Messages", []):
            attributes = message.get("Attributes", {})
            received.append(
                Received(
                    message_id=message["MessageId"],
                    receipt_handle=message["ReceiptHandle"],
                    body=message.get("Body", ""),
                    receive_count=int(attributes.get("ApproximateReceiveCount", "1")),
                    sent_at=int(attributes.get("SentTimestamp", "0")) / 1000 or time.time(),
                )
            )
        return received

    def delete(self, messages: Sequence[Received]) -> list[str]:
        """Delete messages; the IDs of any SQS refused to delete (they will come back)."""
        failed: list[str] = []
        for start in range(0, len(messages), _BATCH):
            chunk = messages[start : start + _BATCH]
            response = self._client.delete_message_batch(
                QueueUrl=self.url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": m.receipt_handle} for n, m in enumerate(chunk)
                ],
            )
            failed += [chunk[int(entry["Id"])].message_id for entry in response.get("Failed", [])]
        return failed

    def set_visibility(self, messages: Sequence[Received], seconds: int) -> None:
        """Keep messages hidden for ``seconds`` more from now (0: hand them out again now)."""
        for start in range(0, len(messages), _BATCH):
            chunk = messages[start : start + _BATCH]
            self._client.change_message_visibility_batch(
                QueueUrl=self.url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": m.receipt_handle, "VisibilityTimeout": seconds}
                    for n, m in enumerate(chunk)
                ],
            )

    def backlog(self) -> int:
        """Messages waiting (approximately, as SQS counts them)."""
        attributes = self._client.get_queue_attributes(
            QueueUrl=self.url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes.get("ApproximateNumberOfMessages", "0"))


class Heartbeat:
    """Extends the visibility of held messages until they are deleted or released."""

    def __init__(self, queue: Queue, *, timeout: int, report: Report) -> None:
        self._queue = queue
        self._timeout = timeout
        self._interval = max(1.0, timeout / 3)
        self._report = report
        self._held: dict[str, Received] = {}
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqs-heartbeat", daemon=True)

    def hold(self, messages: Iterable[Received]) -> None:
        """Keep these invisible from now on."""
        with self._lock:
            self._held.update((m.message_id, m) for m in messages)

    def release(self, messages: Iterable[Received]) -> None:
        """Stop extending these; once this returns, no extension of them is under way."""
        with self._lock:
            for message in messages:
                self._held.pop(message.message_id, None)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stopped.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stopped.wait(self._interval):
            # The lock is held through the call, so that a message released meanwhile (and
            # perhaps set to come back sooner) is not extended again behind the worker's back.
            with self._lock:
                held = list(self._held.values())
                if not held:
                    continue
                try:
                    self._queue.set_visibility(held, self._timeout)
                except (ClientError, BotoCoreError) as exc:
                    self._report.log("warning", "could not extend visibility", error=str(exc))
                    continue
            self._report.log("debug", "extended message visibility", messages=len(held))
