"""One trail file's records as documents ready for ``_bulk``, or the reason each cannot be.

Every record gets a verdict before anything is sent: a document for its monthly index, or a
bad record with a reason, bound for the quarantine. What Elasticsearch refuses anyway (a
field of the wrong JSON type, a field name it does not take) is dealt with by the pipeline,
from its answer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import IO

import orjson

from common.times import now_ms
from indexer.reader import Hasher, TrailFileError, UnreadableRecord, read_records_with_bytes
from schema import (
    DERIVED,
    INDEXED_AT,
    EventDocument,
    InvalidRecordError,
    event_document,
    monthly_index,
)

#: CloudTrail began recording on 13 November 2013; nothing real is older.
CLOUDTRAIL_LAUNCH = datetime(2013, 11, 1, tzinfo=UTC)

_DERIVED_KEY = orjson.dumps(DERIVED)

#: Where a serialised document's indexed time goes: the value of ``trailql.indexedAt``,
#: written when the document is sent (:func:`stamped`). A NUL byte, which no JSON text holds
#: raw (orjson and the standard library escape it inside strings), so nothing else is ever
#: taken for it.
INDEXED_AT_SLOT = b"\x00"
_INDEXED_AT_MEMBER = b',"%s":%s}' % (INDEXED_AT.encode(), INDEXED_AT_SLOT)


def stamped(payload: bytes, indexed_at_ms: int) -> bytes:
    """``payload`` (documents, or a whole ``_bulk`` body) with the indexed time written in.

    The indexer stamps each request as it sends it, every attempt anew, so an event's
    indexed time is at most one request's duration before Elasticsearch stores it: what a
    live subscription's settling time has to cover (``api.live``).
    """
    return payload.replace(INDEXED_AT_SLOT, b"%d" % indexed_at_ms)


def indexed_now(payload: bytes) -> bytes:
    """``payload`` stamped with the time now, in epoch milliseconds."""
    return stamped(payload, now_ms())


@dataclass(frozen=True, slots=True)
class Problem:
    """Something that was not indexed (or not fully): where it is and why."""

    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass(frozen=True)
class TimeWindow:
    """The eventTimes worth indexing: from ``earliest`` to ``max_future`` ahead of the clock.

    A time outside it is a producer's bug (a zero date, a year 9999), and indexing it would
    create a monthly index of its own, years away from any other.
    """

    earliest: datetime = CLOUDTRAIL_LAUNCH
    max_future: timedelta = timedelta(days=1)

    def refuses(self, event_time: datetime, now: datetime) -> str | None:
        """Why ``event_time`` is outside the window, or None when it is inside."""
        if self.earliest <= event_time <= now:  # nearly every time: settled at once
            return None
        if event_time < self.earliest:
            return f"eventTime {_utc(event_time)} is before {_utc(self.earliest)}"
        if event_time > now + self.max_future:
            return (
                f"eventTime {_utc(event_time)} is more than {_duration(self.max_future)} "
                f"ahead of the clock ({_utc(now)})"
            )
        return None


def _utc(moment: datetime) -> str:
    """ISO 8601 in UTC, the year in four digits (``%Y`` writes the year 1 as ``1``)."""
    return f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}Z"


def _duration(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds % size == 0 and seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count > 1 else ''}"
    return f"{seconds} seconds"


@dataclass(frozen=True, slots=True)
class RawRecord:
    """A record as it can be kept: JSON text when it is valid Unicode, else its bytes."""

    text: str | None = None
    data: bytes | None = None

    @classmethod
    def of_bytes(cls, data: bytes) -> RawRecord:
        """Bytes as read (a line that is not JSON), as text when they are UTF-8."""
        try:
            return cls(text=data.decode())
        except UnicodeDecodeError:
            return cls(data=data)

    @classmethod
    def of_value(cls, record: object) -> RawRecord:
        """A parsed record written back as JSON; exactly its bytes when they were not UTF-8."""
        try:
            return cls(text=orjson.dumps(record).decode())
        except orjson.JSONEncodeError:
            pass  # integers beyond 64 bits, lone surrogates, nesting orjson refuses
        text = json_text(record)
        try:
            text.encode()
            return cls(text=text)
        except UnicodeEncodeError:
            pass
        try:
            # The reader kept bytes that are not UTF-8 as lone surrogates: give them back.
            return cls(data=text.encode("utf-8", "surrogateescape"))
        except UnicodeEncodeError:
            return cls(text=json_text(record, ascii_only=True))  # a lone \ud800 escape


@dataclass(slots=True)  # not frozen: one per event, and frozen inits cost twice as much
class Document:
    """One event ready for ``_bulk``: its index, its ``_id``, its serialised source."""

    index: str
    event_id: str
    source: bytes
    position: int = 0
    event_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class BadRecord:
    """A record that cannot be stored as an event: where, why, and the record itself."""

    problem: Problem
    reason: str
    raw: RawRecord
    position: int
    event_id: str | None = None


@dataclass(frozen=True, slots=True)
class BrokenFile:
    """The file cannot be read past this point; every record before it was yielded."""

    problem: Problem


class UnstorableRecordError(ValueError):
    """A record that cannot be written as the JSON Elasticsearch stores."""


class DocumentMaker:
    """Records into documents for one alias: checks, derives, serialises, picks the index."""

    def __init__(self, alias: str, window: TimeWindow) -> None:
        self._alias = alias
        self._window = window
        self._monthly: dict[int, str] = {}

    def document(
        self, record: object, file: str, position: int, now: datetime, raw: bytes | None = None
    ) -> Document | BadRecord:
        """The document for record number ``position`` of ``file``, or why there is none.

        ``raw``: the record's own bytes in the file, when known; they are sent as they are.
        """
        try:
            event = event_document(record, file, raw)
        except InvalidRecordError as exc:
            return self._bad(record, file, position, exc.reason, str(exc))
        refused = self._window.refuses(event.event_time, now)
        if refused is not None:
            return self._bad(record, file, position, "implausible_event_time", refused)
        try:
            source = serialise(event)
        except UnstorableRecordError as exc:
            return self._bad(record, file, position, "unstorable", str(exc))
        index = self._monthly_index(event.event_time)
        return Document(index, event.document_id, source, position, event.event_time)

    def _monthly_index(self, event_time: datetime) -> str:
        """Worked out once per month rather than per event."""
        month = event_time.year * 100 + event_time.month
        name = self._monthly.get(month)
        if name is None:
            name = self._monthly[month] = monthly_index(self._alias, event_time)
        return name

    @staticmethod
    def _bad(record: object, file: str, position: int, reason: str, detail: str) -> BadRecord:
        return bad_record(record, f"{file}: record {position}", position, reason, detail)


def bad_record(record: object, where: str, position: int, reason: str, detail: str) -> BadRecord:
    """A record bound for the quarantine, with its eventID when it has a usable one."""
    event_id = record.get("eventID") if isinstance(record, dict) else None
    return BadRecord(
        Problem(where, detail),
        reason,
        RawRecord.of_value(record),
        position,
        event_id if isinstance(event_id, str) else None,
    )


def file_documents(
    stream: IO[bytes], name: str, maker: DocumentMaker, content_hash: Hasher | None = None
) -> Iterator[Document | BadRecord | BrokenFile]:
    """Each record of ``stream`` as a document or a bad record; a broken file ends it.

    Everything the indexer does short of sending: reading, checking, deriving, serialising;
    ``content_hash`` is fed the file's uncompressed bytes.
    """
    position = 0
    now = datetime.now(UTC)
    try:
        records = read_records_with_bytes(stream, content_hash)
        for position, (record, raw) in enumerate(records, start=1):
            if isinstance(record, UnreadableRecord):
                unread = RawRecord.of_bytes(record.raw)
                yield BadRecord(Problem(name, record.reason), "not_json", unread, position)
                continue
            yield maker.document(record, name, position, now, raw)
    except TrailFileError as exc:
        kept = f" (the {position} records before it were kept)" if position else ""
        yield BrokenFile(Problem(name, f"{exc}{kept}"))


def serialise(event: EventDocument) -> bytes:
    """The document sent: the record's JSON text with its search fields added at its end.

    The record's text is its own bytes from the file, or else as orjson writes it (see
    :attr:`EventDocument.record_json`), or the standard library when orjson cannot; the
    search fields are spliced in before its closing brace (:func:`with_derived`), ending with
    the slot for the indexed time (:data:`INDEXED_AT_SLOT`).

    Raises:
        UnstorableRecordError: the record holds text that is not Unicode (bytes that were
            not UTF-8, a lone surrogate escape), which no JSON Elasticsearch stores can hold.
    """
    record_json = event.record_json
    if record_json is None:
        record_json = _json(event.record)
    return with_derived(record_json, event.derived)


def with_derived(record_json: bytes, derived: dict[str, object]) -> bytes:
    """A record's JSON text with its search fields at its end, the indexed time's slot last.

    The fields as ``orjson.dumps({**record, "trailql": {**derived, "indexedAt": ...}})``
    would write them (the standard library, when orjson cannot), after the record's own text.
    Cheap whatever the record's size: its bytes are copied once, never parsed again. A
    record's text holds no :data:`INDEXED_AT_SLOT`: its bytes from a file are only kept when
    orjson parses them, and it refuses a raw NUL.

    Raises:
        UnstorableRecordError: see :func:`serialise`.
    """
    members = _json(derived)[:-1] + _INDEXED_AT_MEMBER
    return b"%s,%s:%s}" % (record_json[: record_json.rindex(b"}")], _DERIVED_KEY, members)


def _json(value: object) -> bytes:
    """Orjson's JSON; the standard library's for integers beyond 64 bits, which orjson refuses.

    Raises:
        UnstorableRecordError: see :func:`serialise`.
    """
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        pass
    try:
        return json.dumps(value, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise UnstorableRecordError(
            "the record holds text that is not valid Unicode (bytes that are not UTF-8, "
            "or a lone surrogate escape)"
        ) from None


class _Token(str):
    """Punctuation on :func:`json_text`'s stack, told apart from the strings it writes."""

    __slots__ = ()


def json_text(value: object, *, ascii_only: bool = False) -> str:
    """JSON text of a parsed value, without recursion: a record of any depth can be kept."""
    parts: list[str] = []
    stack: list[object] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, _Token):
            parts.append(item)
        elif isinstance(item, dict):
            pending: list[object] = [_Token("{")]
            for number, (key, child) in enumerate(item.items()):
                text = json.dumps(str(key), ensure_ascii=ascii_only)
                pending += [_Token(f"{',' if number else ''}{text}:"), child]
            stack.extend(reversed([*pending, _Token("}")]))
        elif isinstance(item, list):
            pending = [_Token("[")]
            for number, child in enumerate(item):
                pending += [_Token(","), child] if number else [child]
            stack.extend(reversed([*pending, _Token("]")]))
        else:
            parts.append(json.dumps(item, ensure_ascii=ascii_only))
    return "".join(parts)
