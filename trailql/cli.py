"""The ``trailql`` command: its arguments, and the command module each one runs.

Each command's work is in ``trailql.commands`` (one module each); what they print and how
they exit, in ``trailql.output``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
from collections.abc import Sequence
from datetime import date
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from trailql.output import EXIT_ERROR, EXIT_INCOMPLETE, EXIT_OK, error, stderr

__all__ = ["EXIT_ERROR", "EXIT_INCOMPLETE", "EXIT_OK", "main"]

_MONTH = re.compile(r"[0-9]{4}-[0-9]{2}")

if TYPE_CHECKING:
    # argparse names no public type for what add_subparsers returns.
    Subparsers = argparse._SubParsersAction["_Parser"]  # noqa: SLF001


def _version() -> str:
    try:
        return metadata.version("trailql")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day (YYYY-MM-DD)") from None


def _month(text: str) -> str:
    """Checked here, read by the command (``indexer.lifecycle.Month``), so --help stays light."""
    if not _MONTH.fullmatch(text) or not 1 <= int(text[5:]) <= 12:  # noqa: PLR2004 -- months
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a month (YYYY-MM)")
    return text


class _Parser(argparse.ArgumentParser):
    """argparse, with a mistake told in one line and a pointer to --help, not the usage."""

    def error(self, message: str) -> NoReturn:
        """Say what is wrong with the arguments, and exit 2."""
        self.exit(EXIT_ERROR, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _add_export(commands: Subparsers) -> None:
    export = commands.add_parser(
        "export", help="write every event a filter matches to stdout (NDJSON or CSV)"
    )
    export.add_argument(
        "--filter", metavar="JSON", help='an EventFilter as JSON: {"eventName": ["DeleteLogGroup"]}'
    )
    export.add_argument("--format", choices=("ndjson", "csv"), default="ndjson", help="(ndjson)")
    export.add_argument(
        "--fields", metavar="A,B.C", help="only these fields (dotted paths); CSV's columns"
    )
    export.add_argument("--api-key", help="the API key whose accounts to export (TRAILQL_API_KEY)")
    export.add_argument("--token", help="or a JWT bearer token (TRAILQL_TOKEN)")


def _add_generate_detect_and_verify(commands: Subparsers) -> None:
    """``trailql generate``, ``trailql detect`` and ``trailql verify``."""
    generate = commands.add_parser("generate", help="write synthetic trail files for demos")
    generate.add_argument(
        "out", metavar="OUT", help="folder to write into, or s3://bucket/prefix to upload to"
    )
    generate.add_argument("--events", type=int, default=10_000, help="how many events")
    generate.add_argument("--seed", type=int, default=1, help="same seed, same files")
    generate.add_argument(
        "--digests", action="store_true", help="also an hourly chain of signed digest files"
    )
    generate.add_argument(
        "--attacks",
        action="store_true",
        help="also plant labelled attacks and look-alikes; write ground-truth.json beside them",
    )
    generate.add_argument(
        "--signing-key",
        type=Path,
        metavar="KEY",
        help="--digests: RSA private key (PEM) to sign with; made if the file does not exist",
    )
    generate.add_argument(
        "--public-keys-out",
        type=Path,
        metavar="FILE",
        help="--digests: where to write the key list for verify --public-keys "
        "(default: KEY with .public-keys.json)",
    )

    detect = commands.add_parser(
        "detect", help="evaluate the detection rules over stored events (a backfill)"
    )
    detect.add_argument("--from", dest="start", help="first eventTime (ISO 8601; default: all)")
    detect.add_argument("--to", dest="end", help="eventTime to stop before (default: now)")

    verify = commands.add_parser(
        "verify", help="check log files and digests against CloudTrail's signed digests"
    )
    verify.add_argument("sources", nargs="+", metavar="SOURCE", help="folder or s3://bucket/prefix")
    verify.add_argument("--since", type=_day, help="first day folder to read (YYYY-MM-DD, UTC)")
    verify.add_argument("--until", type=_day, help="last day folder to read (YYYY-MM-DD, UTC)")
    verify.add_argument(
        "--public-keys",
        type=Path,
        action="append",
        metavar="FILE",
        help="CloudTrail's public keys as `aws cloudtrail list-public-keys` prints them "
        "(repeat for several regions); default: ask CloudTrail",
    )
    verify.add_argument("--json", action="store_true", help="one JSON object on standard output")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="trailql",
        description="Who did what to your CloudWatch Logs, from where, and when.",
    )
    parser.add_argument("--version", action="version", version=f"trailql {_version()}")
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of any failure, too"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    _elasticsearch_parser(commands)

    index = commands.add_parser("index", help="load CloudTrail log files into Elasticsearch")
    index.add_argument("sources", nargs="*", metavar="SOURCE", help="file, folder or s3://…")
    index.add_argument("--since", type=_day, help="first day folder to read (YYYY-MM-DD, UTC)")
    index.add_argument("--until", type=_day, help="last day folder to read (YYYY-MM-DD, UTC)")
    index.add_argument("--bulk-mb", type=float, default=8.0, help="bulk request size in MB")
    index.add_argument("--concurrency", type=int, default=2, help="bulk requests at once")
    index.add_argument(
        "--parse-workers",
        type=int,
        default=1,
        metavar="N",
        help="processes reading and deriving events (1); more pays when Elasticsearch runs "
        "on other machines",
    )
    index.add_argument(
        "--sqs-queue-url", metavar="URL", help="load the files this queue announces, until stopped"
    )
    index.add_argument(
        "--follow", action="store_true", help="keep polling the s3:// SOURCEs for new files"
    )
    index.add_argument(
        "--poll-interval", type=float, default=60.0, metavar="S", help="--follow: seconds (60)"
    )
    index.add_argument(
        "--chunk-files",
        type=int,
        default=100,
        metavar="N",
        help="--follow: files loaded, then recorded, together (100; a crash redoes one chunk)",
    )
    index.add_argument(
        "--max-receives",
        type=int,
        default=5,
        metavar="N",
        help="SQS: receives of a failing message before it is left to the dead-letter queue (5)",
    )
    index.add_argument(
        "--visibility-timeout",
        type=int,
        metavar="S",
        help="SQS: seconds a message stays hidden, extended while it loads (the queue's)",
    )
    index.add_argument(
        "--retry-delay", type=int, default=30, metavar="S", help="SQS: seconds before a retry (30)"
    )
    index.add_argument(
        "--wait-seconds", type=int, default=20, metavar="S", help="SQS: long-poll wait, 0-20 (20)"
    )
    index.add_argument("--metrics-port", type=int, metavar="PORT", help="serve Prometheus metrics")
    index.add_argument(
        "--public-keys",
        type=Path,
        action="append",
        metavar="FILE",
        help="CloudTrail's public keys (`aws cloudtrail list-public-keys` output) to check "
        "digests with; default: ask CloudTrail",
    )
    index.add_argument(
        "--no-integrity",
        action="store_true",
        help="continuous modes: skip digest files and do not check integrity",
    )

    _add_generate_detect_and_verify(commands)

    serve = commands.add_parser("serve", help="serve the GraphQL API")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="processes serving the API (default: one per core)",
    )
    serve.add_argument(
        "--log-format",
        choices=("auto", "json", "text"),
        help="auto: readable lines at a terminal, JSON lines elsewhere (TRAILQL_LOG_FORMAT)",
    )

    keys = commands.add_parser("keys", help="mint API keys for the API")
    key_actions = keys.add_subparsers(dest="action", required=True, metavar="ACTION")
    mint = key_actions.add_parser("mint", help="print a new key and the hash line the API needs")
    mint.add_argument("name", help="who the key is for, shown in logs (letters, digits, ._@-)")
    mint.add_argument(
        "accounts", nargs="+", metavar="ACCOUNT", help="AWS account IDs it may see, or '*' for all"
    )
    mint.add_argument(
        "--scope",
        action="append",
        choices=["read", "triage"],
        help="what the key may do: read (the default), triage (change findings' status)",
    )
    expiry = mint.add_mutually_exclusive_group()
    expiry.add_argument("--days", type=int, help="expire the key this many days from now")
    expiry.add_argument("--expires", help="expire the key at this ISO 8601 date or time (UTC)")

    quarantine = commands.add_parser(
        "quarantine", help="records that could not be indexed as events: list or replay them"
    )
    quarantine_actions = quarantine.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = quarantine_actions.add_parser("list", help="list quarantined records")
    listing.add_argument(
        "--json", action="store_true", help="one JSON object per line, the record included"
    )
    replay = quarantine_actions.add_parser(
        "replay", help="index quarantined records again; those indexed leave the quarantine"
    )
    for action in (listing, replay):
        action.add_argument("--reason", help="only records quarantined for this reason")

    _indices_parser(commands)

    _add_export(commands)
    commands.add_parser("schema", help="print the GraphQL schema (SDL)")
    return parser


def _elasticsearch_parser(commands: Subparsers) -> None:
    elasticsearch = commands.add_parser(
        "elasticsearch", help="run a local Elasticsearch, one node or a cluster, for development"
    )
    actions = elasticsearch.add_subparsers(dest="action", required=True, metavar="ACTION")
    up = actions.add_parser("up", help='start it and print export lines: eval "$(… up)"')
    up.add_argument(
        "--nodes", type=int, default=1, help="nodes: 1 (default), or 2-9 for a local cluster"
    )
    up.add_argument(
        "--port", type=int, help="HTTP port of the (first) node: 9200 for one node, 9301 a cluster"
    )
    up.add_argument("--heap", help="JVM heap of each node: 1g for one node, 512m in a cluster")
    up.add_argument(
        "--engine",
        choices=("elasticsearch", "opensearch"),
        help="elasticsearch (default) or opensearch: the engine to run, on a port of its own",
    )
    up.add_argument(
        "--version",
        help="of the engine: Elasticsearch 9.3.2 unless told (8.19.3 is tested); OpenSearch 2.19.6",
    )
    down = actions.add_parser("down", help="stop every local node, or one (its data is kept)")
    down.add_argument("--port", type=int, help="only the node on this HTTP port")
    down.add_argument(
        "--cluster", action="store_true", help="with --port: every node of that node's cluster"
    )
    status = actions.add_parser("status", help="which local nodes run; each cluster's health")
    status.add_argument("--port", type=int, help="only the node on this port, and its cluster")


def _indices_parser(commands: Subparsers) -> None:
    indices = commands.add_parser(
        "indices", help="the monthly indices: list, optimize, delete, count, snapshot, restore"
    )
    index_actions = indices.add_subparsers(dest="action", required=True, metavar="ACTION")
    listed = index_actions.add_parser("list", help="each month: documents, size, segments")
    listed.add_argument("--json", action="store_true", help="one JSON object per line, to stdout")
    optimize = index_actions.add_parser(
        "optimize", help="make months read-only and force-merge them to one segment a shard"
    )
    delete = index_actions.add_parser("delete", help="delete months past retention")
    for action in (optimize, delete):
        action.add_argument(
            "--before", type=_month, required=True, metavar="YYYY-MM", help="months before this"
        )
    recount = index_actions.add_parser(
        "count",
        help="count whole each month whose hourly counts are not complete (statistics read "
        "from counts only when every month's are)",
    )
    recount.add_argument(
        "--month",
        type=_month,
        action="append",
        default=[],
        metavar="YYYY-MM",
        help="count this month again whatever its state (repeatable)",
    )
    confirm = delete.add_mutually_exclusive_group(required=True)
    confirm.add_argument("--dry-run", action="store_true", help="only list what would go")
    confirm.add_argument("--yes", action="store_true", help="delete them")
    snapshot = index_actions.add_parser(
        "snapshot", help="snapshot every index of the alias to a filesystem repository"
    )
    snapshot.add_argument("--name", help="the snapshot's name (default: alias and UTC time)")
    listing_snapshots = index_actions.add_parser("snapshots", help="list a repository's snapshots")
    restore = index_actions.add_parser(
        "restore", help="restore the alias's indices from a snapshot (never over existing ones)"
    )
    restore.add_argument("snapshot", metavar="SNAPSHOT", help="the snapshot's name")
    restore.add_argument(
        "--month",
        type=_month,
        action="append",
        default=[],
        metavar="YYYY-MM",
        help="only this month (repeatable)",
    )
    for action in (snapshot, listing_snapshots, restore):
        action.add_argument(
            "--repository", default="trailql", help="repository name (default trailql)"
        )
        action.add_argument(
            "--location",
            help="register the repository at this folder (under the nodes' path.repo) first",
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; the return value is the process's exit code.

    The command's module is imported only now, so ``--help`` does not load the API. What a
    user can cause is said in a line or two with its own exit code (trailql/failures.py);
    ``--debug`` adds the traceback, which is otherwise shown only for a failure of ours.
    """
    arguments = _parser().parse_args(argv)
    try:
        command = importlib.import_module(f"trailql.commands.{arguments.command}")
        code: int = command.run(arguments)
    except KeyboardInterrupt:
        return EXIT_INCOMPLETE
    except Exception as exc:  # noqa: BLE001  the entry point: every failure is told, once
        from trailql.failures import explain  # noqa: PLC0415  the client, loaded only now

        failure = explain(exc)
        if failure is None:
            stderr.print_exception()
            return error(f"a bug in TrailQL ({type(exc).__name__}); the traceback is above")
        if arguments.debug:
            stderr.print_exception()
        error(failure.message)
        return failure.exit_code
    return code


if __name__ == "__main__":
    sys.exit(main())
