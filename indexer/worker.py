"""``trailql index --sqs-queue-url``: load the trail files SQS messages announce, as they come.

A message is deleted only once every file it announces is loaded (every record acknowledged by
Elasticsearch and the file recorded in the state index), checked (a digest, with integrity
checking on), or holds no events (Insights, ``s3:TestEvent``). Otherwise it is left on the
queue to come back after ``retry_delay``; after ``max_receives`` receives the worker gives up
on it and says so, and the queue's redrive policy moves it to the dead-letter queue. A body
that is not a notification at all is treated the same way: the dead-letter queue keeps it for
someone to read, where deleting it would not.

Several workers may share a queue: SQS hands each message to one at a time, the heartbeat keeps
it so while it loads, and a message that comes back anyway (a worker killed mid-file) finds its
events already present (``create`` with the eventID as ``_id``) or its file already recorded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from botocore.exceptions import BotoCoreError, ClientError
from elasticsearch import Elasticsearch

from common.metrics import INDEXER_FILES, SQS_OLDEST_MESSAGE_AGE_SECONDS
from indexer.integrity import IntegrityOptions
from indexer.load import Kind, ObjectLoader, ready_loader
from indexer.notifications import Announcement, NotANotificationError, parse_message
from indexer.pipeline import IndexOptions
from indexer.report import Report
from indexer.sources import SourceError
from indexer.sqs import MAX_WAIT_SECONDS, Heartbeat, Queue, QueueSettings, Received, sqs_client

_BACKLOG_EVERY_SECONDS = 30.0

_Change = Callable[[Sequence[Received], int], None]


@dataclass(frozen=True)
class WorkerOptions:
    """How the worker uses its queue."""

    queue_url: str
    #: Receives of a failing message before the worker gives up on it (ApproximateReceiveCount).
    max_receives: int = 5
    #: Long-poll wait; also how long a stop request may wait for an idle receive to return.
    wait_seconds: int = MAX_WAIT_SECONDS
    #: How long a received message stays hidden, extended while it loads; None: the queue's.
    visibility_timeout: int | None = None
    #: How long a failed message stays hidden before it is tried again.
    retry_delay_seconds: int = 30
    #: Messages gathered (ten per receive) into one batch of loading.
    max_messages: int = 50
    load: IndexOptions = field(default_factory=IndexOptions)
    integrity: IntegrityOptions = field(default_factory=IntegrityOptions)


def run_worker(
    options: WorkerOptions,
    *,
    client: Elasticsearch,
    alias: str,
    stop: threading.Event,
    report: Report,
) -> None:
    """Work the queue until ``stop`` is set; the batch in hand is finished first.

    Raises:
        SourceError: the queue cannot be read at all (a wrong URL, no permission).
    """
    queue = Queue(sqs_client(options.queue_url), options.queue_url)
    loader = ready_loader(
        client, alias, stop=stop, report=report, options=options.load, integrity=options.integrity
    )
    if loader is None:
        return
    try:
        settings = queue.settings()
    except (ClientError, BotoCoreError) as exc:
        raise SourceError(f"{options.queue_url}: {exc}") from None
    visibility = options.visibility_timeout or settings.visibility_timeout
    _describe(options, settings, visibility, report)
    with Heartbeat(queue, timeout=visibility, report=report) as heartbeat:
        worker = _Worker(
            options,
            queue,
            loader=loader,
            report=report,
            visibility=visibility,
            heartbeat=heartbeat,
        )
        worker.run(stop)
    report.log("info", "worker stopped")


class _Worker:
    def __init__(
        self,
        options: WorkerOptions,
        queue: Queue,
        *,
        loader: ObjectLoader,
        report: Report,
        visibility: int,
        heartbeat: Heartbeat,
    ) -> None:
        self._options = options
        self._heartbeat = heartbeat
        self._queue = queue
        self._loader = loader
        self._report = report
        self._visibility = visibility
        self._backlog_checked = 0.0

    def run(self, stop: threading.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                batch = self._receive()
            except (ClientError, BotoCoreError) as exc:
                self._report.log("warning", "cannot receive from SQS; retrying", error=str(exc))
                self._options.load.backoff.wait(failures, stop)
                failures += 1
                continue
            failures = 0
            if not batch:
                continue
            self._heartbeat.hold(batch)
            try:
                self._handle(batch)
            finally:
                self._heartbeat.release(batch)
            self._update_backlog()

    def _receive(self) -> list[Received]:
        batch = self._queue.receive(
            wait_seconds=self._options.wait_seconds, visibility_timeout=self._visibility
        )
        while batch and len(batch) < self._options.max_messages:
            more = self._queue.receive(wait_seconds=0, visibility_timeout=self._visibility)
            if not more:
                break
            batch += more
        now = time.time()
        SQS_OLDEST_MESSAGE_AGE_SECONDS.set(max((now - m.sent_at for m in batch), default=0.0))
        return batch

    def _handle(self, batch: list[Received]) -> None:
        limit = self._options.max_receives
        self._set_aside([m for m in batch if m.receive_count > limit])
        fresh = [m for m in batch if m.receive_count <= limit]
        announced: dict[str, Announcement] = {}
        failures: dict[str, str] = {}
        for message in fresh:
            try:
                announced[message.message_id] = parse_message(message.body)
            except NotANotificationError as exc:
                failures[message.message_id] = f"not a notification: {exc}"
        outcomes = self._loader.load(
            [obj for announcement in announced.values() for obj in announcement.objects]
        )
        finished: list[Received] = []
        interrupted: list[Received] = []
        for message in fresh:
            announcement = announced.get(message.message_id)
            if announcement is None:
                continue
            for ignored in announcement.ignored:
                self._report.log("info", "ignored", what=ignored, message_id=message.message_id)
            results = [(obj.uri, outcomes[obj.uri]) for obj in announcement.objects]
            if any(result.kind is Kind.INTERRUPTED for _, result in results):
                interrupted.append(message)
            elif all(result.finished for _, result in results):
                finished.append(message)
            else:
                failures[message.message_id] = "; ".join(
                    f"{uri}: {result.reason}" for uri, result in results if not result.finished
                )
        self._delete(finished)
        for message in fresh:
            if message.message_id in failures:
                self._fail(message, failures[message.message_id])
        # Stopping while Elasticsearch is away: hand these to another worker now.
        self._quietly(self._queue.set_visibility, interrupted, 0)

    def _set_aside(self, given_up: list[Received]) -> None:
        """Messages already given up on: not tried again, left for the redrive policy."""
        for message in given_up:
            self._report.log(
                "info",
                "message left for the dead-letter queue",
                message_id=message.message_id,
                receives=message.receive_count,
            )
        self._quietly(self._queue.set_visibility, given_up, self._options.retry_delay_seconds)

    def _delete(self, messages: list[Received]) -> None:
        self._heartbeat.release(messages)
        try:
            refused = self._queue.delete(messages)
        except (ClientError, BotoCoreError) as exc:
            self._report.log(
                "warning", "cannot delete messages; they will come back", error=str(exc)
            )
            return
        for message_id in refused:
            self._report.log("warning", "SQS refused a delete", message_id=message_id)

    def _fail(self, message: Received, reason: str) -> None:
        fields = {
            "message_id": message.message_id,
            "receives": message.receive_count,
            "reason": reason,
        }
        if message.receive_count >= self._options.max_receives:
            INDEXER_FILES.labels(outcome="dead_letter").inc()
            self._report.log(
                "error",
                "giving up on a message; leaving it for the dead-letter queue",
                **fields,
            )
        else:
            self._report.log(
                "warning",
                "message failed; it will be tried again",
                retry_in=self._options.retry_delay_seconds,
                **fields,
            )
        self._quietly(self._queue.set_visibility, [message], self._options.retry_delay_seconds)

    def _quietly(self, change: _Change, messages: list[Received], seconds: int) -> None:
        """A visibility change that fails only delays a message; say so and go on."""
        if not messages:
            return
        self._heartbeat.release(messages)  # or it would extend them again
        try:
            change(messages, seconds)
        except (ClientError, BotoCoreError) as exc:
            self._report.log("warning", "cannot change message visibility", error=str(exc))

    def _update_backlog(self) -> None:
        now = time.monotonic()
        if now - self._backlog_checked < _BACKLOG_EVERY_SECONDS:
            return
        self._backlog_checked = now
        try:
            self._report.remaining(self._queue.backlog())
        except (ClientError, BotoCoreError):
            self._report.remaining(None)


def _describe(
    options: WorkerOptions, settings: QueueSettings, visibility: int, report: Report
) -> None:
    report.log(
        "info",
        "worker started",
        queue=options.queue_url,
        visibility_timeout=visibility,
        max_receives=options.max_receives,
        dead_letter_queue=settings.dead_letter_queue,
        queue_max_receive_count=settings.max_receive_count,
    )
    if settings.dead_letter_queue is None:
        report.log(
            "warning",
            "the queue has no dead-letter queue: a message that keeps failing comes back forever",
        )
    elif (
        settings.max_receive_count is not None and settings.max_receive_count < options.max_receives
    ):
        report.log(
            "info",
            "the queue's maxReceiveCount is below --max-receives: it moves failing messages first",
            queue_max_receive_count=settings.max_receive_count,
        )
