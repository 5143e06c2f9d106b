"""One trail file's records as documents ready for ``_bulk``, or the reason each is not.

The continuous loaders account every record to its file (a file is done only when all its
records are), so they read files one at a time through this rather than through the batch
pipeline of :mod:`indexer.run`, which accounts to the run as a whole.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import orjson

from indexer.reader import TrailFileError, UnreadableRecord, read_records
from schema import InvalidRecordError, event_document, monthly_index


@dataclass(frozen=True, slots=True)
class Document:
    """One event: the monthly index it belongs in, its ``_id`` and its serialised source."""

    index: str
    event_id: str
    source: bytes


@dataclass(frozen=True, slots=True)
class BadRecord:
    """A record that cannot be stored, with where and why."""

    where: str
    reason: str


@dataclass(frozen=True, slots=True)
class BrokenFile:
    """The file cannot be read past this point; every record before it was yielded."""

    reason: str


def file_documents(
    stream: IO[bytes], name: str, alias: str
) -> Iterator[Document | BadRecord | BrokenFile]:
    """Each record of ``stream`` as a document or a bad record; a broken file ends the run."""
    position = 0
    try:
        for position, record in enumerate(read_records(stream), start=1):
            if isinstance(record, UnreadableRecord):
                yield BadRecord(name, record.reason)
                continue
            try:
                document = event_document(record)
            except InvalidRecordError as exc:
                yield BadRecord(f"{name}: record {position}", str(exc))
                continue
            index = monthly_index(alias, document.event_time)
            yield Document(index, document.event_id, serialise(document.source))
    except TrailFileError as exc:
        kept = f" (the {position} records before it were kept)" if position else ""
        yield BrokenFile(f"{exc}{kept}")


def serialise(source: dict[str, Any]) -> bytes:
    """The stored ``_source``; orjson when it can, the standard library when it cannot."""
    try:
        return orjson.dumps(source)
    except orjson.JSONEncodeError:
        # Integers beyond 64 bits, which orjson refuses; the standard library writes them.
        return json.dumps(source, ensure_ascii=False).encode()
