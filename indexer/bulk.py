"""Writing documents to Elasticsearch through ``_bulk``, accounting for every one.

Written here rather than with ``elasticsearch.helpers`` because each document's outcome has
to reach the file it came from (a file is done only when all its records are acknowledged),
and documents arrive already serialised, so no second encoding is paid.

Events are sent with the ``create`` operation: an event already stored answers 409, which
is how a re-run knows what was already present without changing it.

One bad document never fails the others. Elasticsearch answers most bad documents item by
item; a request it refuses whole with a 4xx that blames the request (one ``_id`` too long,
say) is split in halves and sent again, down to the documents at fault, which alone are
rejected with Elasticsearch's reason. Only a failure to answer, 5xx and 429 mean
Elasticsearch is unavailable (see :mod:`common.retry`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from enum import Enum
from types import TracebackType
from typing import Any, Generic, Literal, Protocol, Self, TypeVar

import orjson
from elasticsearch import ApiError, Elasticsearch, TransportError

from common.metrics import ELASTICSEARCH_REQUEST_SECONDS, INDEXER_RETRIES
from common.retry import Backoff, request_at_fault, transient, transient_status

Tag = TypeVar("Tag")
Operation = Literal["create", "index", "delete"]

_DEFAULT_BACKOFF = Backoff()

#: What a ``_bulk`` body of NDJSON bytes is sent with.
BULK_HEADERS = {"accept": "application/json", "content-type": "application/x-ndjson"}
_RESPONSE_FIELDS = "errors,items.*.status,items.*.error.type,items.*.error.reason"


class Outcome(Enum):
    """What became of one document."""

    INDEXED = "indexed"  # written: created, indexed or deleted
    ALREADY_PRESENT = "already present"
    REJECTED = "rejected"


class Stamper(Protocol):
    """Writes what is only known as a request leaves into its body (the indexed time)."""

    def stamp(self, payload: bytes) -> tuple[bytes, int]:
        """The body to send and the stamp it got; may raise Elasticsearch's errors."""

    def done(self, stamp: int) -> None:
        """The request stamped so was answered, or failed."""


class ElasticsearchUnavailableError(Exception):
    """Elasticsearch did not accept a bulk request after every retry, or refused us."""


class _RequestRefusedError(Exception):
    """Elasticsearch refused a whole request for something in it (a 4xx at fault)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(slots=True)  # not frozen: one per document, and frozen inits cost twice as much
class BulkAction(Generic[Tag]):
    """One document, ready to send, and what it is accounted to."""

    doc_id: str
    lines: bytes  # the action line and the document line, newline-terminated
    tag: Tag

    @property
    def document(self) -> bytes:
        """The document line as sent (empty for a delete)."""
        return self.lines.split(b"\n", 1)[1].removesuffix(b"\n")


@dataclass(slots=True)  # not frozen: one per document
class BulkResult(Generic[Tag]):
    """One document's outcome; ``reason`` and ``status`` say why when it was rejected.

    A rejection that is not the document's fault (429 or 5xx past every retry, 401 or 403)
    is *deferred*: the document was not refused, only not taken yet.
    """

    action: BulkAction[Tag]
    outcome: Outcome
    reason: str | None = None
    status: int | None = None

    @property
    def deferred(self) -> bool:
        """Rejected only for now (Elasticsearch overloaded or recovering): worth sending again."""
        return (
            self.outcome is Outcome.REJECTED
            and self.status is not None
            and not request_at_fault(self.status)
        )


class BulkWriter(Generic[Tag]):
    """Batches documents into ``_bulk`` requests of about ``max_bytes``, ``concurrency`` at once.

    ``on_result`` is called on the caller's thread for every document, in no fixed order;
    ``stamper``, when given, stamps each request body just before every attempt to send it.
    """

    def __init__(
        self,
        client: Elasticsearch,
        on_result: Callable[[BulkResult[Tag]], None],
        *,
        max_bytes: int = 8 * 1024 * 1024,
        concurrency: int = 2,
        max_retries: int = 8,
        backoff: Backoff = _DEFAULT_BACKOFF,
        stamper: Stamper | None = None,
    ) -> None:
        self._client = client
        self._stamper = stamper
        self._on_result = on_result
        self._max_bytes = max_bytes
        self._concurrency = concurrency
        self._max_retries = max_retries
        self._backoff = backoff
        self._batch: list[BulkAction[Tag]] = []
        self._batch_bytes = 0
        self._executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="bulk")
        self._in_flight: set[Future[list[BulkResult[Tag]]]] = set()
        #: Each action line up to its ``_id``, by operation and index.
        self._openings: dict[tuple[Operation, str], bytes] = {}

    def add(
        self,
        index: str,
        doc_id: str,
        document: bytes | None,
        tag: Tag,
        *,
        operation: Operation = "create",
    ) -> None:
        """Queue one serialised document for ``index`` (None for a delete)."""
        opening = self._openings.get((operation, index))
        if opening is None:
            opening = orjson.dumps({operation: {"_index": index, "_id": ""}})[: -len(b'""}}')]
            self._openings[operation, index] = opening
        # As orjson.dumps({operation: {"_index": index, "_id": doc_id}}) writes it.
        header = b"%s%s}}" % (opening, orjson.dumps(doc_id))
        lines = b"%s\n" % header if document is None else b"%s\n%s\n" % (header, document)
        if self._batch and self._batch_bytes + len(lines) > self._max_bytes:
            self._submit()
        self._batch.append(BulkAction(doc_id, lines, tag))
        self._batch_bytes += len(lines)

    def flush(self) -> None:
        """Send what is queued and wait for every outcome."""
        while self._batch or self._in_flight:
            if self._batch:
                self._submit()
            self._harvest(wait_for_all=True)

    def close(self) -> None:
        """Flush, then stop the sending threads."""
        try:
            self.flush()
        finally:
            self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self._executor.shutdown(wait=True, cancel_futures=True)

    def _submit(self) -> None:
        batch, self._batch, self._batch_bytes = self._batch, [], 0
        while len(self._in_flight) >= self._concurrency:
            self._harvest(wait_for_all=False)
        self._in_flight.add(self._executor.submit(self._send, batch))

    def _harvest(self, *, wait_for_all: bool) -> None:
        if not self._in_flight:
            return
        done, self._in_flight = wait(
            self._in_flight, return_when="ALL_COMPLETED" if wait_for_all else FIRST_COMPLETED
        )
        for future in done:
            for result in future.result():
                self._on_result(result)

    def _send(self, batch: list[BulkAction[Tag]]) -> list[BulkResult[Tag]]:
        """Every document's outcome; a request refused whole is sent again in halves."""
        try:
            return self._send_whole(batch)
        except _RequestRefusedError as refused:
            if len(batch) == 1:
                return [BulkResult(batch[0], Outcome.REJECTED, refused.reason, refused.status)]
        INDEXER_RETRIES.labels(reason="split").inc()
        middle = len(batch) // 2
        return self._send(batch[:middle]) + self._send(batch[middle:])

    def _send_whole(self, batch: list[BulkAction[Tag]]) -> list[BulkResult[Tag]]:
        results: list[BulkResult[Tag]] = []
        for attempt in range(self._max_retries + 1):
            response = self._post(batch)
            items = response["items"]
            if not response.get("errors", True) and len(items) == len(batch):
                # Every document created: no need to look at each item.
                results.extend([BulkResult(action, Outcome.INDEXED) for action in batch])
                break
            retry: list[BulkAction[Tag]] = []
            for action, item in zip(batch, items, strict=True):
                status, reason = _status_and_reason(next(iter(item.values())))
                if status in (200, 201):
                    results.append(BulkResult(action, Outcome.INDEXED))
                elif status == 409:  # noqa: PLR2004  create of an existing _id
                    results.append(BulkResult(action, Outcome.ALREADY_PRESENT))
                elif transient_status(status) and attempt < self._max_retries:
                    retry.append(action)
                else:
                    results.append(BulkResult(action, Outcome.REJECTED, reason, status))
            if not retry:
                break
            INDEXER_RETRIES.labels(reason="rejected").inc(len(retry))
            batch = retry
            time.sleep(self._backoff.delay(attempt))
        return results

    def _post(self, batch: list[BulkAction[Tag]]) -> dict[str, Any]:
        """Send one batch; the response's ``errors`` flag and ``items``.

        Raises:
            _RequestRefusedError: the request was refused whole, for something in it.
            ElasticsearchUnavailableError: no answer after every retry, or we were refused.
        """
        payload = b"".join(action.lines for action in batch)
        for attempt in range(self._max_retries + 1):
            try:
                body, stamp = self._stamp(payload)
            except (ApiError, TransportError) as exc:
                if not transient(exc) or attempt == self._max_retries:
                    raise ElasticsearchUnavailableError(
                        f"could not stamp a bulk request: {exc}"
                    ) from exc
            else:
                try:
                    with ELASTICSEARCH_REQUEST_SECONDS.labels(kind="bulk").time():
                        response = self._client.perform_request(
                            "POST",
                            "/_bulk",
                            params={"filter_path": _RESPONSE_FIELDS},
                            headers=BULK_HEADERS,
                            body=body,
                        )
                except (ApiError, TransportError) as exc:
                    if isinstance(exc, ApiError) and request_at_fault(exc.meta.status):
                        reason = _error_reason(exc.body)
                        raise _RequestRefusedError(exc.meta.status, reason) from exc
                    if not transient(exc) or attempt == self._max_retries:
                        raise ElasticsearchUnavailableError(f"bulk request failed: {exc}") from exc
                else:
                    answer: dict[str, Any] = response.body
                    return answer
                finally:
                    if stamp is not None and self._stamper is not None:
                        self._stamper.done(stamp)
            INDEXER_RETRIES.labels(reason="unavailable").inc()
            time.sleep(self._backoff.delay(attempt))
        raise AssertionError  # pragma: no cover  the loop always returns or raises

    def _stamp(self, payload: bytes) -> tuple[bytes, int | None]:
        if self._stamper is None:
            return payload, None
        return self._stamper.stamp(payload)


def _status_and_reason(item: dict[str, Any]) -> tuple[int, str]:
    return int(item["status"]), _error_reason(item)


def _error_reason(body: object) -> str:
    """``type: reason`` of an error answer, or of one item of a bulk answer."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return f"{error.get('type')}: {error.get('reason')}"
    return str(error or "")
