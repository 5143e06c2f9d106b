"""One pipeline's promise to live subscriptions: what it stamped before ``pending_since`` shows.

The indexer stamps each ``_bulk`` request with the time it is sent (``trailql.indexedAt``),
and live subscriptions hand events out in that order (``api.live``). A request can take
seconds (the first event of a month creates its index; a busy cluster queues writes), and
its events become searchable only at the next refresh after it is answered, so a request
stamped early may show after one stamped later. Instead of guessing how long that takes,
each pipeline says it: while it has requests unanswered, or answered but not yet refreshed,
its document in ``<alias>_writers`` holds the earliest of their stamps; the events feed
hands out nothing from there on until it moves.

- Before its first stamp of a busy spell, the pipeline publishes ``pending_since`` (with
  ``refresh``, so the feed sees it at once), and stamps only after that is answered.
- About once a second while busy, it refreshes the events alias (so what was answered is
  searchable) and publishes the earliest stamp still on its way, or None when there is none.
- At the end it refreshes and removes its document. A pipeline that dies stops its
  heartbeat, and is ignored a minute later (``common.writers``).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from types import TracebackType
from typing import Self

from elasticsearch import Elasticsearch

from common.times import now_ms
from common.writers import HEARTBEAT, HEARTBEAT_MS, PENDING_SINCE, writers_index, writers_mapping
from indexer.documents import stamped
from indexer.indices import SMALL_INDEX, create_index

logger = logging.getLogger("trailql.indexer.watermark")

_SETTLE_EVERY_SECONDS = 1.0


class Watermark:
    """Stamps requests for one pipeline and publishes how far back its events are pending.

    Thread-safe: the bulk writer's sending threads call :meth:`stamp` and :meth:`done`.
    Use as a context manager.
    """

    def __init__(
        self,
        client: Elasticsearch,
        alias: str,
        *,
        clock: Callable[[], int] = now_ms,
        settle_every: float = _SETTLE_EVERY_SECONDS,
    ) -> None:
        self._client = client
        self._alias = alias
        self._index = writers_index(alias)
        self._id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._clock = clock
        self._settle_every = settle_every
        self._lock = threading.Lock()
        self._in_flight: Counter[int] = Counter()
        self._answered: list[int] = []
        self._published: int | None = None
        self._present = False
        self._last_stamp = 0
        self._heartbeat_at = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="watermark", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        self.close()

    def stamp(self, payload: bytes) -> tuple[bytes, int]:
        """``payload`` stamped with the time now, once that time is published as pending.

        Raises whatever Elasticsearch raises when the publication fails: the request is
        not sent, and is retried as any request that failed to be sent.
        """
        with self._lock:
            if self._published is None:
                self._publish(self._clock())
            milliseconds = max(self._clock(), self._last_stamp, self._published or 0)
            self._last_stamp = milliseconds
            self._in_flight[milliseconds] += 1
        return stamped(payload, milliseconds), milliseconds

    def done(self, milliseconds: int) -> None:
        """The request stamped ``milliseconds`` was answered, or failed.

        Once the alias is refreshed, its events are searchable.
        """
        with self._lock:
            self._in_flight[milliseconds] -= 1
            if self._in_flight[milliseconds] <= 0:
                del self._in_flight[milliseconds]
            self._answered.append(milliseconds)

    def settle(self) -> None:
        """Refresh the events alias, then publish the earliest stamp still on its way."""
        with self._lock:
            answered = len(self._answered)
            due = self._clock() - self._heartbeat_at >= HEARTBEAT_MS
            if not answered and not (due and self._published is not None):
                return
        if answered:
            self._client.indices.refresh(
                index=self._alias, ignore_unavailable=True, allow_no_indices=True
            )
        with self._lock:
            del self._answered[:answered]
            pending = [*self._in_flight, *self._answered]
            self._publish(min(pending) if pending else None)

    def close(self) -> None:
        """Everything answered is made searchable, and the document removed."""
        try:
            with self._lock:
                answered = bool(self._answered)
            if answered:
                self._client.indices.refresh(
                    index=self._alias, ignore_unavailable=True, allow_no_indices=True
                )
            with self._lock:
                if self._present:
                    self._client.options(ignore_status=404).delete(
                        index=self._index, id=self._id, refresh=True
                    )
                    self._present = False
        except Exception:
            logger.warning("could not remove this pipeline's live watermark", exc_info=True)

    def _publish(self, pending_since: int | None) -> None:
        """Write the document (under the lock); visible to searches when this returns."""
        if pending_since is None and not self._present:
            return
        if not self._present:
            create_index(
                self._client, self._index, settings=SMALL_INDEX, mappings=writers_mapping()
            )
        now = self._clock()
        self._client.index(
            index=self._index,
            id=self._id,
            document={PENDING_SINCE: pending_since, HEARTBEAT: now, "host": socket.gethostname()},
            refresh=True,
        )
        self._present = True
        self._published = pending_since
        self._heartbeat_at = now

    def _run(self) -> None:
        while not self._stop.wait(self._settle_every):
            try:
                self.settle()
            except Exception:
                logger.warning("could not publish this pipeline's live watermark", exc_info=True)
