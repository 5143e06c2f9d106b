"""Loading a batch of S3 objects so that a file is marked done only when it really is.

Both continuous sources (the SQS worker and ``--follow``) hand their objects here. For each:
skip what holds no events, skip what the state index already records, download (a few ahead,
in parallel), send every record through one :class:`~indexer.bulk.BulkWriter` tagged with its
file, wait for every acknowledgement, and only then record the file in the state index.

With integrity checking on (the default), each file's bytes are hashed as they are read and
the hash recorded with it, and digest files, instead of being skipped, are checked by
:class:`~indexer.integrity.IntegrityTracker` once the batch's log files are in.

When Elasticsearch stops answering, the batch is not given up: the loader waits, backing off,
until it answers again and sends the unfinished files again. ``create`` with the eventID as
``_id`` makes the second sending of a record harmless (it answers "already present").
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from enum import Enum
from functools import partial
from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from elasticsearch import ApiError, Elasticsearch, TransportError

from common.metrics import INDEXER_FILES
from common.retry import Backoff, transient
from indexer.availability import prepare_indices, wait_for_elasticsearch
from indexer.bulk import ElasticsearchUnavailableError
from indexer.fetch import Prefetch, download
from indexer.integrity import IntegrityOptions, IntegrityTracker, is_digest
from indexer.notifications import S3Object
from indexer.pipeline import CONTINUOUS_RETRIES, FileTally, IndexOptions, Pipeline
from indexer.report import Report
from indexer.sources import not_events_reason
from indexer.state import LoadedFile, StateIndex, Versions

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


@dataclass
class _FileLoad:
    """One object's tally, and what S3 said of the bytes read."""

    object: S3Object
    etag: str | None
    size: int | None
    tally: FileTally
    #: Hex SHA-256 of its uncompressed bytes, when integrity is checked.
    sha256: str | None = None

    @property
    def problems(self) -> list[str]:
        """What was not indexed, records first, then the file's own damage."""
        tally = self.tally
        broken = [] if tally.broken is None else [tally.broken]
        return [str(problem) for problem in [*tally.not_indexed, *broken]]

    def done(self) -> LoadedFile:
        problem = "; ".join(self.problems[:_MAX_PROBLEMS_LOGGED]) or None
        tally = self.tally
        return LoadedFile(
            self.object,
            self.etag,
            self.size,
            tally.records,
            tally.indexed,
            tally.already_present,
            len(tally.not_indexed),
            problem,
        )


class _UnavailableError(Exception):
    """Elasticsearch is away or overloaded; the batch waits for it."""


def ready_loader(
    client: Elasticsearch,
    alias: str,
    *,
    stop: threading.Event,
    report: Report,
    options: IndexOptions,
    integrity: IntegrityOptions | None = None,
) -> ObjectLoader | None:
    """A loader for a continuous mode, once the indices it writes to are in place.

    Installs the events template and creates the state index, waiting for Elasticsearch
    (containers start in any order); None when asked to stop before it answers.

    Raises:
        integrity.PublicKeyError: a public key file cannot be read.
    """
    checks = integrity or IntegrityOptions()
    keys = checks.key_source() if checks.enabled else None
    state = StateIndex(client, alias)
    prepared = prepare_indices(
        client,
        alias,
        state,
        stop=stop,
        report=report,
        backoff=options.backoff,
        layout=options.layout,
    )
    if not prepared:
        return None
    s3 = boto3.session.Session().client("s3")
    return ObjectLoader(
        client=client,
        s3=s3,
        alias=alias,
        state=state,
        report=report,
        stop=stop,
        options=options,
        integrity=None if keys is None else IntegrityTracker(state, s3, keys, report),
    )


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
        options: IndexOptions,
        integrity: IntegrityTracker | None = None,
    ) -> None:
        self._client = client
        self._s3 = s3
        self._alias = alias
        self._state = state
        self._report = report
        self._stop = stop
        self._options = options
        self._integrity = integrity

    def load(
        self, objects: Sequence[S3Object], known: AbstractSet[str] | None = None
    ) -> dict[str, ObjectOutcome]:
        """Each object's outcome by URI; returns early only when asked to stop during a wait.

        ``known``: every URI in the bucket, when the caller has just listed it (a digest's
        files are then known to exist or not without asking S3 about each).
        """
        outcomes: dict[str, ObjectOutcome] = {}
        todo: dict[str, S3Object] = {}
        digests: dict[str, S3Object] = {}
        for obj in objects:
            if self._integrity is not None and is_digest(obj) and not obj.key.endswith("/"):
                digests[obj.uri] = obj
                continue
            reason = _skip_reason(obj.key)
            if reason is not None and obj.uri not in outcomes:
                outcomes[obj.uri] = ObjectOutcome(Kind.SKIPPED, reason)
                INDEXER_FILES.labels(outcome="skipped").inc()
                self._report.file_done(obj.uri, outcome="skipped", events=0, reason=reason)
            elif reason is None:
                todo[obj.uri] = obj
        failures = 0
        while todo or digests:
            try:
                if todo:
                    self._attempt(list(todo.values()), outcomes)
                    todo = {}
                if digests:
                    self._check_digests(list(digests.values()), outcomes, known)
                    digests = {}
            except _UnavailableError as exc:
                todo = {uri: obj for uri, obj in todo.items() if uri not in outcomes}
                digests = {uri: obj for uri, obj in digests.items() if uri not in outcomes}
                self._report.log(
                    "warning",
                    "Elasticsearch is unavailable; waiting for it before going on",
                    error=str(exc),
                    files=len(todo) + len(digests),
                )
                if not self._wait_for_elasticsearch(failures):
                    pending = [*todo, *digests]
                    outcomes.update(dict.fromkeys(pending, ObjectOutcome(Kind.INTERRUPTED)))
                    return outcomes
                failures += 1
        return outcomes

    def _check_digests(
        self,
        digests: list[S3Object],
        outcomes: dict[str, ObjectOutcome],
        known: AbstractSet[str] | None,
    ) -> None:
        """Digests checked by the integrity hook; recorded done (or failed, to try again)."""
        assert self._integrity is not None  # only called with integrity checked
        try:
            done_before = self._state.loaded(digests)
            pending = [obj for obj in digests if obj.uri not in done_before]
            checked = self._integrity.digests(pending, known)
        except ElasticsearchUnavailableError as exc:
            raise _UnavailableError(str(exc)) from exc
        except (ApiError, TransportError) as exc:
            if not transient(exc):
                raise
            raise _UnavailableError(str(exc)) from exc
        for uri in done_before:
            outcomes[uri] = ObjectOutcome(Kind.ALREADY_LOADED)
            INDEXER_FILES.labels(outcome="already_loaded").inc()
            self._report.file_done(uri, outcome="already loaded", events=0)
        for obj in pending:
            result = checked[obj.uri]
            if result.failed is not None:
                outcomes[obj.uri] = ObjectOutcome(Kind.FAILED, result.failed)
                INDEXER_FILES.labels(outcome="failed").inc()
                self._report.file_done(obj.uri, outcome="failed", events=0, error=result.failed)
            else:
                outcomes[obj.uri] = ObjectOutcome(Kind.LOADED)
                INDEXER_FILES.labels(outcome="read").inc()
                verdict = result.verdict.value if result.verdict else None
                self._report.file_done(obj.uri, outcome="checked", events=0, integrity=verdict)

    def _attempt(self, todo: list[S3Object], outcomes: dict[str, ObjectOutcome]) -> None:
        versions: Versions | None = {} if self._integrity is not None else None
        try:
            done_before = self._state.loaded(todo, versions)
            for uri in done_before:
                outcomes[uri] = ObjectOutcome(Kind.ALREADY_LOADED)
                INDEXER_FILES.labels(outcome="already_loaded").inc()
                self._report.file_done(uri, outcome="already loaded", events=0)
            pending = [obj for obj in todo if obj.uri not in done_before]
            loads = self._send(pending, outcomes)
            complete = [load for load in loads if not load.tally.deferred]
            if self._integrity is None:
                self._state.record(load.done() for load in complete)
            else:
                fields = self._integrity.log_fields(
                    [(load.object, load.sha256) for load in complete]
                )
                changes = self._state.record((load.done() for load in complete), fields, versions)
                self._integrity.changed(changes)
        except ElasticsearchUnavailableError as exc:
            raise _UnavailableError(str(exc)) from exc
        except (ApiError, TransportError) as exc:
            if not transient(exc):
                raise
            raise _UnavailableError(str(exc)) from exc
        for load in complete:
            outcomes[load.object.uri] = ObjectOutcome(Kind.LOADED)
            INDEXER_FILES.labels(outcome="read").inc()
            self._report_loaded(load)
        self._indexed(complete)
        deferred = sum(len(load.tally.deferred) for load in loads)
        if deferred:
            raise _UnavailableError(f"Elasticsearch deferred {deferred} documents (overloaded)")

    def _send(self, pending: list[S3Object], outcomes: dict[str, ObjectOutcome]) -> list[_FileLoad]:
        """Every record of every readable object, acknowledged; failures go to ``outcomes``."""
        loads: list[_FileLoad] = []
        options = self._options
        with (
            Prefetch(partial(download, self._s3), pending, options.downloads) as downloads,
            Pipeline(
                self._client, self._alias, options, default_retries=CONTINUOUS_RETRIES
            ) as pipeline,
        ):
            for obj, future in downloads:
                try:
                    fetched = future.result()
                except (ClientError, BotoCoreError, OSError) as exc:
                    outcomes[obj.uri] = ObjectOutcome(Kind.FAILED, f"cannot read: {exc}")
                    INDEXER_FILES.labels(outcome="failed").inc()
                    self._report.file_done(obj.uri, outcome="failed", events=0, error=str(exc))
                    continue
                load = _FileLoad(obj, fetched.etag, fetched.size, FileTally(obj.uri))
                loads.append(load)
                content_hash = hashlib.sha256() if self._integrity is not None else None
                with fetched.body as stream:
                    pipeline.feed(stream, load.tally, content_hash)
                if content_hash is not None:
                    load.sha256 = content_hash.hexdigest()
        return loads

    def _indexed(self, complete: list[_FileLoad]) -> None:
        """Tell whoever asked (detections) the eventTime span of what is now acknowledged."""
        hook = self._options.on_indexed
        times = [
            (load.tally.first_event_time, load.tally.last_event_time)
            for load in complete
            if load.tally.first_event_time is not None and load.tally.last_event_time is not None
        ]
        if hook is None or not times:
            return
        try:
            hook(min(first for first, _ in times), max(last for _, last in times))
        except Exception as exc:  # noqa: BLE001  whatever it is, indexing goes on
            self._report.log("error", "after-batch hook failed", error=str(exc))

    def _report_loaded(self, load: _FileLoad) -> None:
        tally = load.tally
        uri = load.object.uri
        for problem in tally.quarantined[:_MAX_PROBLEMS_LOGGED]:
            self._report.log("warning", "record quarantined", file=uri, problem=str(problem))
        for problem in tally.rejected[:_MAX_PROBLEMS_LOGGED]:
            self._report.log("error", "record not indexed", file=uri, problem=str(problem))
        for problem in tally.partial[:_MAX_PROBLEMS_LOGGED]:
            self._report.log("warning", "field left unindexed", file=uri, problem=str(problem))
        if tally.broken is not None:
            self._report.log("error", "file damaged", file=uri, problem=str(tally.broken))
        self._report.file_done(
            uri,
            outcome="loaded",
            events=tally.records,
            indexed=tally.indexed,
            already_present=tally.already_present,
            rejected=len(tally.not_indexed),
            quarantined=len(tally.quarantined),
            partially_indexed=len(tally.partial),
        )

    def _wait_for_elasticsearch(self, failures: int) -> bool:
        """Wait until Elasticsearch answers; the first wait grows with ``failures`` in a row.

        An overloaded cluster answers at once, and must not be asked again at once.
        """
        backoff = self._options.backoff
        return wait_for_elasticsearch(
            self._client,
            self._state,
            stop=self._stop,
            report=self._report,
            backoff=Backoff(backoff.delay(failures), backoff.longest),
        )


def _skip_reason(key: str) -> str | None:
    if key.endswith("/"):
        return "a folder marker, not a file"
    return not_events_reason(key)
