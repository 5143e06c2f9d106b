"""The bytes sent for an event: the record's own text, its search fields, the time's slot."""

from __future__ import annotations

import gzip
import io
import json
from datetime import UTC, datetime

import orjson

from indexer.documents import (
    INDEXED_AT_SLOT,
    Document,
    DocumentMaker,
    TimeWindow,
    file_documents,
    stamped,
)
from schema import event_document

_OWN = (
    b'{"eventVersion":"1.09", "eventID" : "own-1","eventTime":"2023-07-10T12:00:00Z",'
    b'"requestParameters":{"s":"\\u00e9\\/","n":[1,2]}}'
)


def _documents(data: bytes) -> list[Document]:
    maker = DocumentMaker("trailql", TimeWindow())
    documents = list(file_documents(io.BytesIO(gzip.compress(data)), "f.json.gz", maker))
    assert all(isinstance(document, Document) for document in documents)
    return documents  # type: ignore[return-value]


def test_the_records_own_bytes_are_sent_with_the_search_fields_and_the_slot_last():
    [document] = _documents(b'{"Records":[' + _OWN + b"]}")
    assert document.source.startswith(_OWN[:-1] + b',"trailql":{')
    assert document.source.endswith(b',"indexedAt":' + INDEXED_AT_SLOT + b"}}")
    assert document.source.count(INDEXED_AT_SLOT) == 1
    record = json.loads(_OWN)
    derived = event_document(record, "f.json.gz").derived
    sent = orjson.loads(stamped(document.source, 1_700_000_000_123))
    assert sent == {**record, "trailql": {**derived, "indexedAt": 1_700_000_000_123}}
    assert sent["trailql"]["logFile"] == "f.json.gz"


def test_a_record_orjson_cannot_write_still_ends_with_the_slot():
    record = {
        "eventVersion": "1.09",
        "eventID": "own-2",
        "eventTime": "2023-07-10T12:00:00Z",
        "requestParameters": {"n": 2**70},  # beyond 64 bits: the standard library writes it
    }
    event = event_document(record, "f.json.gz")
    assert event.record_json is None
    maker = DocumentMaker("trailql", TimeWindow())
    document = maker.document(record, "f.json.gz", 1, datetime.now(UTC))
    assert isinstance(document, Document)
    assert document.source.endswith(b',"indexedAt":' + INDEXED_AT_SLOT + b"}}")
    sent = json.loads(stamped(document.source, 5))
    assert sent == {**record, "trailql": {**event.derived, "indexedAt": 5}}
