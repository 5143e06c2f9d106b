"""``trailql verify``: prove trail files are the ones CloudTrail delivered, from their digests."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

import orjson
from rich.table import Table
from rich.text import Text

from common.layout import DayRange
from integrity import (
    CloudTrailKeys,
    InventoryError,
    KeySource,
    PublicKeyError,
    Report,
    read_key_files,
    take_inventory,
    verify,
)
from trailql.output import EXIT_INCOMPLETE, EXIT_OK, error, stderr


def run(arguments: argparse.Namespace) -> int:
    """Verify every digest and log file under the SOURCEs: exit 0 only if all checked is valid."""
    try:
        keys: KeySource = (
            read_key_files(arguments.public_keys) if arguments.public_keys else CloudTrailKeys()
        )
        with stderr.status("listing…") as status:
            inventory = take_inventory(
                arguments.sources, DayRange(arguments.since, arguments.until)
            )
            total = len(inventory.digests) + len(inventory.log_files)
            done = 0

            def progress() -> None:
                nonlocal done
                done += 1
                if done % 100 == 0 or done == total:
                    status.update(f"verifying… {done:,} of {total:,} files")

            report = verify(inventory, keys, now=datetime.now(UTC), progress=progress)
    except (InventoryError, PublicKeyError) as exc:
        return error(exc)
    if arguments.json:
        sys.stdout.write(orjson.dumps(as_json(report)).decode() + "\n")
    else:
        _print(report)
    return EXIT_OK if report.clean else EXIT_INCOMPLETE


def as_json(report: Report) -> dict[str, Any]:
    """The report as ``--json`` prints it."""
    return {
        "valid": report.clean,
        "files": {verdict.value: count for verdict, count in sorted(report.file_counts.items())},
        "digests": {
            verdict.value: count for verdict, count in sorted(report.digest_counts.items())
        },
        "gaps": [
            {
                "trail": gap.trail,
                "start": None if gap.start is None else _time(gap.start),
                "end": _time(gap.end),
                "reason": gap.reason.value,
                "before": None if gap.before is None else str(gap.before),
                "after": str(gap.after),
            }
            for gap in report.gaps
        ],
        "problems": [
            {"file": problem.file, "kind": problem.kind, "detail": problem.detail}
            for problem in report.problems()
        ],
    }


def _time(moment: datetime) -> str:
    return f"{moment:%Y-%m-%dT%H:%M:%SZ}"


def _print(report: Report) -> None:
    table = Table(title="Verified", show_header=False)
    files, digests = report.file_counts, report.digest_counts
    table.add_row("log files", f"{sum(files.values()):,}")
    for verdict, count in sorted(files.items()):
        table.add_row(f"  {verdict.label}", f"{count:,}")
    table.add_row("digests", f"{sum(digests.values()):,}")
    for digest_verdict, count in sorted(digests.items()):
        table.add_row(f"  {digest_verdict.label}", f"{count:,}")
    table.add_row("gaps", f"{len(report.gaps):,}")
    stderr.print(table)
    for problem in report.problems():
        style = "red" if problem.fails else "yellow"
        detail = f": {problem.detail}" if problem.detail else ""
        stderr.print(
            Text.assemble((problem.kind, style), f" {problem.file}{detail}"), soft_wrap=True
        )
