"""``trailql detect``: evaluate the rules over stored events (a backfill), then notify."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from rich.table import Table

from common.elastic import sync_client
from common.settings import IndexSettings
from detections import RuleError, Window
from detections.continuous import configured
from detections.notifications import deliver_pending
from trailql.connection import resolve_connection
from trailql.output import EXIT_OK, error, stderr

#: Without --from: from the first event there could be.
_BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)


def _moment(text: str | None, default: datetime) -> datetime:
    if text is None:
        return default
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def run(arguments: argparse.Namespace) -> int:
    """Evaluate every rule over [--from, --to); print what each raised."""
    try:
        start = _moment(arguments.start, _BEGINNING)
        end = _moment(arguments.end, datetime.now(UTC))
    except ValueError as exc:
        return error(f"--from/--to: {exc}")
    if start >= end:
        return error("--from must be before --to")
    alias = IndexSettings().index
    client = sync_client(resolve_connection())
    try:
        setup = configured(client, alias)
        with stderr.status("evaluating the rules…"):
            outcome, _ = setup.detector.evaluate(Window(start, end))
        delivered = deliver_pending(client, alias, setup.channels) if setup.channels else {}
    except (RuleError, ValueError) as exc:
        return error(exc)
    finally:
        client.close()
    table = Table(title=f"Findings over {alias}", show_header=True)
    table.add_column("rule")
    table.add_column("findings", justify="right")
    for name, count in sorted(outcome.by_rule.items()):
        table.add_row(name, f"{count:,}")
    table.add_row("all (new)", f"{outcome.findings:,} ({len(outcome.created):,})")
    stderr.print(table)
    for channel, count in delivered.items():
        stderr.print(f"{channel}: {count:,} delivered")
    return EXIT_OK
