"""Pages of events read a few months at a time, newest (or oldest) first.

Events live one month to an index. Searching the whole alias for the newest 100 events
makes every monthly index find and sort its own newest 100, so a page costs more with every
month of retention. A page instead asks for the month the order starts in first, then the
next two, four, ... months, each search limited to its months by an eventTime range (so
Elasticsearch skips the other indices without opening them), and stops as soon as the page is
full: a first page usually costs one search of one month, whatever the retention.

The months come from the names of the indices behind the alias, remembered for a minute. The
first search's range is open towards the order's start, so a month created since is still
read; an index that is not a month (the indices of events with a field left unindexed) is read
by whichever search's range holds its events.

Where it can, a search names the indices its range may touch instead of the alias
(:meth:`Slice.named_indices`): Elasticsearch then asks one shard, query and fetch in one round,
rather than first asking every month's shard whether it could match (about 0.6 ms of a
3.3 ms page over twelve months). Every month the range covers is named, known or not, so a
month created since is still read; the indices of unindexed fields are named as last read.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import MAXYEAR, UTC, datetime, timedelta
from typing import Any

from elasticsearch import AsyncElasticsearch, NotFoundError

from schema.hourly import (
    COMPLETE,
    expired_claims_query,
    hours_alias,
    states_of,
    uncounted_index,
)
from schema.mapping import holds_events_of, month_of_index, monthly_index, unindexed_field

#: How long the months behind an alias are trusted before they are read again.
MONTHS_FRESH_SECONDS = 60.0

#: The most indices one search names; a longer range searches the alias.
MOST_NAMED_MONTHS = 36
#: The longest list of names a search sends: a search alone carries it in its URL's path,
#: and Elasticsearch refuses a request line longer than 4 KB (``http.max_initial_line_length``).
MOST_NAMED_CHARACTERS = 2_000

#: How far past the clock a month may already hold events: the indexer refuses an eventTime
#: more than ``TRAILQL_MAX_FUTURE`` (a day unless set) ahead of its own clock.
FUTURE_REACH = timedelta(days=32)

#: The smallest step of a datetime: the last instant before an excluded end.
_INSTANT = timedelta(microseconds=1)


@dataclass(frozen=True)
class Slice:
    """One search's share of the timeline: eventTime from ``start`` (inclusive) to ``end``."""

    start: datetime | None
    end: datetime | None

    def range_query(self, field_name: str) -> dict[str, Any] | None:
        """The range filter for this slice, or None when it is the whole timeline."""
        bounds: dict[str, str] = {}
        if self.start is not None:
            bounds["gte"] = self.start.isoformat()
        if self.end is not None:
            bounds["lt"] = self.end.isoformat()
        return {"range": {field_name: bounds}} if bounds else None

    @classmethod
    def around(cls, start: datetime, end: datetime) -> Slice:
        """The whole months holding the instants from ``start`` up to ``end`` (UTC, excluded).

        Open towards the future when ``end`` lies in the last month a datetime can hold.
        """
        return cls(_month_start(start), _next(_month_start(max(start, end - _INSTANT))))

    def named_indices(
        self,
        alias: str,
        now: datetime,
        *,
        newest_known: datetime | None = None,
        unindexed: tuple[str, ...] = (),
    ) -> str | None:
        """The indices of ``alias`` that may hold this slice's events, by name, or None.

        Every month from the slice's start to its end is named, known or not (a missing
        index is skipped), and the ``unindexed`` indices (of events with a field left
        unindexed, whose events may lie in any month). A slice open towards the future ends
        at the last month the indexer's window of eventTimes reaches
        (:data:`FUTURE_REACH`). None (search the alias) when the slice is open towards the
        past, where a backfill may create any month; open towards the future while a month
        beyond the reach is known (``newest_known``: an older TrailQL's absurd times, or a
        clock behind); or when it names too many (:data:`MOST_NAMED_MONTHS`,
        :data:`MOST_NAMED_CHARACTERS`: a long alias names fewer).
        """
        if self.start is None:
            return None
        last = self.end
        if last is None:
            last = _next(_month_start(now + FUTURE_REACH))
            if last is None or (newest_known is not None and newest_known >= last):
                return None
        months: list[str] = []
        month: datetime | None = _month_start(self.start)
        while month is not None and month < last:
            if len(months) == MOST_NAMED_MONTHS:
                return None
            months.append(monthly_index(alias, month))
            month = _next(month)
        named = ",".join([*months, *unindexed])
        return named if months and len(named) <= MOST_NAMED_CHARACTERS else None


@dataclass(frozen=True)
class _Behind:
    """What the names of the indices behind an alias say, and when they were read."""

    read_at: float
    months: list[datetime]
    only_months: bool  # no index whose events may lie in any month
    #: Every month's events are counted by hour (schema/hourly.py), and there is a month.
    counted: bool = False
    #: Every index is a month or holds events with a field left unindexed, and the alias
    #: filters and routes none: a search may name them instead (:meth:`Slice.named_indices`).
    nameable: bool = False
    #: The indices of events with a field left unindexed (schema/mapping.py without_index).
    unindexed: tuple[str, ...] = ()


@dataclass
class Months:
    """The first instant of each month with an index behind each alias, kept a minute."""

    _known: dict[str, _Behind] = field(default_factory=dict)

    async def of(self, elasticsearch: AsyncElasticsearch, alias: str) -> list[datetime]:
        """The months behind ``alias``, oldest first."""
        return (await self._behind(elasticsearch, alias)).months

    async def span(
        self, elasticsearch: AsyncElasticsearch, alias: str
    ) -> tuple[datetime, datetime] | None:
        """A range every event behind ``alias`` lies in, from the indices' names alone.

        From the start of the first month to the end of the last; None when there is no
        index, or one that is not a month (its events may lie anywhere). A month created in
        the last minute is not in it yet.
        """
        behind = await self._behind(elasticsearch, alias)
        if not behind.months or not behind.only_months:
            return None
        return behind.months[0], _next(behind.months[-1]) or datetime.max.replace(tzinfo=UTC)

    async def counted(self, elasticsearch: AsyncElasticsearch, alias: str) -> bool:
        """Whether the hourly counts of ``alias`` hold every event of every month behind it.

        Read with the months: a month whose counts are being built, or cannot be exact, or
        are missing (deleted, or not restored with it), or counts of a month whose events are
        gone, make every statistic read the events.
        """
        return (await self._behind(elasticsearch, alias)).counted

    async def named(
        self, elasticsearch: AsyncElasticsearch, alias: str, piece: Slice, now: datetime
    ) -> str | None:
        """The indices behind ``alias`` that ``piece`` reads, by name; None: the alias.

        Always the alias when an index that is neither a month nor of unindexed events is
        behind it, or when the alias filters or routes an index: a search by name would
        skip the filter.
        """
        behind = await self._behind(elasticsearch, alias)
        if not behind.nameable:
            return None
        newest = behind.months[-1] if behind.months else None
        return piece.named_indices(alias, now, newest_known=newest, unindexed=behind.unindexed)

    async def _behind(self, elasticsearch: AsyncElasticsearch, alias: str) -> _Behind:
        now = time.monotonic()
        known = self._known.get(alias)
        if known is not None and now - known.read_at < MONTHS_FRESH_SECONDS:
            return known
        try:
            indices = dict((await elasticsearch.indices.get_alias(name=alias)).body)
        except NotFoundError:
            indices = {}
        names = list(indices)
        of_names = [month_of_index(alias, name) for name in names]
        months = sorted({month for month in of_names if month is not None})
        # Counts of a month whose events are gone (deleted by ILM) would count them still.
        counts = await _hours_states(elasticsearch, alias)
        counted = (
            bool(months)
            and counts.keys() == set(months)
            and _all_complete(counts)
            and not await _claims_expired(elasticsearch, alias)
        )
        behind = _Behind(
            now,
            months,
            only_months=None not in of_names,
            counted=counted,
            nameable=_nameable(alias, indices),
            unindexed=tuple(sorted(name for name in names if unindexed_field(alias, name))),
        )
        self._known[alias] = behind
        return behind


def _nameable(alias: str, indices: dict[str, Any]) -> bool:
    """Whether every index behind ``alias`` (``GET _alias`` as answered) may be named."""
    for name, entry in indices.items():
        if not holds_events_of(alias, name):
            return False
        definition = (entry.get("aliases") or {}).get(alias) or {}
        if set(definition) & {"filter", "routing", "search_routing"}:
            return False
    return True


async def _hours_states(elasticsearch: AsyncElasticsearch, alias: str) -> dict[datetime, str]:
    """The state of each month's hourly counts (schema/hourly.py)."""
    try:
        mappings = await elasticsearch.indices.get_mapping(index=hours_alias(alias))
    except NotFoundError:
        return {}
    return states_of(alias, mappings.body)


async def _claims_expired(elasticsearch: AsyncElasticsearch, alias: str) -> bool:
    """Whether a pipeline died between sending events and counting them (indexer/claims.py).

    Some month's counts may then miss events, until an indexer counts it again.
    """
    try:
        found = await elasticsearch.count(
            index=uncounted_index(alias), query=expired_claims_query()
        )
    except NotFoundError:
        return False
    return int(found["count"]) > 0


def _all_complete(states: dict[datetime, str]) -> bool:
    return all(state == COMPLETE for state in states.values())


def slices(
    months: list[datetime], *, newest_first: bool, resume_at: datetime | None
) -> list[Slice]:
    """The searches a page may need, in the order they are made; together, the whole timeline.

    Each slice reaches to where the one before it stopped, so an event outside every known
    month (in an index that is not a month) is still in exactly one slice. ``resume_at`` is
    the eventTime of the cursor a page starts after, if any: the first slice starts at its
    month, and months on the far side of it are not read.
    """
    ordered = list(reversed(months)) if newest_first else list(months)
    edge: datetime | None = None  # where the previous slice stopped
    if resume_at is not None:
        cursor_month = _month_start(resume_at)
        if newest_first:
            ordered = [start for start in ordered if start <= cursor_month]
            edge = _next(cursor_month)
        else:
            ordered = [start for start in ordered if start >= cursor_month]
            edge = cursor_month
    result: list[Slice] = []
    taken, batch = 0, 1
    while True:
        group = ordered[taken : taken + batch]
        taken += batch
        last = taken >= len(ordered)
        if newest_first:
            start = None if last else group[-1]
            result.append(Slice(start, edge))
            edge = start
        else:
            end = None if last else _next(group[-1])
            result.append(Slice(edge, end))
            edge = end
        if last:
            return result
        batch *= 2


def _month_start(moment: datetime) -> datetime:
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


def _next(month: datetime) -> datetime | None:
    """The month after ``month``; None after the last month a datetime can hold."""
    if month.month == 12 and month.year == MAXYEAR:  # noqa: PLR2004
        return None
    return month.replace(year=month.year + month.month // 12, month=month.month % 12 + 1)
