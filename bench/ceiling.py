"""The ceiling: the indexer's documents, already serialised, sent straight to ``_bulk``.

Same documents, same ``create`` action lines, same byte-sized batches and the same number
of requests in flight as :class:`indexer.bulk.BulkWriter` with the default
:class:`indexer.pipeline.IndexOptions`; what is left is Elasticsearch's own time (and the
transport's), which no indexer can beat.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import orjson
from elasticsearch import Elasticsearch

from indexer.documents import indexed_now
from indexer.indices import install_template
from indexer.pipeline import IndexOptions

#: Exactly what indexer/bulk.py sends with each request.
BULK_HEADERS = {"accept": "application/json", "content-type": "application/x-ndjson"}
RESPONSE_FIELDS = "errors,items.*.status,items.*.error.type,items.*.error.reason"


@dataclass(frozen=True, slots=True)
class SerialisedEvent:
    """One document as the indexer makes it: its month suffix, its ``_id``, its bytes."""

    month: str  # "YYYY.MM", the monthly index's suffix
    event_id: str
    document: bytes


def bulk_bodies(events: Iterable[SerialisedEvent], alias: str, max_bytes: int) -> list[bytes]:
    """The ``_bulk`` bodies BulkWriter would send for these documents into ``alias``."""
    bodies: list[bytes] = []
    batch: list[bytes] = []
    batch_bytes = 0
    for event in events:
        header = orjson.dumps(
            {"create": {"_index": f"{alias}-{event.month}", "_id": event.event_id}}
        )
        lines = b"%s\n%s\n" % (header, event.document)
        if batch and batch_bytes + len(lines) > max_bytes:
            bodies.append(b"".join(batch))
            batch, batch_bytes = [], 0
        batch.append(lines)
        batch_bytes += len(lines)
    if batch:
        bodies.append(b"".join(batch))
    return bodies


def _post(client: Elasticsearch, body: bytes) -> int:
    """Send one body, stamped as the indexer stamps it; how many documents were created."""
    response = client.perform_request(
        "POST",
        "/_bulk",
        params={"filter_path": RESPONSE_FIELDS},
        headers=BULK_HEADERS,
        body=indexed_now(body),
    )
    items = response.body["items"]
    created = sum(1 for item in items if next(iter(item.values()))["status"] == 201)
    if response.body["errors"] or created != len(items):
        raise RuntimeError(f"the ceiling lost documents: {len(items) - created} not created")
    return created


def send_bodies(
    client: Elasticsearch, alias: str, bodies: list[bytes], bulk: IndexOptions
) -> tuple[int, float]:
    """Index ``bodies`` into ``alias`` and refresh; documents created and seconds taken.

    The template is installed before the clock starts; the refresh is timed, as it is in
    ``index_sources``.
    """
    install_template(client, alias)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=bulk.concurrency, thread_name_prefix="ceiling") as pool:
        created = sum(pool.map(lambda body: _post(client, body), bodies))
    client.indices.refresh(index=alias, ignore_unavailable=True, allow_no_indices=True)
    return created, time.perf_counter() - started
