"""Detections as the settings describe them, and the evaluator the continuous indexer feeds.

:func:`configured` builds the detector and the notification channels from ``TRAILQL_…``.
:class:`ContinuousDetector` takes the eventTime span of each batch the indexer has had
acknowledged (:meth:`ContinuousDetector.submit` never blocks), and on a thread of its own
evaluates the rules over it, then delivers what is new. A failure is logged and counted; the
span is tried again at the next round. Indexing never waits for any of it.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Self

import boto3
from elasticsearch import Elasticsearch

from common.retry import Backoff
from detections.evaluation import Detector, Window
from detections.extensions import Trust
from detections.notifications import Channel, SnsTopic, Webhook, deliver_pending
from detections.rules import RulePack, load_rules
from detections.settings import DetectionSettings

logger = logging.getLogger("trailql.detections")


@dataclass(frozen=True)
class Configured:
    """A detector and where its findings go."""

    detector: Detector
    channels: list[Channel]


def trust_of(settings: DetectionSettings) -> Trust:
    """What the settings say is expected."""
    return Trust(
        accounts=settings.trusted_account_ids(),
        principals=settings.trusted_principal_names(),
        export_buckets=settings.export_bucket_names(),
        retention_floor_days=settings.retention_floor_days,
    )


def channels_of(settings: DetectionSettings) -> list[Channel]:
    """The notification channels configured."""
    channels: list[Channel] = []
    if settings.webhook_url:
        if settings.webhook_secret is None:
            raise ValueError("TRAILQL_WEBHOOK_URL needs TRAILQL_WEBHOOK_SECRET to sign with")
        secret = settings.webhook_secret.get_secret_value()
        channels.append(Webhook(settings.webhook_url, secret))
    if settings.sns_topic_arn:
        session = boto3.session.Session()
        channels.append(SnsTopic(settings.sns_topic_arn, lambda: session.client("sns")))
    return channels


def configured(
    client: Elasticsearch,
    alias: str,
    settings: DetectionSettings | None = None,
    pack: RulePack | None = None,
) -> Configured:
    """The detector and channels the settings ask for; ValueError or RuleError if they cannot."""
    settings = settings or DetectionSettings()
    pack = pack or load_rules([], rules_dir=settings.rules_dir)
    channels = channels_of(settings)
    detector = Detector(
        client,
        alias,
        pack,
        trust_of(settings),
        channels=tuple(channel.name for channel in channels),
    )
    return Configured(detector, channels)


class ContinuousDetector:
    """Evaluates each acknowledged batch's span on a thread of its own; use as a context."""

    def __init__(
        self,
        client: Elasticsearch,
        alias: str,
        setup: Configured,
        *,
        idle_seconds: float = 30.0,
        delivery_backoff: Backoff | None = None,
    ) -> None:
        self._client = client
        self._alias = alias
        self._setup = setup
        self._idle_seconds = idle_seconds
        self._backoff = delivery_backoff or Backoff(1.0, 30.0)
        self._lock = threading.Lock()
        self._pending: tuple[datetime, datetime] | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="detections", daemon=True)
        #: Rounds finished, for whoever waits for one (tests, the benchmark).
        self.rounds = 0

    def submit(self, first: datetime, last: datetime) -> None:
        """Evaluate events from ``first`` to ``last`` soon; never blocks, never raises."""
        with self._lock:
            if self._pending is None:
                self._pending = (first, last)
            else:
                self._pending = (min(first, self._pending[0]), max(last, self._pending[1]))
        self._wake.set()

    def _take(self) -> tuple[datetime, datetime] | None:
        with self._lock:
            span, self._pending = self._pending, None
            return span

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._idle_seconds)
            self._wake.clear()
            span = self._take()
            if span is not None:
                try:
                    # What was just acknowledged is searchable only once refreshed.
                    self._client.indices.refresh(index=self._alias, ignore_unavailable=True)
                    self._setup.detector.evaluate(Window.around(*span))
                except Exception:
                    logger.exception("evaluating the rules failed; trying again next round")
                    self.submit(*span)
                    self._stop.wait(self._backoff.delay(0))
            if self._setup.channels:
                try:
                    deliver_pending(
                        self._client,
                        self._alias,
                        self._setup.channels,
                        backoff=self._backoff,
                        stop=self._stop,
                    )
                except Exception:
                    logger.exception("delivering findings failed; trying again next round")
            self.rounds += 1

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=60)
