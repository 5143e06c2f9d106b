"""``trailql indices list|optimize|delete|count|snapshot|snapshots|restore``: lifecycle, no ILM."""

from __future__ import annotations

import argparse
import sys

import orjson
from elasticsearch import ApiError, Elasticsearch, TransportError
from rich.table import Table

from common.elastic import sync_client
from common.settings import IndexSettings
from indexer.lifecycle import (
    LifecycleError,
    Month,
    MonthlyIndex,
    count,
    delete,
    ensure_repository,
    monthly_indices,
    optimize,
    restore,
    snapshot,
    snapshots,
)
from schema.hourly import COMPLETE, INEXACT, month_of_hours_index
from trailql.commands.index import index_layout
from trailql.connection import resolve_connection
from trailql.output import EXIT_OK, error, stderr


def run(arguments: argparse.Namespace) -> int:
    """Run one lifecycle action on the alias's indices (``TRAILQL_INDEX``)."""
    alias = IndexSettings().index
    client = sync_client(resolve_connection())
    try:
        return _ACTIONS[arguments.action](client, alias, arguments)
    except LifecycleError as exc:
        return error(exc)
    except ApiError as exc:
        return error(f"Elasticsearch refused: {_reason(exc)}")
    except TransportError as exc:
        return error(f"Elasticsearch is unavailable: {exc}")
    finally:
        client.close()


def _list(client: Elasticsearch, alias: str, arguments: argparse.Namespace) -> int:
    months = monthly_indices(client, alias)
    if arguments.json:
        for index in months:
            line = {
                "index": index.name,
                "month": str(index.month),
                "documents": index.documents,
                "size_bytes": index.size_bytes,
                "primary_bytes": index.primary_bytes,
                "segments": index.segments,
                "shards": index.shards,
                "replicas": index.replicas,
                "read_only": index.read_only,
                "health": index.health,
                "counts": index.counts,
            }
            sys.stdout.write(orjson.dumps(line).decode() + "\n")
        return EXIT_OK
    _show(_table(f"Monthly indices of {alias}", months))
    total = sum(index.documents for index in months)
    stderr.print(f"{_count(len(months), 'month')}, {_count(total, 'event')}")
    return EXIT_OK


def _table(title: str, months: list[MonthlyIndex]) -> Table:
    table = Table(title=title)
    columns = (
        "month",
        "documents",
        "size",
        "segments",
        "shards",
        "replicas",
        "read-only",
        "health",
        "counts",
    )
    for column in columns:
        table.add_column(column, justify="left" if column == "month" else "right")
    for index in months:
        table.add_row(
            str(index.month),
            f"{index.documents:,}",
            _size(index.size_bytes),
            f"{index.segments:,}",
            str(index.shards),
            str(index.replicas),
            "yes" if index.read_only else "no",
            index.health,
            index.counts,
        )
    return table


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":  # noqa: PLR2004 -- binary units
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError  # pragma: no cover  the loop always returns


def _optimize(client: Elasticsearch, alias: str, arguments: argparse.Namespace) -> int:
    before = Month.parse(arguments.before)
    with stderr.status("optimizing…") as status:
        done = optimize(
            client,
            alias,
            before,
            on_index=lambda index: status.update(
                f"merging {index.name} ({index.segments} segments)"
            ),
        )
    for item in done:
        if item.made_read_only or item.segments_after != item.index.segments:
            stderr.print(
                f"{item.index.name}: read-only, {item.index.segments} → {item.segments_after} "
                "segments",
                soft_wrap=True,
            )
        else:
            stderr.print(f"{item.index.name}: already optimized", soft_wrap=True)
    stderr.print(f"{_count(len(done), 'month')} before {before}: read-only and merged")
    return EXIT_OK


def _delete(client: Elasticsearch, alias: str, arguments: argparse.Namespace) -> int:
    before = Month.parse(arguments.before)
    months = delete(client, alias, before, dry_run=arguments.dry_run)
    verb = "would delete" if arguments.dry_run else "deleted"
    for index in months:
        stderr.print(f"{verb} {index.name} ({index.documents:,} events)", soft_wrap=True)
    events = sum(index.documents for index in months)
    stderr.print(
        f"{verb} {_count(len(months), 'month')} before {before}, {_count(events, 'event')}"
    )
    return EXIT_OK


def _recount(client: Elasticsearch, alias: str, arguments: argparse.Namespace) -> int:
    months = [Month.parse(text) for text in arguments.month]
    with stderr.status("counting…") as status:
        done = count(
            client,
            alias,
            index_layout(),
            months=months,
            on_month=lambda month: status.update(f"counting {month} from its events"),
        )
    for month in done.recovered:
        stderr.print(
            f"{month}: counted again, a pipeline stopped before counting it", soft_wrap=True
        )
    for month, state in done.counted:
        stderr.print(f"{month}: {state}{_STATE_SAYS.get(state, '')}", soft_wrap=True)
    for month in done.dropped:
        stderr.print(f"{month}: counts dropped, its events are gone", soft_wrap=True)
    inexact = sum(state != COMPLETE for _, state in done.counted)
    stderr.print(
        f"{_count(len(done.counted), 'month')} counted"
        + (f", {inexact:,} not exact" if inexact else "")
    )
    # Not a failure: an inexact month's statistics are still exact, only read from events.
    return EXIT_OK


_STATE_SAYS = {
    INEXACT: " (an event holds several values of a counted field: its statistics are read"
    " from the events)",
}


def _snapshot(client: Elasticsearch, alias: str, arguments: argparse.Namespace) -> int:
    ensure_repository(client, arguments.repository, arguments.location)
    with stderr.status(f"snapshotting {alias}…"):
        taken = snapshot(client, alias, arguments.repository, arguments.name)
    sys.stdout.write(taken.name + "\n")
    stderr.print(
        f"snapshot {taken.name} of {len(taken.indices):,} indices in {arguments.repository}",
        soft_wrap=True,
    )
    return EXIT_OK


def _snapshots(client: Elasticsearch, _alias: str, arguments: argparse.Namespace) -> int:
    ensure_repository(client, arguments.repository, arguments.location)
    table = Table(title=f"Snapshots in {arguments.repository}")
    for column in ("snapshot", "state", "started", "indices"):
        table.add_column(column)
    for taken in snapshots(client, arguments.repository):
        table.add_row(taken.name, taken.state, taken.started, f"{len(taken.indices):,}")
    _show(table)
    return EXIT_OK


def _restore(client: Elasticsearch, alias: str, arguments: argparse.Namespace) -> int:
    ensure_repository(client, arguments.repository, arguments.location)
    months = [Month.parse(text) for text in arguments.month]
    with stderr.status(f"restoring from {arguments.snapshot}…"):
        outcome = restore(client, alias, arguments.repository, arguments.snapshot, months=months)
    for name in outcome.restored:
        stderr.print(f"restored {name}", soft_wrap=True)
    for name in outcome.present:
        stderr.print(f"left {name} as it is: it exists (delete it to restore it)", soft_wrap=True)
    # The summary counts months; a month's hourly counts travel with it and are listed above.
    restored = [name for name in outcome.restored if month_of_hours_index(alias, name) is None]
    present = [name for name in outcome.present if month_of_hours_index(alias, name) is None]
    stderr.print(f"{len(restored):,} restored, {len(present):,} left as they were")
    return EXIT_OK


_ACTIONS = {
    "list": _list,
    "optimize": _optimize,
    "delete": _delete,
    "count": _recount,
    "snapshot": _snapshot,
    "snapshots": _snapshots,
    "restore": _restore,
}


def _reason(exc: ApiError) -> str:
    """Elasticsearch's own ``type: reason``, and its causes', which say what to fix."""
    body = exc.body if isinstance(exc.body, dict) else {}
    cause, reasons = body.get("error"), list[str]()
    while isinstance(cause, dict) and len(reasons) < 8:  # noqa: PLR2004 -- a bound on nesting
        reasons.append(f"{cause.get('type')}: {cause.get('reason')}")
        cause = cause.get("caused_by")
    return "; ".join(reasons) or str(exc)


def _show(table: Table) -> None:
    """Whole lines in a log or a pipe too, where rich would otherwise assume 80 columns."""
    if stderr.is_terminal:
        stderr.print(table)
        return
    width = stderr.width
    stderr.width = _LOG_WIDTH
    try:
        stderr.print(table)
    finally:
        stderr.width = width


_LOG_WIDTH = 160


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}" if number == 1 else f"{number:,} {noun}s"
