"""``trailql quarantine list|replay``: records that could not be indexed as events."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable

import orjson
from rich.table import Table

from common.elastic import sync_client
from common.settings import IndexSettings
from indexer.quarantine import QuarantinedRecord, quarantine_index, quarantined
from indexer.replay import replay_quarantine
from trailql.commands.index import index_options
from trailql.connection import resolve_connection
from trailql.output import EXIT_INCOMPLETE, EXIT_OK, problems, stderr


def run(arguments: argparse.Namespace) -> int:
    """List what is in quarantine, or index it again (exit 1 when some is still there)."""
    alias = IndexSettings().index
    client = sync_client(resolve_connection())
    try:
        if arguments.action == "list":
            records = quarantined(client, alias, reason=arguments.reason)
            return _list(records, json=arguments.json, index=quarantine_index(alias))
        with stderr.status("replaying the quarantine…"):
            summary = replay_quarantine(
                client, alias, options=index_options(), reason=arguments.reason
            )
    finally:
        client.close()
    table = Table(title=f"Replayed from {quarantine_index(alias)}", show_header=False)
    table.add_row("records replayed", f"{summary.replayed:,}")
    table.add_row("indexed", f"{summary.indexed:,}")
    table.add_row("already present", f"{summary.already_present:,}")
    table.add_row("still quarantined", f"{len(summary.still_quarantined):,}")
    table.add_row("rejected", f"{len(summary.rejected):,}")
    stderr.print(table)
    problems(
        ("quarantined", "yellow", summary.still_quarantined),
        ("rejected", "red", summary.rejected),
        ("unindexed", "yellow", summary.partial),
    )
    return EXIT_OK if summary.clean else EXIT_INCOMPLETE


def _list(records: Iterable[QuarantinedRecord], *, json: bool, index: str) -> int:
    """Records in quarantine: JSON lines on standard output, or a table on standard error."""
    if json:
        for record in records:
            line = {
                "file": record.file,
                "record_number": record.record_number,
                "reason": record.reason,
                "detail": record.detail,
                "event_id": record.event_id,
                "quarantined_at": record.quarantined_at,
                "record": record.raw.text,
                "record_base64": record.document().get("record_base64"),
            }
            sys.stdout.write(orjson.dumps(line).decode() + "\n")
        return EXIT_OK
    table = Table(title=f"Quarantined in {index}")
    for column in ("file", "record", "reason", "detail"):
        table.add_column(column, overflow="fold")
    count = 0
    for count, record in enumerate(records, start=1):  # noqa: B007  the count is wanted
        table.add_row(record.file, str(record.record_number), record.reason, record.detail[:200])
    if count:
        stderr.print(table)
    stderr.print(f"{count:,} records in quarantine")
    return EXIT_OK
