"""The one indexing pipeline: records -> documents -> ``_bulk``, each answer to its file.

The one-shot ``trailql index``, ``--follow``, the SQS worker and ``trailql quarantine replay``
all send their records through :class:`Pipeline`; they differ only in where records come from
and what they do once a file is done (print a summary, or record it in the state index and
delete its message).

No record is lost silently and none holds up the others. A record that cannot be an event
(see :mod:`indexer.documents`) is written to the quarantine instead, through the same
writer. An event Elasticsearch refuses is looked at again: if exactly one top-level field
has a JSON type its mapping cannot index, the same document goes to
``<alias>_without_<field>``, behind the same alias, where that field is not indexed (so the
stored ``_source`` stays the record, exactly); otherwise it is quarantined with
Elasticsearch's reason. A file is done when all of that is acknowledged. Only what is not the
record's fault (Elasticsearch overloaded, away, or refusing our credentials) is *deferred*,
for the continuous modes to send again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import Enum
from types import TracebackType
from typing import IO, Self

import orjson
from elasticsearch import Elasticsearch

from common.metrics import INDEXER_EVENTS, QUARANTINED_RECORDS
from common.retry import Backoff
from indexer.bulk import BulkResult, BulkWriter, Outcome
from indexer.claims import Claims
from indexer.documents import (
    BadRecord,
    BrokenFile,
    Document,
    DocumentMaker,
    Problem,
    RawRecord,
    TimeWindow,
    UnstorableRecordError,
    bad_record,
    file_documents,
    stamped,
    with_derived,
)
from indexer.hourly import HourlyCounts
from indexer.indices import Indices
from indexer.quarantine import QuarantinedRecord, quarantine_id, quarantine_index
from indexer.reader import Hasher, UnreadableRecord, loads
from indexer.watermark import Watermark
from schema import DERIVED, INDEXED_AT, IndexLayout, mistyped, without_index

#: Bulk retries of a one-shot run, which has nothing else to wait out an outage with.
ONE_SHOT_RETRIES = 8
#: Bulk retries in the continuous modes, kept short: they wait out long outages themselves,
#: where waiting holds no sending thread and can be interrupted.
CONTINUOUS_RETRIES = 3


@dataclass(frozen=True)
class IndexOptions:
    """How hard to push Elasticsearch and S3, and which times to believe."""

    max_bytes: int = 8 * 1024 * 1024
    concurrency: int = 2
    #: Retries of one ``_bulk`` request; None: :data:`ONE_SHOT_RETRIES` or
    #: :data:`CONTINUOUS_RETRIES`, by mode.
    max_retries: int | None = None
    #: Processes reading and deriving (``trailql index`` over files and prefixes): above 1,
    #: worker processes do it (indexer/parallel.py), which pays when Elasticsearch runs
    #: elsewhere and cores are free here.
    parse_workers: int = 1
    #: S3 objects downloaded ahead of the one being read (continuous modes).
    downloads: int = 4
    first_backoff_seconds: float = 0.5
    max_backoff_seconds: float = 30.0
    #: eventTimes outside it are quarantined rather than indexed.
    window: TimeWindow = field(default_factory=TimeWindow)
    #: Shards and replicas of the monthly indices the template creates from now on.
    layout: IndexLayout = field(default_factory=IndexLayout)
    #: The continuous modes call it with the first and last eventTime of each batch once it
    #: is acknowledged (detections evaluate it); a failure of it never stops indexing.
    on_indexed: Callable[[datetime, datetime], None] | None = None

    @property
    def backoff(self) -> Backoff:
        """How long to wait between attempts."""
        return Backoff(self.first_backoff_seconds, self.max_backoff_seconds)


@dataclass
class FileTally:
    """One file's records on their way; done when every record sent has its answer."""

    name: str
    records: int = 0
    indexed: int = 0
    already_present: int = 0
    #: Indexed, with one field left unindexed (its JSON type does not fit the mapping).
    partial: list[Problem] = field(default_factory=list)
    #: Not indexed as events, and kept in the quarantine.
    quarantined: list[Problem] = field(default_factory=list)
    #: Not indexed, and not quarantined either (the reason says why).
    rejected: list[Problem] = field(default_factory=list)
    #: Not taken for now (Elasticsearch overloaded, or refusing us) after every retry.
    deferred: list[Problem] = field(default_factory=list)
    #: Why the file could not be read to its end, if it could not.
    broken: Problem | None = None
    #: The earliest and latest eventTime of the events sent.
    first_event_time: datetime | None = None
    last_event_time: datetime | None = None

    @property
    def not_indexed(self) -> list[Problem]:
        """Every record that is not an event now: quarantined, then rejected."""
        return self.quarantined + self.rejected


class _Kind(Enum):
    EVENT = "event"
    QUARANTINE = "quarantine"
    DELETE = "delete"
    REFUSED = "refused"  # an event Elasticsearch refused: another index, or the quarantine


@dataclass(slots=True)  # not frozen: made for every event, and frozen inits cost twice as much
class _Sent:
    """What one bulk action is, and whom its answer is for."""

    kind: _Kind
    tally: FileTally
    #: Where the record is, as problems name it; None: record ``position`` of the file.
    place: str | None
    position: int
    #: An event: the field left unindexed and why. A quarantined record: why it is there.
    problem: Problem | None = None
    reason: str | None = None  # a quarantined record's reason
    #: Replaying: the quarantined record this event comes from, removed once it is indexed.
    replaces: str | None = None
    #: An event sent again to the index that leaves this field unindexed.
    unindexed: str | None = None
    #: An event: the index it was sent to.
    index: str | None = None
    #: An event sent again as orjson writes it, rather than as its bytes were in the file.
    rewritten: bool = False

    @property
    def where(self) -> str:
        """Where the record is, as problems name it (worked out only for problems)."""
        return self.place or f"{self.tally.name}: record {self.position}"


def _as_read(quarantined: QuarantinedRecord) -> object:
    """A quarantined record as the reader would give it."""
    raw = quarantined.raw
    try:
        return loads(raw.text if raw.text is not None else raw.data or b"")
    except ValueError as exc:
        return UnreadableRecord(f"invalid JSON: {exc}", raw.data or b"")


def _as_orjson_writes(record: dict[str, object], derived: dict[str, object]) -> bytes | None:
    """An event's document as orjson writes its record, its indexed time's slot left open.

    ``derived``: its search fields as sent (``indexedAt`` included, which is written afresh
    as the slot, so the document sent again is stamped anew). None when orjson cannot write
    the record.
    """
    fields = {name: value for name, value in derived.items() if name != INDEXED_AT}
    try:
        return with_derived(orjson.dumps(record), fields)
    except (orjson.JSONEncodeError, UnstorableRecordError):
        return None


class Pipeline:
    """Records in, through one :class:`BulkWriter`; every answer reaches its file's tally.

    Use as a context manager: leaving it waits for every answer, quarantine writes included.
    """

    def __init__(
        self,
        client: Elasticsearch,
        alias: str,
        options: IndexOptions,
        *,
        default_retries: int,
    ) -> None:
        self._alias = alias
        self._maker = DocumentMaker(alias, options.window)
        self._indices = Indices(client, alias, options.layout)
        retries = options.max_retries if options.max_retries is not None else default_retries
        #: The hours this pipeline's events fall in, counted again once all are acknowledged;
        #: their months claimed first, as patiently as a bulk request is retried.
        self._hours = HourlyCounts(
            client, alias, options.layout, claims=Claims(client, alias, retries, options.backoff)
        )
        #: Stamps each request with the indexed time, and tells live subscriptions what is
        #: still on its way (indexer/watermark.py).
        self._watermark = Watermark(client, alias)
        self._writer = BulkWriter[_Sent](
            client,
            self._on_result,
            max_bytes=options.max_bytes,
            concurrency=options.concurrency,
            max_retries=retries,
            backoff=options.backoff,
            stamper=self._watermark,
        )
        #: The counters every event's answer adds to, labelled once rather than per answer.
        self._indexed = INDEXER_EVENTS.labels(outcome="indexed")
        self._already_present = INDEXER_EVENTS.labels(outcome="already_present")
        #: Actions an answer calls for (quarantining a refused event, removing a replayed
        #: record), sent from the caller's thread once the answer is in.
        self._follow_ups: list[tuple[_Kind, BulkResult[_Sent]]] = []

    def feed(self, stream: IO[bytes], tally: FileTally, content_hash: Hasher | None = None) -> None:
        """Send every record of one file; answers arrive in ``tally`` as they come.

        ``content_hash`` is fed the file's bytes, uncompressed, to check them against digests.
        """
        self.take_all(file_documents(stream, tally.name, self._maker, content_hash), tally)

    def take_all(
        self, items: Iterable[Document | BadRecord | BrokenFile], tally: FileTally
    ) -> None:
        """Send one file's documents and quarantine its bad records, read elsewhere."""
        for item in items:
            if isinstance(item, BrokenFile):
                tally.broken = item.problem
            else:
                self._take(item, tally)
            self._drain()

    def replay(self, records: Iterable[QuarantinedRecord], tally: FileTally) -> None:
        """Send quarantined records of one file again; each indexed one leaves the quarantine."""
        now = datetime.now(UTC)
        for quarantined in records:
            value = _as_read(quarantined)
            item: Document | BadRecord
            if isinstance(value, UnreadableRecord):
                raw = RawRecord.of_bytes(value.raw) if value.raw else quarantined.raw
                problem = Problem(tally.name, value.reason)
                item = BadRecord(problem, "not_json", raw, quarantined.record_number)
            else:
                item = self._maker.document(value, tally.name, quarantined.record_number, now)
            self._take(item, tally, replaces=quarantined.id)
            self._drain()

    def _take(
        self, item: Document | BadRecord, tally: FileTally, replaces: str | None = None
    ) -> None:
        tally.records += 1
        if isinstance(item, BadRecord):
            self._quarantine(tally, item)
            return
        if item.event_time is not None:
            if tally.first_event_time is None or item.event_time < tally.first_event_time:
                tally.first_event_time = item.event_time
            if tally.last_event_time is None or item.event_time > tally.last_event_time:
                tally.last_event_time = item.event_time
            self._hours.touch(item.event_time)
        sent = _Sent(_Kind.EVENT, tally, None, item.position, replaces=replaces, index=item.index)
        self._writer.add(item.index, item.event_id, item.source, sent)

    def _quarantine(self, tally: FileTally, bad: BadRecord) -> None:
        self._indices.ensure_quarantine()
        record = QuarantinedRecord(
            id=quarantine_id(tally.name, bad.position),
            file=tally.name,
            record_number=bad.position,
            reason=bad.reason,
            detail=bad.problem.reason,
            raw=bad.raw,
            event_id=bad.event_id,
        )
        sent = _Sent(
            _Kind.QUARANTINE, tally, bad.problem.where, bad.position, bad.problem, bad.reason
        )
        document = orjson.dumps(record.document())
        name = quarantine_index(self._alias)
        self._writer.add(name, record.id, document, sent, operation="index")

    def _on_result(self, result: BulkResult[_Sent]) -> None:
        """Count one answer; called on the caller's thread, so it only queues what follows."""
        sent = result.action.tag
        tally = sent.tally
        if result.outcome is not Outcome.REJECTED:
            if sent.kind is _Kind.EVENT:
                self._event_stored(sent, result)
            elif sent.kind is _Kind.QUARANTINE and sent.problem is not None:
                tally.quarantined.append(sent.problem)
                INDEXER_EVENTS.labels(outcome="rejected").inc()
                QUARANTINED_RECORDS.labels(reason=sent.reason or "").inc()
        elif result.deferred:
            tally.deferred.append(Problem(sent.where, result.reason or ""))
        elif sent.kind is _Kind.EVENT:
            self._follow_ups.append((_Kind.REFUSED, result))
        elif sent.kind is _Kind.QUARANTINE:
            why = sent.problem.reason if sent.problem is not None else ""
            tally.rejected.append(
                Problem(sent.where, f"{why} (and not quarantined either: {result.reason})")
            )
            INDEXER_EVENTS.labels(outcome="rejected").inc()
        # A removal from the quarantine that failed leaves the record there: harmless.

    def _event_stored(self, sent: _Sent, result: BulkResult[_Sent]) -> None:
        tally = sent.tally
        if result.outcome is Outcome.INDEXED:
            tally.indexed += 1
            self._indexed.inc()
            if sent.problem is not None:
                tally.partial.append(sent.problem)
        else:
            tally.already_present += 1
            self._already_present.inc()
        if sent.replaces is not None:
            self._follow_ups.append((_Kind.DELETE, result))

    def _drain(self) -> None:
        """Send what answers called for; sending may bring more answers, and so more."""
        while self._follow_ups:
            kind, result = self._follow_ups.pop(0)
            sent = result.action.tag
            if kind is _Kind.DELETE and sent.replaces is not None:
                removal = _Sent(_Kind.DELETE, sent.tally, sent.where, sent.position)
                name = quarantine_index(self._alias)
                self._writer.add(name, sent.replaces, None, removal, operation="delete")
            elif kind is _Kind.REFUSED:
                self._refused(result)

    def _refused(self, result: BulkResult[_Sent]) -> None:
        """An event refused: without its one mistyped field, if that is why; else quarantined.

        Looked into only now, as it costs as much as deriving the search fields of a record.
        An event sent as its bytes were in the file is first sent again as orjson writes it,
        if that differs: Elasticsearch refuses some JSON that parsing takes (a key twice in
        one object, which the parsed record holds once).
        """
        sent, action = result.action.tag, result.action
        record = loads(stamped(action.document, 0))  # the indexed time is the indexer's
        derived = record.pop(DERIVED, None) if isinstance(record, dict) else None
        if not sent.rewritten and sent.index is not None and isinstance(derived, dict):
            rewritten = _as_orjson_writes(record, derived)
            if rewritten is not None and rewritten != action.document:
                again = replace(sent, rewritten=True)
                self._writer.add(sent.index, action.doc_id, rewritten, again)
                return
        wrong = mistyped(record) if isinstance(record, dict) else {}
        if sent.unindexed is None and len(wrong) == 1:
            [(name, detail)] = wrong.items()
            self._indices.ensure_without(name)
            problem = Problem(sent.where, f"indexed without {name}: {detail}")
            again = replace(sent, unindexed=name, problem=problem)
            index = without_index(self._alias, name)
            self._writer.add(index, action.doc_id, action.document, again)
        elif sent.unindexed is None and len(wrong) > 1:
            bad = bad_record(
                record, sent.where, sent.position, "wrong_type", "; ".join(wrong.values())
            )
            self._quarantine(sent.tally, bad)
        else:
            detail = f"Elasticsearch refused it: {result.reason}"
            bad = bad_record(record, sent.where, sent.position, "refused", detail)
            self._quarantine(sent.tally, bad)

    def __enter__(self) -> Self:
        self._watermark.__enter__()
        self._writer.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None:
                self._writer.flush()
                while self._follow_ups:
                    self._drain()
                    self._writer.flush()
                self._hours.update()
            self._writer.__exit__(exc_type, exc, traceback)
        finally:
            self._watermark.__exit__(exc_type, exc, traceback)
