"""Keeping years of monthly indices healthy without ILM: list, optimize, delete, snapshot, restore.

The server-only distribution has no index lifecycle management, so these are plain calls a
scheduler (cron, a Kubernetes CronJob) can run: a month no more events arrive for is made
read-only and force-merged to one segment per shard; a month past retention is deleted by
name; the alias's indices are snapshotted to, and restored from, a filesystem repository.

Only indices that are the alias's own are touched: monthly ones named ``<alias>-YYYY.MM`` and
behind the alias, and, for snapshots, their hourly counts and the state, quarantine and
``_without_`` indices beside them. Never a wildcard delete; never the current month.
"""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from elasticsearch import Elasticsearch
from elasticsearch.exceptions import GeneralAvailabilityWarning

from common.indices import state_index
from indexer.hourly import HourlyCounts, count_month, delete_hours, month_states
from indexer.quarantine import quarantine_index
from schema import IndexLayout
from schema.hourly import COMPLETE, hours_index

#: Force-merged months have this many segments per shard: the fewest, the fastest to search.
MERGED_SEGMENTS = 1
#: Snapshots and restores are waited for by polling, so no request runs longer than this.
_POLL_SECONDS = 1.0
_WAIT_SECONDS = 3600.0
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
#: What follows the alias in the names of its indices (see ``schema.mapping``).
_MONTHLY = re.compile(r"-([0-9]{4})\.([0-9]{2})")
_WITHOUT = re.compile(r"_without_[a-z0-9_]+")
_HOURS = re.compile(r"_hours-([0-9]{4})\.([0-9]{2})")


class LifecycleError(Exception):
    """Asked for something that cannot be done as asked; the message says what to do."""


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month, as ``YYYY-MM``."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """``2024-07`` as a month; ValueError for anything else."""
        match = _MONTH.fullmatch(text.strip())
        if match is None or not 1 <= int(match[2]) <= 12:  # noqa: PLR2004 -- months
            raise ValueError(f"{text[:40]!r} is not a month (YYYY-MM)")
        return cls(int(match[1]), int(match[2]))

    @classmethod
    def current(cls, now: datetime | None = None) -> Month:
        """The month it is now, in UTC (events are filed by their UTC eventTime)."""
        return cls.of(now or datetime.now(UTC))

    @classmethod
    def of(cls, moment: datetime) -> Month:
        """The month ``moment`` falls in (its own zone: give it in UTC)."""
        return cls(moment.year, moment.month)

    def first_instant(self) -> datetime:
        """Its first instant, in UTC."""
        return datetime(self.year, self.month, 1, tzinfo=UTC)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass(frozen=True)
class MonthlyIndex:
    """One month's index as the cluster reports it."""

    name: str
    month: Month
    documents: int
    #: On disk, every copy included; ``primary_bytes``: the primaries alone.
    size_bytes: int
    primary_bytes: int
    #: Lucene segments across the primaries; a merged month has one per shard.
    segments: int
    shards: int
    replicas: int
    read_only: bool
    health: str
    #: Its hourly counts' state (schema/hourly.py), or ``none``: statistics over it are read
    #: from the counts only when every month's are complete.
    counts: str = "none"

    @property
    def merged(self) -> bool:
        """Read-only, and merged down to the fewest segments."""
        return self.read_only and self.segments <= self.shards * MERGED_SEGMENTS


def monthly_indices(client: Elasticsearch, alias: str) -> list[MonthlyIndex]:
    """The alias's monthly indices, oldest first."""
    names = _monthly_names(client, alias)
    if not names:
        return []
    pattern = f"{alias}-*"
    stats = client.indices.stats(index=pattern, metric="docs,store,segments")["indices"]
    settings = client.indices.get_settings(
        index=pattern,
        name="index.number_of_shards,index.number_of_replicas,index.blocks.write",
        flat_settings=True,
    )
    rows = client.cat.indices(index=pattern, format="json", h="index,health").body
    health = {row["index"]: row["health"] for row in rows if isinstance(row, dict)}
    counts = month_states(client, alias)
    found = []
    for name, month in sorted(names.items(), key=lambda item: item[1]):
        primaries = stats.get(name, {}).get("primaries", {})
        total = stats.get(name, {}).get("total", {})
        flat = settings.get(name, {}).get("settings", {})
        found.append(
            MonthlyIndex(
                name=name,
                month=month,
                documents=int(primaries.get("docs", {}).get("count", 0)),
                size_bytes=int(total.get("store", {}).get("size_in_bytes", 0)),
                primary_bytes=int(primaries.get("store", {}).get("size_in_bytes", 0)),
                segments=int(primaries.get("segments", {}).get("count", 0)),
                shards=int(flat.get("index.number_of_shards", 1)),
                replicas=int(flat.get("index.number_of_replicas", 0)),
                read_only=str(flat.get("index.blocks.write", "false")).lower() == "true",
                health=str(health.get(name, "unknown")),
                counts=counts.get(month.first_instant(), "none"),
            )
        )
    return found


def _monthly_names(client: Elasticsearch, alias: str) -> dict[str, Month]:
    """Indices behind ``alias`` named ``<alias>-YYYY.MM``, with their months."""
    behind = client.options(ignore_status=404).indices.get_alias(name=alias)
    if behind.meta.status == 404:  # noqa: PLR2004 -- no such alias: no months
        return {}
    names = {}
    for name in behind.body:
        match = _MONTHLY.fullmatch(name.removeprefix(alias)) if name.startswith(alias) else None
        if match is not None:
            names[name] = Month(int(match[1]), int(match[2]))
    return names


def _before(client: Elasticsearch, alias: str, before: Month, *, now: Month) -> list[MonthlyIndex]:
    """Months strictly before ``before``, which may not reach into the current month."""
    if before > now:
        raise LifecycleError(
            f"--before {before} would include the current month ({now}), which is still being "
            f"written; the latest allowed is --before {now}"
        )
    return [index for index in monthly_indices(client, alias) if index.month < before]


@dataclass(frozen=True)
class Optimized:
    """What ``optimize`` did to one month."""

    index: MonthlyIndex
    made_read_only: bool
    segments_after: int


def optimize(
    client: Elasticsearch,
    alias: str,
    before: Month,
    *,
    now: Month | None = None,
    on_index: Callable[[MonthlyIndex], None] | None = None,
) -> list[Optimized]:
    """Make every month before ``before`` read-only and force-merge it to one segment a shard.

    Months already so are left alone, so running it again costs nothing. A late event for a
    read-only month is refused (403) and its file retried until the month is made writable
    again (``index.blocks.write: false``): optimize only months that are complete.
    """
    done = []
    for index in _before(client, alias, before, now=now or Month.current()):
        if index.merged:
            done.append(Optimized(index, made_read_only=False, segments_after=index.segments))
            continue
        if on_index is not None:
            on_index(index)
        if not index.read_only:
            client.indices.put_settings(index=index.name, settings={"index.blocks.write": True})
        if index.segments > index.shards * MERGED_SEGMENTS:
            _force_merge(client, index.name)
        after = client.indices.stats(index=index.name, metric="segments")
        segments = int(after["indices"][index.name]["primaries"]["segments"]["count"])
        done.append(Optimized(index, made_read_only=not index.read_only, segments_after=segments))
    return done


def _force_merge(client: Elasticsearch, name: str) -> None:
    """Run as a task and waited for, so that no one request outlives the client's timeout."""
    answer = client.indices.forcemerge(
        index=name, max_num_segments=MERGED_SEGMENTS, wait_for_completion=False
    )
    task = str(answer["task"])
    deadline = time.monotonic() + _WAIT_SECONDS
    while time.monotonic() < deadline:
        with warnings.catch_warnings():
            # The tasks API is "technical preview" to the client, and has been for years.
            warnings.simplefilter("ignore", GeneralAvailabilityWarning)
            status = client.tasks.get(task_id=task, wait_for_completion=True, timeout="20s")
        if status.get("completed"):
            if status.get("error"):
                raise LifecycleError(f"force merge of {name} failed: {status['error']}")
            return
    raise LifecycleError(f"force merge of {name} still runs after {_WAIT_SECONDS:.0f} s")


def delete(
    client: Elasticsearch,
    alias: str,
    before: Month,
    *,
    dry_run: bool,
    now: Month | None = None,
) -> list[MonthlyIndex]:
    """The months before ``before``: deleted, or with ``dry_run`` only listed.

    Each by its name: clusters commonly refuse wildcard deletes. A month's hourly counts go
    with it.
    """
    doomed = _before(client, alias, before, now=now or Month.current())
    if not dry_run:
        for index in doomed:
            client.indices.delete(index=index.name)
            delete_hours(client, alias, index.month.first_instant())
    return doomed


@dataclass(frozen=True)
class Counted:
    """What ``count`` did: months counted whole (state after), months whose counts went."""

    counted: list[tuple[Month, str]]
    dropped: list[Month]
    #: Months counted again because a pipeline stopped between sending and counting.
    recovered: list[Month]


def count(
    client: Elasticsearch,
    alias: str,
    layout: IndexLayout | None,
    *,
    months: Iterable[Month] = (),
    on_month: Callable[[Month], None] | None = None,
) -> Counted:
    """Count whole each month whose hourly counts are not complete (or each of ``months``).

    Until every month's counts are complete, statistics are read from the events: months
    indexed before TrailQL kept counts, restored without them, or left half-counted by a
    worker that died need this once. Counts whose month has no events any more are dropped;
    months a pipeline claimed and never counted (indexer/claims.py) are counted again first.
    """
    recovered = [Month.of(moment) for moment in HourlyCounts(client, alias, layout).recover()]
    present = [index.month for index in monthly_indices(client, alias)]
    asked = sorted(set(months))
    if missing := [month for month in asked if month not in present]:
        raise LifecycleError(f"no index for {', '.join(map(str, missing))}")
    states = month_states(client, alias)
    wanted = asked or [month for month in present if states.get(month.first_instant()) != COMPLETE]
    counted = []
    for month in wanted:
        if on_month is not None:
            on_month(month)
        counted.append((month, count_month(client, alias, layout, month.first_instant())))
    kept = {month.first_instant() for month in present}
    dropped = [moment for moment in sorted(states) if moment not in kept]
    for moment in dropped:
        delete_hours(client, alias, moment)
    return Counted(counted, [Month.of(moment) for moment in dropped], recovered)


def alias_indices(client: Elasticsearch, alias: str) -> list[str]:
    """Every index of the alias: months, their hourly counts, state, quarantine, ``_without_``."""
    found = client.indices.get(
        index=f"{alias}-*,{alias}_*", allow_no_indices=True, expand_wildcards="open"
    )
    return sorted(name for name in found if _belongs(name, alias))


def _belongs(name: str, alias: str) -> bool:
    if name in {state_index(alias), quarantine_index(alias)}:
        return True
    rest = name.removeprefix(alias) if name.startswith(alias) else ""
    return any(pattern.fullmatch(rest) is not None for pattern in (_MONTHLY, _WITHOUT, _HOURS))


def ensure_repository(client: Elasticsearch, repository: str, location: str | None) -> None:
    """Register a filesystem repository at ``location`` (again is harmless), or check it is.

    ``location`` must lie under a folder every node lists in ``path.repo``; a relative one is
    taken under the first of them.
    """
    if location is not None:
        client.snapshot.create_repository(
            name=repository, repository={"type": "fs", "settings": {"location": location}}
        )
        return
    found = client.options(ignore_status=404).snapshot.get_repository(name=repository)
    if found.meta.status == 404:  # noqa: PLR2004 -- not found
        raise LifecycleError(
            f"there is no snapshot repository {repository!r}: register it with --location "
            f"(a folder under the nodes' path.repo)"
        )


@dataclass(frozen=True)
class Snapshot:
    """One snapshot of a repository."""

    name: str
    state: str
    indices: tuple[str, ...]
    started: str
    shards_failed: int = 0


def snapshot(
    client: Elasticsearch, alias: str, repository: str, name: str | None = None
) -> Snapshot:
    """Snapshot every index of the alias (no cluster state) and wait until it is done."""
    indices = alias_indices(client, alias)
    if not indices:
        raise LifecycleError(f"{alias} has no indices to snapshot")
    name = name or f"{alias}-{datetime.now(UTC):%Y.%m.%d-%H.%M.%S}".lower()
    client.snapshot.create(
        repository=repository,
        snapshot=name,
        indices=indices,
        include_global_state=False,
        wait_for_completion=False,
    )
    deadline = time.monotonic() + _WAIT_SECONDS
    while time.monotonic() < deadline:
        taken = _snapshot(client, repository, name)
        if taken.state not in {"IN_PROGRESS", "STARTED", "INIT"}:
            if taken.state != "SUCCESS":
                raise LifecycleError(
                    f"snapshot {name} ended {taken.state} ({taken.shards_failed} shards failed)"
                )
            return taken
        time.sleep(_POLL_SECONDS)
    raise LifecycleError(f"snapshot {name} still runs after {_WAIT_SECONDS:.0f} s")


def snapshots(client: Elasticsearch, repository: str) -> list[Snapshot]:
    """Every snapshot in the repository, oldest first."""
    answer = client.snapshot.get(repository=repository, snapshot="*", sort="start_time")
    return [_described(entry) for entry in answer["snapshots"]]


def _snapshot(client: Elasticsearch, repository: str, name: str) -> Snapshot:
    answer = client.options(ignore_status=404).snapshot.get(repository=repository, snapshot=name)
    entries = answer.body.get("snapshots") if isinstance(answer.body, dict) else None
    if answer.meta.status == 404 or not entries:  # noqa: PLR2004 -- not found
        raise LifecycleError(f"repository {repository!r} holds no snapshot {name!r}")
    return _described(entries[0])


def _described(entry: dict[str, Any]) -> Snapshot:
    return Snapshot(
        name=str(entry["snapshot"]),
        state=str(entry.get("state", "UNKNOWN")),
        indices=tuple(sorted(entry.get("indices", []))),
        started=str(entry.get("start_time", "")),
        shards_failed=int(entry.get("shards", {}).get("failed", 0)),
    )


@dataclass(frozen=True)
class Restored:
    """What ``restore`` brought back, and what it left alone because it was there."""

    restored: list[str]
    present: list[str]


def restore(
    client: Elasticsearch,
    alias: str,
    repository: str,
    name: str,
    *,
    months: Iterable[Month] = (),
) -> Restored:
    """Restore the alias's indices from a snapshot (only ``months``' when given).

    An index that exists is never overwritten: it is left as it is and listed as present
    (delete it first to restore it). Returns once every restored primary is available.
    """
    taken = _snapshot(client, repository, name)
    wanted = {f"{alias}-{month.year:04d}.{month.month:02d}" for month in months}
    # A month's hourly counts come back with it when the snapshot holds them.
    counts = {hours_index(alias, month.first_instant()) for month in months}
    candidates = [
        index
        for index in taken.indices
        if _belongs(index, alias) and (not wanted or index in wanted | counts)
    ]
    if wanted - set(candidates):
        missing = ", ".join(sorted(wanted - set(candidates)))
        raise LifecycleError(f"snapshot {name} holds no {missing}")
    present = [index for index in candidates if client.indices.exists(index=index)]
    restored = [index for index in candidates if index not in present]
    if restored:
        client.snapshot.restore(
            repository=repository,
            snapshot=name,
            indices=restored,
            include_aliases=True,
            include_global_state=False,
            wait_for_completion=False,
        )
        _wait_for_primaries(client, restored)
    return Restored(restored, present)


def _wait_for_primaries(client: Elasticsearch, names: list[str]) -> None:
    """Until every primary of ``names`` is active (restoring ones count as yellow, not red)."""
    settings = client.indices.get_settings(
        index=names, name="index.number_of_shards", flat_settings=True
    )
    primaries = sum(int(entry["settings"]["index.number_of_shards"]) for entry in settings.values())
    deadline = time.monotonic() + _WAIT_SECONDS
    while time.monotonic() < deadline:
        health = client.cluster.health(index=names)
        if int(health["active_primary_shards"]) >= primaries:
            return
        time.sleep(_POLL_SECONDS)
    raise LifecycleError(f"restored indices not available after {_WAIT_SECONDS:.0f} s")
