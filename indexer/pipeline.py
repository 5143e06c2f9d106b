"""The one indexing pipeline: records -> documents -> ``_bulk``, each answer to its file.

The one-shot ``trailql index``, ``--follow`` and the SQS worker all send their files through
:class:`Pipeline`; they differ only in where files come from and what they do once a file is
done (print a summary, or record it in the state index and delete its message).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import IO, Any, Self

import orjson
from elasticsearch import Elasticsearch

from indexer.bulk import BulkResult, BulkWriter, Outcome
from indexer.reader import TrailFileError, UnreadableRecord, read_records
from schema import InvalidRecordError, event_document, monthly_index
from trailql.metrics import INDEXER_EVENTS
from trailql.retry import Backoff

#: Bulk retries of a one-shot run, which has nothing else to wait out an outage with.
ONE_SHOT_RETRIES = 8
#: Bulk retries in the continuous modes, kept short: they wait out long outages themselves,
#: where waiting holds no sending thread and can be interrupted.
CONTINUOUS_RETRIES = 3


@dataclass(frozen=True)
class IndexOptions:
    """How hard to push Elasticsearch and S3; the defaults suit a small cluster."""

    max_bytes: int = 8 * 1024 * 1024
    concurrency: int = 2
    #: Retries of one ``_bulk`` request; None: :data:`ONE_SHOT_RETRIES` or
    #: :data:`CONTINUOUS_RETRIES`, by mode.
    max_retries: int | None = None
    #: S3 objects downloaded ahead of the one being read (continuous modes).
    downloads: int = 4
    first_backoff_seconds: float = 0.5
    max_backoff_seconds: float = 30.0

    @property
    def backoff(self) -> Backoff:
        """How long to wait between attempts."""
        return Backoff(self.first_backoff_seconds, self.max_backoff_seconds)


@dataclass(frozen=True, slots=True)
class Problem:
    """Something that was not indexed: where it is and why."""

    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Document:
    """One event ready for ``_bulk``: its monthly index, its ``_id`` and its serialised source."""

    index: str
    event_id: str
    source: bytes


@dataclass(frozen=True, slots=True)
class BadRecord:
    """A record that cannot be stored, with where and why."""

    problem: Problem


@dataclass(frozen=True, slots=True)
class BrokenFile:
    """The file cannot be read past this point; every record before it was yielded."""

    problem: Problem


@dataclass
class FileTally:
    """One file's records on their way; done when every record sent has its answer."""

    name: str
    records: int = 0
    sent: int = 0
    indexed: int = 0
    already_present: int = 0
    rejected: list[Problem] = field(default_factory=list)
    #: Refused only for now (Elasticsearch overloaded) after every retry: worth sending again.
    deferred: list[Problem] = field(default_factory=list)
    #: Why the file could not be read to its end, if it could not.
    broken: Problem | None = None

    def account(self, result: BulkResult[FileTally]) -> None:
        """Count one answer from Elasticsearch, and in the shared metrics too."""
        if result.outcome is Outcome.INDEXED:
            self.indexed += 1
            INDEXER_EVENTS.labels(outcome="indexed").inc()
        elif result.outcome is Outcome.ALREADY_PRESENT:
            self.already_present += 1
            INDEXER_EVENTS.labels(outcome="already_present").inc()
        else:
            problem = Problem(f"{self.name}: event {result.action.doc_id}", result.reason or "")
            if result.deferred:
                self.deferred.append(problem)
            else:
                self.rejected.append(problem)
                INDEXER_EVENTS.labels(outcome="rejected").inc()

    def reject(self, problem: Problem) -> None:
        """A record that never reached Elasticsearch."""
        self.rejected.append(problem)
        INDEXER_EVENTS.labels(outcome="rejected").inc()


class MonthlyIndices:
    """``monthly_index`` for one alias, worked out once per month rather than per event."""

    def __init__(self, alias: str) -> None:
        self._alias = alias
        self._names: dict[int, str] = {}

    def __call__(self, event_time: datetime) -> str:
        """The index for an event at ``event_time``."""
        month = event_time.year * 100 + event_time.month
        name = self._names.get(month)
        if name is None:
            name = self._names[month] = monthly_index(self._alias, event_time)
        return name


def file_documents(
    stream: IO[bytes], name: str, indices: MonthlyIndices
) -> Iterator[Document | BadRecord | BrokenFile]:
    """Each record of ``stream`` as a document or a bad record; a broken file ends it.

    Everything the indexer does short of sending: reading, checking, deriving, serialising.
    """
    position = 0
    try:
        for position, record in enumerate(read_records(stream), start=1):
            if isinstance(record, UnreadableRecord):
                yield BadRecord(Problem(name, record.reason))
                continue
            try:
                document = event_document(record)
            except InvalidRecordError as exc:
                yield BadRecord(Problem(f"{name}: record {position}", str(exc)))
                continue
            index = indices(document.event_time)
            yield Document(index, document.event_id, serialise(document.source))
    except TrailFileError as exc:
        kept = f" (the {position} records before it were kept)" if position else ""
        yield BrokenFile(Problem(name, f"{exc}{kept}"))


def serialise(source: dict[str, Any]) -> bytes:
    """The stored ``_source``; orjson when it can, the standard library when it cannot."""
    try:
        return orjson.dumps(source)
    except orjson.JSONEncodeError:
        # Integers beyond 64 bits, which orjson refuses; the standard library writes them.
        return json.dumps(source, ensure_ascii=False).encode()


class Pipeline:
    """Trail files in, through one :class:`BulkWriter`; every answer reaches its file's tally.

    Use as a context manager: leaving it waits for every answer.
    """

    def __init__(
        self,
        client: Elasticsearch,
        alias: str,
        options: IndexOptions,
        *,
        default_retries: int,
    ) -> None:
        self._indices = MonthlyIndices(alias)
        retries = options.max_retries if options.max_retries is not None else default_retries
        self._writer = BulkWriter[FileTally](
            client,
            _account,
            max_bytes=options.max_bytes,
            concurrency=options.concurrency,
            max_retries=retries,
            backoff=options.backoff,
        )

    def feed(self, stream: IO[bytes], tally: FileTally) -> None:
        """Send every record of one file; answers arrive in ``tally`` as they come."""
        for item in file_documents(stream, tally.name, self._indices):
            if isinstance(item, Document):
                tally.records += 1
                tally.sent += 1
                self._writer.add(item.index, item.event_id, item.source, tally)
            elif isinstance(item, BadRecord):
                tally.records += 1
                tally.reject(item.problem)
            else:
                tally.broken = item.problem

    def __enter__(self) -> Self:
        self._writer.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._writer.__exit__(exc_type, exc, traceback)


def _account(result: BulkResult[FileTally]) -> None:
    result.action.tag.account(result)
