"""The ``trailql`` command: one entry point for every part.

Standard output carries only what a script consumes (``export`` lines, the SDL); progress,
reports and errors go to standard error.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from trailql.settings import IndexerSettings, IndexSettings

if TYPE_CHECKING:
    from indexer.documents import Problem
    from indexer.pipeline import IndexOptions
    from indexer.quarantine import QuarantinedRecord

_stderr = Console(stderr=True, highlight=False)

EXIT_OK = 0
EXIT_INCOMPLETE = 1  # ran, but something was not indexed
EXIT_ERROR = 2  # could not run: bad arguments, no Elasticsearch


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day (YYYY-MM-DD)") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trailql",
        description="Who did what to your CloudWatch Logs, from where, and when.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    elasticsearch = commands.add_parser(
        "elasticsearch", help="run a local single-node Elasticsearch for development"
    )
    actions = elasticsearch.add_subparsers(dest="action", required=True, metavar="ACTION")
    up = actions.add_parser("up", help='start it and print export lines: eval "$(… up)"')
    up.add_argument("--port", type=int, default=9200, help="HTTP port (default 9200)")
    up.add_argument("--heap", default="1g", help="JVM heap, such as 1g (default)")
    actions.add_parser("down", help="stop it (its data is kept)")
    actions.add_parser("status", help="say whether it runs, and where")

    index = commands.add_parser("index", help="load CloudTrail log files into Elasticsearch")
    index.add_argument("sources", nargs="*", metavar="SOURCE", help="file, folder or s3://…")
    index.add_argument("--since", type=_day, help="first day folder to read (YYYY-MM-DD, UTC)")
    index.add_argument("--until", type=_day, help="last day folder to read (YYYY-MM-DD, UTC)")
    index.add_argument("--bulk-mb", type=float, default=8.0, help="bulk request size in MB")
    index.add_argument("--concurrency", type=int, default=2, help="bulk requests at once")
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

    generate = commands.add_parser("generate", help="write synthetic trail files for demos")
    generate.add_argument("out", type=Path, metavar="OUT", help="folder to write into")
    generate.add_argument("--events", type=int, default=10_000, help="how many events")
    generate.add_argument("--seed", type=int, default=1, help="same seed, same files")

    serve = commands.add_parser("serve", help="serve the GraphQL API")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="processes serving the API (default: one per core)",
    )

    keys = commands.add_parser("keys", help="mint API keys for the API")
    key_actions = keys.add_subparsers(dest="action", required=True, metavar="ACTION")
    mint = key_actions.add_parser("mint", help="print a new key and the hash line the API needs")
    mint.add_argument("name", help="who the key is for, shown in logs (letters, digits, ._@-)")
    mint.add_argument(
        "accounts", nargs="+", metavar="ACCOUNT", help="AWS account IDs it may see, or '*' for all"
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

    commands.add_parser("schema", help="print the GraphQL schema (SDL)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:  # noqa: PLR0911  one return per command
    """Run one command; the return value is the process's exit code."""
    arguments = _parser().parse_args(argv)
    from pydantic import ValidationError  # noqa: PLC0415  keeps --help fast

    from trailql.elastic import NoElasticsearchError  # noqa: PLC0415
    from trailql.local_elasticsearch import LocalElasticsearchError  # noqa: PLC0415

    try:
        match arguments.command:
            case "elasticsearch":
                return _elasticsearch(arguments)
            case "index":
                return _index(arguments)
            case "generate":
                return _generate(arguments)
            case "serve":
                return _serve(arguments)
            case "quarantine":
                return _quarantine(arguments)
            case "keys":
                return _mint_key(arguments)
            case _:
                from api.schema import sdl  # noqa: PLC0415

                sys.stdout.write(sdl())
                return EXIT_OK
    except (NoElasticsearchError, LocalElasticsearchError, ValidationError) as exc:
        _stderr.print(Text.assemble(("error:", "red"), f" {exc}"), soft_wrap=True)
        return EXIT_ERROR


def _mint_key(arguments: argparse.Namespace) -> int:
    from api.keys import KeyConfigError, mint  # noqa: PLC0415

    try:
        key, line = mint(
            arguments.name, arguments.accounts, days=arguments.days, expires=arguments.expires
        )
    except KeyConfigError as exc:
        _stderr.print(Text.assemble(("error:", "red"), f" {exc}"), soft_wrap=True)
        return EXIT_ERROR
    sys.stdout.write(f"{key}\n{line}\n")
    _stderr.print(
        "Line 1 is the key: give it to its user, who sends it as the X-API-Key header; it is "
        "not stored anywhere.\nLine 2 is its hash line: add it to TRAILQL_API_KEYS or to the "
        "file TRAILQL_API_KEYS_FILE names, and restart the API."
    )
    return EXIT_OK


def _elasticsearch(arguments: argparse.Namespace) -> int:
    from trailql import local_elasticsearch  # noqa: PLC0415

    if arguments.action == "up":
        node = local_elasticsearch.up(port=arguments.port, heap=arguments.heap)
        sys.stdout.write(node.exports())
        _stderr.print(f"Elasticsearch {local_elasticsearch.ELASTICSEARCH_VERSION} at {node.url}")
        return EXIT_OK
    if arguments.action == "down":
        stopped = local_elasticsearch.down()
        _stderr.print("stopped" if stopped else "no local Elasticsearch was running")
        return EXIT_OK
    running = local_elasticsearch.status()
    if running is None:
        _stderr.print("no local Elasticsearch is running")
        return EXIT_INCOMPLETE
    _stderr.print(f"running at {running.url} (pid {running.pid}, data in {running.home})")
    return EXIT_OK


def _index(arguments: argparse.Namespace) -> int:
    from elasticsearch import ApiError, TransportError  # noqa: PLC0415

    from indexer.bulk import ElasticsearchUnavailableError  # noqa: PLC0415
    from indexer.run import index_sources  # noqa: PLC0415
    from indexer.service import continuous_mode, run_continuous  # noqa: PLC0415
    from indexer.sources import DayRange, SourceError  # noqa: PLC0415
    from trailql.elastic import resolve_connection, sync_client  # noqa: PLC0415

    alias = IndexSettings().index
    options = _index_options(
        max_bytes=int(arguments.bulk_mb * 1024 * 1024), concurrency=arguments.concurrency
    )
    try:
        mode = continuous_mode(
            sources=arguments.sources,
            queue_url=arguments.sqs_queue_url,
            follow=arguments.follow,
            days=DayRange(arguments.since, arguments.until),
            poll_seconds=arguments.poll_interval,
            max_receives=arguments.max_receives,
            visibility_timeout=arguments.visibility_timeout,
            retry_delay_seconds=arguments.retry_delay,
            wait_seconds=arguments.wait_seconds,
            options=options,
            metrics_port=arguments.metrics_port,
        )
    except ValueError as exc:
        _stderr.print(Text.assemble(("error:", "red"), f" {exc}"))
        return EXIT_ERROR
    client = sync_client(resolve_connection())
    if mode is not None:
        try:
            run_continuous(mode, client=client, alias=alias, metrics_port=arguments.metrics_port)
        except (SourceError, ApiError) as exc:
            _stderr.print(Text.assemble(("error:", "red"), f" {exc}"), soft_wrap=True)
            return EXIT_ERROR
        finally:
            client.close()
        return EXIT_OK
    try:
        with _stderr.status("indexing…") as status:
            summary = index_sources(
                arguments.sources,
                client=client,
                alias=alias,
                days=DayRange(arguments.since, arguments.until),
                options=options,
                on_file=lambda name: status.update(f"indexing {name}"),
            )
    except (TransportError, ElasticsearchUnavailableError) as exc:
        _stderr.print(Text.assemble(("error:", "red"), f" Elasticsearch is unavailable: {exc}"))
        return EXIT_ERROR
    except ApiError as exc:  # refused outright: credentials, privileges, a closed index
        _stderr.print(Text.assemble(("error:", "red"), f" Elasticsearch refused: {exc}"))
        return EXIT_ERROR
    finally:
        client.close()

    table = Table(title=f"Indexed into {alias}", show_header=False)
    table.add_row("files read", f"{summary.files_read:,}")
    for reason, count in sorted(summary.skipped.items()):
        table.add_row("files skipped", f"{count:,} ({reason})")
    table.add_row("files failed", f"{len(summary.failed_files):,}")
    table.add_row("records read", f"{summary.records_read:,}")
    table.add_row("indexed", f"{summary.indexed:,}")
    if summary.partial_records:
        table.add_row("  a field left unindexed", f"{len(summary.partial_records):,}")
    table.add_row("already present", f"{summary.already_present:,}")
    table.add_row("quarantined", f"{len(summary.quarantined_records):,}")
    table.add_row("rejected", f"{len(summary.rejected_records):,}")
    _stderr.print(table)
    _print_problems(
        ("failed", "red", summary.failed_files),
        ("quarantined", "yellow", summary.quarantined_records),
        ("rejected", "red", summary.rejected_records),
        ("unindexed", "yellow", summary.partial_records),
    )
    return EXIT_OK if summary.clean else EXIT_INCOMPLETE


def _index_options(**bulk: int) -> IndexOptions:
    from indexer.documents import TimeWindow  # noqa: PLC0415
    from indexer.pipeline import IndexOptions  # noqa: PLC0415

    settings = IndexerSettings()
    window = TimeWindow(settings.earliest_event_time, settings.max_future)
    return IndexOptions(**bulk, window=window)


def _print_problems(*groups: tuple[str, str, list[Problem]]) -> None:
    """One line per problem, never wrapped or read as markup: people grep these."""
    for label, style, problems in groups:
        for problem in problems:
            line = Text.assemble((label, style), f" {problem.where}: {problem.reason}")
            _stderr.print(line, soft_wrap=True)


def _quarantine(arguments: argparse.Namespace) -> int:
    from elasticsearch import TransportError  # noqa: PLC0415

    from indexer.bulk import ElasticsearchUnavailableError  # noqa: PLC0415
    from indexer.quarantine import quarantine_index, quarantined  # noqa: PLC0415
    from indexer.replay import replay_quarantine  # noqa: PLC0415
    from trailql.elastic import resolve_connection, sync_client  # noqa: PLC0415

    alias = IndexSettings().index
    client = sync_client(resolve_connection())
    try:
        if arguments.action == "list":
            records = quarantined(client, alias, reason=arguments.reason)
            return _list_quarantine(records, json=arguments.json, index=quarantine_index(alias))
        with _stderr.status("replaying the quarantine…"):
            summary = replay_quarantine(
                client, alias, options=_index_options(), reason=arguments.reason
            )
    except (TransportError, ElasticsearchUnavailableError) as exc:
        _stderr.print(Text.assemble(("error:", "red"), f" Elasticsearch is unavailable: {exc}"))
        return EXIT_ERROR
    finally:
        client.close()
    table = Table(title=f"Replayed from {quarantine_index(alias)}", show_header=False)
    table.add_row("records replayed", f"{summary.replayed:,}")
    table.add_row("indexed", f"{summary.indexed:,}")
    table.add_row("already present", f"{summary.already_present:,}")
    table.add_row("still quarantined", f"{len(summary.still_quarantined):,}")
    table.add_row("rejected", f"{len(summary.rejected):,}")
    _stderr.print(table)
    _print_problems(
        ("quarantined", "yellow", summary.still_quarantined),
        ("rejected", "red", summary.rejected),
        ("unindexed", "yellow", summary.partial),
    )
    return EXIT_OK if summary.clean else EXIT_INCOMPLETE


def _list_quarantine(records: Iterable[QuarantinedRecord], *, json: bool, index: str) -> int:
    """Records in quarantine: JSON lines on standard output, or a table on standard error."""
    import orjson  # noqa: PLC0415

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
        _stderr.print(table)
    _stderr.print(f"{count:,} records in quarantine")
    return EXIT_OK


def _generate(arguments: argparse.Namespace) -> int:
    from generator import generate  # noqa: PLC0415

    trail = generate(arguments.out, events=arguments.events, seed=arguments.seed)
    _stderr.print(
        f"wrote {trail.events:,} events in {trail.files:,} files under {arguments.out} "
        f"({trail.first_event_time:%Y-%m-%d} to {trail.last_event_time:%Y-%m-%d})"
    )
    return EXIT_OK


def _serve(arguments: argparse.Namespace) -> int:
    import logging  # noqa: PLC0415

    import uvicorn  # noqa: PLC0415

    from api.app import create_app  # noqa: PLC0415
    from api.auth import AuthConfigError  # noqa: PLC0415
    from api.logs import configure_logging  # noqa: PLC0415
    from api.metrics import MULTIPROCESS_DIRECTORY  # noqa: PLC0415
    from api.rate_limit import RateConfigError  # noqa: PLC0415
    from api.settings import ApiSettings  # noqa: PLC0415
    from trailql.elastic import resolve_connection  # noqa: PLC0415

    if arguments.workers < 1:
        _stderr.print("[red]error:[/] --workers must be 1 or more")
        return EXIT_ERROR
    configure_logging()  # every line on stderr is JSON: ours, and uvicorn's through the root
    settings = ApiSettings()
    connection = resolve_connection()
    try:
        app = create_app(connection, IndexSettings().index, settings)  # checks the settings
    except (AuthConfigError, RateConfigError) as exc:
        _stderr.print(f"[red]error:[/] {exc}")
        return EXIT_ERROR
    url = f"http://{arguments.host}:{arguments.port}/graphql"
    logging.getLogger("trailql.api").info(
        "GraphiQL: %s (%d worker%s)", url, arguments.workers, "s" * (arguments.workers > 1)
    )
    # The API logs each request itself (api/request_log.py): no uvicorn access log, and no
    # logging config of uvicorn's own, so its lines reach the JSON handler too.
    options: dict[str, Any] = {
        "host": arguments.host,
        "port": arguments.port,
        "log_level": "info",
        "log_config": None,
        "access_log": False,
        # SIGTERM: requests in flight get this long to finish, then are cancelled.
        "timeout_graceful_shutdown": settings.shutdown_timeout,
    }
    if arguments.workers == 1:
        uvicorn.run(app, **options)
        return EXIT_OK
    # Several processes: each builds the app from the environment, so the cluster resolved
    # here (perhaps the local node) goes into it, and metrics are kept in files they share.
    os.environ.update(connection.environment())
    with tempfile.TemporaryDirectory(prefix="trailql-metrics-") as metrics_directory:
        os.environ[MULTIPROCESS_DIRECTORY] = metrics_directory
        uvicorn.run(
            "api.app:app_from_environment", factory=True, workers=arguments.workers, **options
        )
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
