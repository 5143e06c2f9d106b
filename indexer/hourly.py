"""Keeping the hourly counts (schema/hourly.py) equal to the events, batch after batch.

Counts are never added to: the hours a batch touched are counted again from the events
once the batch is searchable, so a file delivered twice, a worker that died half way and
two workers on the same hour all end with what the events say. Each count document's
version is its count (``external``: written only when strictly greater): events are only
ever added to an hour (a month is deleted whole, its counts with it), so a count written
late by a worker that saw fewer events is refused rather than put back, and a count
unchanged since the last batch costs no write.

A month whose counts do not exist yet is counted whole first (events indexed before
TrailQL kept counts, or a month restored from a snapshot); only then does the API read it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from elasticsearch import ApiError, Elasticsearch

from indexer.bulk import BULK_HEADERS
from indexer.claims import Claims
from indexer.indices import create_index
from schema import IndexLayout
from schema.hourly import (
    BUILDING,
    COMPLETE,
    COUNTED_PATHS,
    EVENTS,
    INEXACT,
    STATE_KEY,
    hours_alias,
    hours_index,
    hours_index_body,
    states_of,
)
from schema.mapping import monthly_index
from schema.paths import EVENT_TIME

_HOUR_MS = 3_600_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Hours counted by one composite search: a day, so each search reads a bounded slice.
_HOURS_PER_SEARCH = 24
_PAGE = 10_000
#: How Elasticsearch refuses a count no newer than the one it holds.
_NOT_NEWER = "version_conflict_engine_exception"
#: The counts written by one ``_bulk`` request.
_BULK_DOCUMENTS = 5_000


class CountingError(Exception):
    """Elasticsearch refused a count document for a reason other than a newer count."""


def hour_of(event_time: datetime) -> int:
    """The hour an event falls in, as epoch milliseconds of its start (exactly: no float)."""
    milliseconds = (event_time - _EPOCH) // timedelta(milliseconds=1)
    return milliseconds - milliseconds % _HOUR_MS


def _month_of(hour: int) -> datetime:
    moment = datetime.fromtimestamp(hour / 1000, UTC)
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


def _next_month(month: datetime) -> datetime:
    return (month + timedelta(days=32)).replace(day=1)


def _runs(hours: Iterable[int]) -> Iterator[tuple[int, int]]:
    """Sorted hours as [start, end) ranges of at most a day, each of consecutive hours."""
    start = end = None
    for hour in sorted(hours):
        if start is not None and end is not None:
            if hour == end and (end - start) // _HOUR_MS < _HOURS_PER_SEARCH:
                end += _HOUR_MS
                continue
            yield start, end
        start, end = hour, hour + _HOUR_MS
    if start is not None and end is not None:
        yield start, end


#: Each counted path as the objects holding it in a count document, and its own key.
_COUNTED_PLACES = tuple(
    (path, tuple(path.split(".")[:-1]), path.rsplit(".", 1)[-1]) for path in COUNTED_PATHS
)


def _document_id(hour: int, values: list[object]) -> str:
    digest = hashlib.blake2b(orjson.dumps(values), digest_size=12).hexdigest()
    return f"{hour}-{digest}"


def _action_opening(index: str) -> bytes:
    """``{"index":{"_index":<index>,"_id":`` as orjson writes it: the rest is added per count."""
    return orjson.dumps({"index": {"_index": index, "_id": ""}})[: -len(b'""}}')]


def _action(opening: bytes, document_id: str, events: int) -> bytes:
    """The action line of one count, as orjson.dumps would write it (the id is ASCII)."""
    return b'%s"%s","version":%d,"version_type":"external"}}' % (
        opening,
        document_id.encode(),
        events,
    )


def _count_document(hour: int, key: dict[str, Any], events: int) -> dict[str, Any]:
    document: dict[str, Any] = {EVENT_TIME: hour, EVENTS: events, "_doc_count": events}
    for path, parents, leaf in _COUNTED_PLACES:
        value = key.get(path)
        if value is None:
            continue
        holder = document
        for parent in parents:
            holder = holder.setdefault(parent, {})
        holder[leaf] = value
    return document


class HourlyCounts:
    """The hours one pipeline's events fell in, counted again when its batch is done."""

    def __init__(
        self,
        client: Elasticsearch,
        alias: str,
        layout: IndexLayout | None,
        *,
        claims: Claims | None = None,
    ) -> None:
        self._client = client
        self._alias = alias
        self._layout = layout
        self._touched: set[int] = set()
        self._claims = claims or Claims(client, alias)

    def touch(self, event_time: datetime) -> None:
        """Note the hour of an event about to be sent (indexed now or already there).

        Its month is claimed first (indexer/claims.py), so that a crash before the count
        leaves a trace for another indexer to count it again.
        """
        hour = hour_of(event_time)
        if hour in self._touched and self._claims.fresh():
            return
        self._touched.add(hour)
        month = hour_of(_month_of(hour))
        if not self._claims.covers(month):
            self._claims.claim(month)

    def update(self) -> None:
        """Count the touched hours again, from the events as they are now searchable.

        Then release this pipeline's claim, and count whole the months of claims that
        dead pipelines left behind.
        """
        touched, self._touched = self._touched, set()
        if touched:
            self._recount(touched)
        self._claims.release()
        self.recover()

    def recover(self) -> list[datetime]:
        """Count whole the months of expired claims, then drop the claims; those months."""
        recounted: list[datetime] = []
        for claim in self._claims.expired():
            # A month deleted since has nothing to count (and must not get counts back).
            months = [
                month
                for month in claim.months
                if self._client.indices.exists(index=monthly_index(self._alias, month))
            ]
            self.count_whole(months)
            self._claims.drop(claim)
            recounted += months
        return sorted(set(recounted))

    def count_whole(self, months: list[datetime]) -> None:
        """Count every hour of ``months`` again from their events (no claim: nothing is sent)."""
        hours = {
            hour
            for month in months
            for hour in range(hour_of(month), hour_of(_next_month(month)), _HOUR_MS)
        }
        if hours:
            self._recount(hours)

    def _recount(self, touched: set[int]) -> None:
        self._client.indices.refresh(index=self._alias, ignore_unavailable=True)
        by_month: dict[datetime, set[int]] = {}
        for hour in touched:
            by_month.setdefault(_month_of(hour), set()).add(hour)
        finished: list[tuple[str, str]] = []
        for month, hours_touched in sorted(by_month.items()):
            index = hours_index(self._alias, month)
            state = self._state(index)
            whole = state == BUILDING
            first, last = hour_of(month), hour_of(_next_month(month))
            hours = set(range(first, last, _HOUR_MS)) if whole else hours_touched
            exact = self._count(index, hours)
            if not exact and state != INEXACT:
                finished.append((index, INEXACT))
            elif whole and exact:
                finished.append((index, COMPLETE))
        self._client.indices.refresh(index=hours_alias(self._alias), ignore_unavailable=True)
        for index, state in finished:
            # Another worker may have found the month inexact meanwhile: that stays.
            if state == INEXACT or self._state(index) == BUILDING:
                self._client.indices.put_mapping(index=index, meta={STATE_KEY: state})

    def _state(self, index: str) -> str:
        """The month's state, its index created (BUILDING) if it does not exist."""
        create_index(self._client, index, **hours_index_body(self._alias, self._layout))
        mapping = self._client.indices.get_mapping(index=index)
        meta = mapping[index]["mappings"].get("_meta") or {}
        return str(meta.get(STATE_KEY, BUILDING))

    def _count(self, index: str, hours: set[int]) -> bool:
        """Write the counts of ``hours``; False if some event holds several counted values."""
        exact = True
        lines: list[bytes] = []
        # Versioned by its count, ``external``: strictly newer only, so a count already
        # there unchanged costs no write.
        opening = _action_opening(index)
        for start, end in _runs(hours):
            counted, totals = self._counted(start, end)
            added: dict[int, int] = {}
            for hour, key, events in counted:
                added[hour] = added.get(hour, 0) + events
                document_id = _document_id(hour, [key.get(path) for path in COUNTED_PATHS])
                lines += [
                    _action(opening, document_id, events),
                    orjson.dumps(_count_document(hour, key, events)),
                ]
                if len(lines) >= 2 * _BULK_DOCUMENTS:
                    self._write(lines)
                    lines = []
            exact = exact and added == totals
        if lines:
            self._write(lines)
        return exact

    def _counted(
        self, start: int, end: int
    ) -> tuple[list[tuple[int, dict[str, Any], int]], dict[int, int]]:
        """Each hour's combinations of values in [start, end), with their events; hours' totals."""
        sources: list[dict[str, Any]] = [
            {"hour": {"date_histogram": {"field": EVENT_TIME, "fixed_interval": "1h"}}}
        ]
        sources += [
            {path: {"terms": {"field": path, "missing_bucket": True}}} for path in COUNTED_PATHS
        ]
        query = {"range": {EVENT_TIME: {"gte": start, "lt": end, "format": "epoch_millis"}}}
        found: list[tuple[int, dict[str, Any], int]] = []
        totals: dict[int, int] = {}
        after: dict[str, Any] | None = None
        while True:
            composite: dict[str, Any] = {"size": _PAGE, "sources": sources}
            aggregations: dict[str, Any] = {"combinations": {"composite": composite}}
            if after is not None:
                composite["after"] = after
            else:
                aggregations["hours"] = {
                    "date_histogram": {"field": EVENT_TIME, "fixed_interval": "1h"}
                }
            response = self._client.search(
                index=self._alias,
                size=0,
                query=query,
                aggs=aggregations,
                track_total_hits=False,
                ignore_unavailable=True,
                allow_no_indices=True,
            )
            answered = response.get("aggregations") or {}
            if "hours" in answered:
                totals = {
                    b["key"]: b["doc_count"] for b in answered["hours"]["buckets"] if b["doc_count"]
                }
            combinations = answered.get("combinations", {})
            buckets = combinations.get("buckets", [])
            found += [(b["key"]["hour"], b["key"], b["doc_count"]) for b in buckets]
            after = combinations.get("after_key")
            if not buckets or after is None:
                return found, totals

    def _write(self, lines: list[bytes]) -> None:
        """Send NDJSON lines to ``_bulk``; only the failures come back to be read."""
        response = self._client.perform_request(
            "POST",
            "/_bulk",
            params={"filter_path": "errors,items.*.error"},
            headers=BULK_HEADERS,
            body=b"\n".join(lines) + b"\n",
        ).body
        if not response.get("errors"):
            return
        items: list[dict[str, dict[str, Any]]] = response.get("items", [])
        for item in items:
            error: dict[str, Any] = item.get("index", {}).get("error") or {}
            # A count as new or newer is there: another worker counted more events, or the same.
            if error and error.get("type") != _NOT_NEWER:
                raise CountingError(f"{error.get('index')}: {error}")


def delete_hours(client: Elasticsearch, alias: str, month: datetime) -> None:
    """Drop a month's counts with its events (a month is only ever deleted whole)."""
    try:
        client.indices.delete(index=hours_index(alias, month))
    except ApiError as exc:
        if exc.status_code != 404:  # noqa: PLR2004
            raise


def month_states(client: Elasticsearch, alias: str) -> dict[datetime, str]:
    """Each month's counts state (schema/hourly.py); a month without counts is absent."""
    found = client.options(ignore_status=404).indices.get_mapping(index=hours_alias(alias))
    if found.meta.status == 404:  # noqa: PLR2004 -- no counts at all
        return {}
    return states_of(alias, found.body)


def count_month(
    client: Elasticsearch, alias: str, layout: IndexLayout | None, month: datetime
) -> str:
    """Count a month whole again from its events; the state its counts are left in.

    For months indexed before TrailQL kept counts, restored without them, or found inexact
    once (counted again: the events may have been corrected since).
    """
    delete_hours(client, alias, month)
    HourlyCounts(client, alias, layout).count_whole([month])
    return month_states(client, alias).get(month, BUILDING)
