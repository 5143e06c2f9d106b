"""Claims on months whose counts may miss events: what survives a pipeline that dies.

A pipeline counts the hours its events fell in once they are all acknowledged
(indexer/hourly.py). Between the two, a crash, a lost node or a failed count would leave a
month's counts short of its events, and nothing would count it again unless the same
files were delivered again. So before it sends the first event of a month, a pipeline
claims the month (one small document, schema/hourly.py), renews the claim while it works,
and removes it once the month is counted. A claim left to expire is found by the next
pipeline to finish, or by ``trailql indices count``: its months are counted whole again,
then the claim is removed, unless its pipeline renewed it meanwhile.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from elasticsearch import ApiError, Elasticsearch, TransportError

from common.retry import Backoff, transient
from common.times import now_ms
from indexer.bulk import ElasticsearchUnavailableError
from indexer.indices import SMALL_INDEX, create_index
from schema.hourly import (
    CLAIM_EXPIRES,
    CLAIM_LEASE_MS,
    CLAIMED_MONTHS,
    expired_claims_query,
    uncounted_index,
    uncounted_mapping,
)

#: Expired claims handled by one pipeline's end; any more wait for the next.
_EXPIRED_AT_ONCE = 100


@dataclass(frozen=True)
class ExpiredClaim:
    """A dead pipeline's claim, with what removing it only if unchanged needs."""

    claim_id: str
    months: list[datetime]
    seq_no: int
    primary_term: int


class Claims:
    """One pipeline's claim: the months it has sent events to since they were last counted."""

    def __init__(
        self,
        client: Elasticsearch,
        alias: str,
        retries: int = 0,
        backoff: Backoff | None = None,
        *,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self._client = client
        self._retries = retries
        self._backoff = backoff or Backoff()
        self._index = uncounted_index(alias)
        self._id = f"{socket.gethostname()}:{uuid.uuid4().hex[:12]}"
        self._clock = clock
        self._months: set[int] = set()
        self._renew_at = 0
        self._present = False

    def fresh(self) -> bool:
        """Whether the claim need not be renewed yet (checked for every event)."""
        return self._clock() < self._renew_at

    def covers(self, month_ms: int) -> bool:
        """Whether the claim holds ``month_ms`` and need not be renewed yet."""
        return month_ms in self._months and self.fresh()

    def claim(self, month_ms: int) -> None:
        """Claim ``month_ms`` too, renewing the claim; before any event of it is sent.

        Raises:
            ElasticsearchUnavailableError: not written after every retry; no event of the
                month may be sent (the caller waits, or stops, as for a bulk request).
        """
        self._months.add(month_ms)
        for attempt in range(self._retries + 1):
            try:
                self._write()
            except (ApiError, TransportError) as exc:
                if not transient(exc) or attempt == self._retries:
                    raise ElasticsearchUnavailableError(f"could not claim a month: {exc}") from exc
                time.sleep(self._backoff.delay(attempt))
            else:
                return

    def _write(self) -> None:
        now = self._clock()
        if not self._present:
            create_index(
                self._client, self._index, settings=SMALL_INDEX, mappings=uncounted_mapping()
            )
        self._client.index(
            index=self._index,
            id=self._id,
            document={
                CLAIMED_MONTHS: sorted(self._months),
                CLAIM_EXPIRES: now + CLAIM_LEASE_MS,
                "host": socket.gethostname(),
            },
        )
        self._present = True
        self._renew_at = now + CLAIM_LEASE_MS // 2

    def release(self) -> None:
        """Every claimed month is counted: the claim goes."""
        if self._present:
            self._client.options(ignore_status=404).delete(index=self._index, id=self._id)
        self._present = False
        self._months.clear()
        self._renew_at = 0

    def expired(self) -> list[ExpiredClaim]:
        """Other pipelines' claims left to expire, oldest first."""
        found = self._client.options(ignore_status=404).search(
            index=self._index,
            query=expired_claims_query(self._clock()),
            size=_EXPIRED_AT_ONCE,
            sort=[{CLAIM_EXPIRES: "asc"}],
            seq_no_primary_term=True,
        )
        if found.meta.status == 404:  # noqa: PLR2004 -- no claim was ever made
            return []
        return [
            ExpiredClaim(
                hit["_id"],
                _listed(hit),
                int(hit["_seq_no"]),
                int(hit["_primary_term"]),
            )
            for hit in found["hits"]["hits"]
            if hit["_id"] != self._id
        ]

    def drop(self, claim: ExpiredClaim) -> None:
        """Remove a dead pipeline's claim, unless it was renewed (or removed) since it was read."""
        try:
            self._client.delete(
                index=self._index,
                id=claim.claim_id,
                if_seq_no=claim.seq_no,
                if_primary_term=claim.primary_term,
            )
        except ApiError as exc:
            if exc.status_code not in {404, 409}:
                raise


def _listed(hit: dict[str, Any]) -> list[datetime]:
    """A claim's months; a value that is no month TrailQL could hold is left out."""
    months = (hit.get("_source") or {}).get(CLAIMED_MONTHS, [])
    found = []
    for value in months if isinstance(months, list) else [months]:
        try:
            moment = datetime.fromtimestamp(int(value) / 1000, UTC)
        except (TypeError, ValueError, OverflowError, OSError):
            continue
        found.append(moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0))
    return found
