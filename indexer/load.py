"""Loading a batch of S3 objects so that a file is marked done only when it really is.

Both continuous sources (the SQS worker and ``--follow``) hand their objects here. For each:
skip what holds no events, skip what the state index already records, download (a few ahead,
in parallel), send every record through one :class:`~indexer.bulk.BulkWriter` tagged with its
file, wait for every acknowledgement, and only then record the file in the state index.

When Elasticsearch stops answering, the batch is not given up: the loader waits, backing off,
until it answers again and sends the unfinished files again. ``create`` with the eventID as
``_id`` makes the second sending of a record harmless (it answers "already present").
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import partial
from typing import IO, TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError
from elasticsearch import ApiError, Elasticsearch, TransportError

from indexer.availability import passing, wait_for_elasticsearch
from indexer.bulk import BulkResult, BulkWriter, ElasticsearchUnavailableError, Outcome
from indexer.documents import BadRecord, BrokenFile, Document, file_documents
from indexer.fetch import Prefetch, download
from indexer.notifications import S3Object
from indexer.report import Report
from indexer.sources import not_events_reason
from indexer.state import LoadedFile, StateIndex
from trailql.metrics import INDEXER_EVENTS, INDEXER_FILES

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_MAX_PROBLEMS_LOGGED = 10


class Kind(Enum):
    """What became of one object."""

    LOADED = "loaded"
    ALREADY_LOADED = "already loaded"
    SKIPPED = "skipped"
    FAILED = "failed"  # could not be read; worth trying again later
    INTERRUPTED = "interrupted"  # asked to stop while Elasticsearch was away


@dataclass(frozen=True, slots=True)
class ObjectOutcome:
    """One object's outcome; ``reason`` for skipped and failed ones."""

    kind: Kind
    reason: str | None = None

    @property
    def finished(self) -> bool:
        """Whether the announcement of this object may be forgotten."""
        return self.kind in {Kind.LOADED, Kind.ALREADY_LOADED, Kind.SKIPPED}


@dataclass(frozen=True)
class LoadOptions:
    """How hard to push; the defaults suit a small cluster."""

    max_bytes: int = 8 * 1024 * 1024
    concurrency: int = 2
    #: The writer's own retries are kept short: long outages are waited out here instead,
    #: where waiting holds no sending thread and can be interrupted.
    max_retries: int = 3
    downloads: int = 4
    first_backoff_seconds: float = 0.5
    max_backoff_seconds: float = 30.0


@dataclass
class _FileLoad:
    """One file's records on their way; complete when every one sent is accounted for."""

    object: S3Object
    etag: str | None
    size: int | None
    records: int = 0
    sent: int = 0
    indexed: int = 0
    already_present: int = 0
    rejected: int = 0
    deferred: int = 0
    problems: list[str] = field(default_factory=list)

    def done(self) -> LoadedFile:
        problem = "; ".join(self.problems[:_MAX_PROBLEMS_LOGGED]) or None
        return LoadedFile(
            self.object,
            self.etag,
            self.size,
            self.records,
            self.indexed,
            self.already_present,
            self.rejected,
            problem,
        )


class _UnavailableError(Exception):
    """Elasticsearch is away or overloaded; the batch waits for it."""


class ObjectLoader:
    """Loads batches of objects into the indices behind ``alias``; one per worker thread."""

    def __init__(
        self,
        *,
        client: Elasticsearch,
        s3: S3Client,
        alias: str,
        state: StateIndex,
        report: Report,
        stop: threading.Event,
        options: LoadOptions,
    ) -> None:
        self._client = client
        self._s3 = s3
        self._alias = alias
        self._state = state
        self._report = report
        self._stop = stop
        self._options = options

    def load(self, objects: Sequence[S3Object]) -> dict[str, ObjectOutcome]:
        """Each object's outcome by URI; returns early only when asked to stop during a wait."""
        outcomes: dict[str, ObjectOutcome] = {}
        todo: dict[str, S3Object] = {}
        for obj in objects:
            reason = _skip_reason(obj.key)
            if reason is not None and obj.uri not in outcomes:
                outcomes[obj.uri] = ObjectOutcome(Kind.SKIPPED, reason)
                INDEXER_FILES.labels(outcome="skipped").inc()
                self._report.file_done(obj.uri, outcome="skipped", events=0, reason=reason)
            elif reason is None:
                todo[obj.uri] = obj
        failures = 0
        while todo:
            try:
                self._attempt(list(todo.values()), outcomes)
            except _UnavailableError as exc:
                todo = {uri: obj for uri, obj in todo.items() if uri not in outcomes}
                self._report.log(
                    "warning",
                    "Elasticsearch is unavailable; waiting for it before going on",
                    error=str(exc),
                    files=len(todo),
                )
                if not self._wait_for_elasticsearch(failures):
                    outcomes.update(dict.fromkeys(todo, ObjectOutcome(Kind.INTERRUPTED)))
                    return outcomes
                failures += 1
            else:
                break
        return outcomes

    def _attempt(self, todo: list[S3Object], outcomes: dict[str, ObjectOutcome]) -> None:
        try:
            done_before = self._state.loaded(todo)
            for uri in done_before:
                outcomes[uri] = ObjectOutcome(Kind.ALREADY_LOADED)
                INDEXER_FILES.labels(outcome="already_loaded").inc()
                self._report.file_done(uri, outcome="already loaded", events=0)
            pending = [obj for obj in todo if obj.uri not in done_before]
            loads = self._send(pending, outcomes)
            complete = [load for load in loads if load.deferred == 0]
            self._state.record(load.done() for load in complete)
        except (ElasticsearchUnavailableError, TransportError) as exc:
            raise _UnavailableError(str(exc)) from exc
        except ApiError as exc:
            if not passing(exc):
                raise
            raise _UnavailableError(str(exc)) from exc
        for load in complete:
            outcomes[load.object.uri] = ObjectOutcome(Kind.LOADED)
            INDEXER_FILES.labels(outcome="read").inc()
            self._report_loaded(load)
        deferred = sum(load.deferred for load in loads)
        if deferred:
            raise _UnavailableError(f"Elasticsearch deferred {deferred} documents (overloaded)")

    def _send(self, pending: list[S3Object], outcomes: dict[str, ObjectOutcome]) -> list[_FileLoad]:
        """Every record of every readable object, acknowledged; failures go to ``outcomes``."""
        loads: list[_FileLoad] = []
        options = self._options
        with (
            Prefetch(partial(download, self._s3), pending, options.downloads) as downloads,
            BulkWriter[_FileLoad](
                self._client,
                _account,
                max_bytes=options.max_bytes,
                concurrency=options.concurrency,
                max_retries=options.max_retries,
            ) as writer,
        ):
            for obj, future in downloads:
                try:
                    fetched = future.result()
                except (ClientError, BotoCoreError, OSError) as exc:
                    outcomes[obj.uri] = ObjectOutcome(Kind.FAILED, f"cannot read: {exc}")
                    INDEXER_FILES.labels(outcome="failed").inc()
                    self._report.file_done(obj.uri, outcome="failed", events=0, error=str(exc))
                    continue
                load = _FileLoad(obj, fetched.etag, fetched.size)
                loads.append(load)
                with fetched.body as stream:
                    self._feed(stream, load, writer)
        return loads

    def _feed(self, stream: IO[bytes], load: _FileLoad, writer: BulkWriter[_FileLoad]) -> None:
        for item in file_documents(stream, load.object.uri, self._alias):
            if isinstance(item, Document):
                load.records += 1
                load.sent += 1
                writer.add(item.index, item.event_id, item.source, load)
            elif isinstance(item, BadRecord):
                load.records += 1
                load.rejected += 1
                load.problems.append(f"{item.where}: {item.reason}")
                INDEXER_EVENTS.labels(outcome="rejected").inc()
            elif isinstance(item, BrokenFile):
                load.problems.append(f"{load.object.uri}: {item.reason}")

    def _report_loaded(self, load: _FileLoad) -> None:
        for problem in load.problems[:_MAX_PROBLEMS_LOGGED]:
            self._report.log("error", "record not indexed", file=load.object.uri, problem=problem)
        self._report.file_done(
            load.object.uri,
            outcome="loaded",
            events=load.records,
            indexed=load.indexed,
            already_present=load.already_present,
            rejected=load.rejected,
        )

    def _wait_for_elasticsearch(self, failures: int) -> bool:
        """Wait until Elasticsearch answers; the first wait grows with ``failures`` in a row.

        An overloaded cluster answers at once, and must not be asked again at once.
        """
        first, longest = self._options.first_backoff_seconds, self._options.max_backoff_seconds
        return wait_for_elasticsearch(
            self._client,
            self._state,
            stop=self._stop,
            report=self._report,
            backoff=(min(longest, first * 2**failures), longest),
        )


def _account(result: BulkResult[_FileLoad]) -> None:
    load = result.action.tag
    if result.outcome is Outcome.INDEXED:
        load.indexed += 1
        INDEXER_EVENTS.labels(outcome="indexed").inc()
    elif result.outcome is Outcome.ALREADY_PRESENT:
        load.already_present += 1
        INDEXER_EVENTS.labels(outcome="already_present").inc()
    elif result.deferred:
        load.deferred += 1
    else:
        load.rejected += 1
        load.problems.append(f"event {result.action.doc_id}: {result.reason or 'rejected'}")
        INDEXER_EVENTS.labels(outcome="rejected").inc()


def _skip_reason(key: str) -> str | None:
    if key.endswith("/"):
        return "a folder marker, not a file"
    return not_events_reason(key)
