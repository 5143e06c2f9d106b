"""Records that cannot be indexed as events, kept whole with where they came from and why.

The index is ``<alias>_quarantine``, beside the monthly indices but outside the ``<alias>-*``
pattern of the events template, under a strict mapping of its own. A record is kept as the
JSON text it was read as (``record``), or as its bytes when they were not UTF-8
(``record_base64``); neither is indexed, so no value in it can be refused. One document per
file and record number, so loading the same files again makes no duplicates; ``trailql
quarantine replay`` sends each record through the pipeline again and removes the ones that
are then indexed.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from elasticsearch import Elasticsearch, NotFoundError
from elasticsearch.helpers import scan

from indexer.documents import RawRecord

#: Every reason a record is quarantined for, as counted in
#: ``trailql_quarantined_records_total{reason}``.
REASONS: dict[str, str] = {
    "not_json": "a line of a JSON-lines file that is not JSON",
    "not_an_object": "a record that is not a JSON object",
    "no_event_id": "no eventID, or a blank one",
    "bad_event_id": "an eventID that is not a string, or is longer than 4,096 characters",
    "no_event_time": "no eventTime",
    "bad_event_time": "an eventTime that is not an ISO-8601 time with a zone",
    "implausible_event_time": "an eventTime outside the plausible window",
    "too_deep": "nesting deeper than 100 levels",
    "reserved_field": "a top-level field named trailql, which TrailQL keeps for itself",
    "metadata_field": "a top-level field named as the engine's metadata (_id, _doc_count, …)",
    "wrong_type": "more than one field of a JSON type its mapping cannot index",
    "unstorable": "text that is not valid Unicode",
    "refused": "Elasticsearch refused the document (its reason is kept)",
}


def quarantine_index(alias: str) -> str:
    """The quarantine of an alias; deliberately outside the ``<alias>-*`` template."""
    return f"{alias}_quarantine"


def quarantine_mapping() -> dict[str, Any]:
    """Strict: a document with a field not listed here is a bug, and is refused."""
    stored_only = {"type": "keyword", "index": False, "doc_values": False}
    return {
        "dynamic": "strict",
        "properties": {
            "record": stored_only,
            "record_base64": {"type": "binary"},
            "file": {"type": "keyword"},
            "record_number": {"type": "long"},
            "reason": {"type": "keyword"},
            "detail": stored_only,
            "event_id": {"type": "keyword", "ignore_above": 512},
            "quarantined_at": {"type": "date"},
        },
    }


def quarantine_id(file: str, record_number: int) -> str:
    """A quarantined record's ``_id``: the same for the same file and record number."""
    return hashlib.sha256(f"{file}\n{record_number}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class QuarantinedRecord:
    """One record in quarantine."""

    id: str
    file: str
    record_number: int
    reason: str
    detail: str
    raw: RawRecord
    event_id: str | None = None
    quarantined_at: str | None = None

    def document(self) -> dict[str, Any]:
        """Its document in the quarantine index."""
        document: dict[str, Any] = {
            "file": self.file,
            "record_number": self.record_number,
            "reason": self.reason,
            "detail": self.detail,
            "event_id": self.event_id,
            "quarantined_at": self.quarantined_at
            or datetime.now(UTC).isoformat(timespec="milliseconds"),
        }
        if self.raw.text is not None:
            document["record"] = self.raw.text
        if self.raw.data is not None:
            document["record_base64"] = base64.b64encode(self.raw.data).decode()
        return document

    @classmethod
    def from_hit(cls, hit: dict[str, Any]) -> QuarantinedRecord:
        """Read back from a search hit."""
        source = hit["_source"]
        data = source.get("record_base64")
        return cls(
            id=hit["_id"],
            file=source["file"],
            record_number=int(source["record_number"]),
            reason=source["reason"],
            detail=source.get("detail") or "",
            raw=RawRecord(
                text=source.get("record"),
                data=None if data is None else base64.b64decode(data),
            ),
            event_id=source.get("event_id"),
            quarantined_at=source.get("quarantined_at"),
        )


def quarantined(
    client: Elasticsearch, alias: str, *, reason: str | None = None
) -> Iterator[QuarantinedRecord]:
    """Every record in quarantine, by file and record number; none when there is no index."""
    query: dict[str, Any] = {"match_all": {}} if reason is None else {"term": {"reason": reason}}
    try:
        client.indices.refresh(index=quarantine_index(alias))
    except NotFoundError:
        return
    hits = scan(
        client,
        index=quarantine_index(alias),
        query={"query": query, "sort": [{"file": "asc"}, {"record_number": "asc"}]},
        preserve_order=True,
        size=500,
    )
    for hit in hits:
        yield QuarantinedRecord.from_hit(hit)
