"""``trailql index``: load trail files once, or keep loading them (``--follow``, SQS)."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import replace
from datetime import UTC

from elasticsearch import Elasticsearch
from rich.table import Table

from common.elastic import sync_client
from common.layout import DayRange
from common.settings import IndexSettings
from detections import DetectionSettings, RuleError
from detections.continuous import ContinuousDetector, configured
from detections.findings import record_finding
from indexer.documents import TimeWindow
from indexer.follow import FollowOptions
from indexer.integrity import IntegrityOptions
from indexer.pipeline import IndexOptions
from indexer.run import IndexSummary, index_sources
from indexer.s3 import is_s3_uri
from indexer.service import run_continuous
from indexer.settings import IndexerSettings
from indexer.sources import SourceError
from indexer.sqs import MAX_WAIT_SECONDS
from indexer.worker import WorkerOptions
from integrity import IntegrityFinding, PublicKeyError, set_finding_recorder
from schema import IndexLayout
from trailql.connection import resolve_connection
from trailql.output import EXIT_INCOMPLETE, EXIT_OK, error, problems, stderr

logger = logging.getLogger(__name__)


#: A bound on a slip of the keyboard: each worker is a process of its own.
MAX_PARSE_WORKERS = 64


def index_options(
    *, max_bytes: int | None = None, concurrency: int | None = None, parse_workers: int = 1
) -> IndexOptions:
    """How records are indexed: the bulk sizes asked for, the time window and layout set."""
    settings = IndexerSettings()
    options = IndexOptions(
        window=TimeWindow(settings.earliest_event_time, settings.max_future),
        layout=index_layout(),
        parse_workers=parse_workers,
    )
    if max_bytes is not None:
        options = replace(options, max_bytes=max_bytes)
    if concurrency is not None:
        options = replace(options, concurrency=concurrency)
    return options


def index_layout() -> IndexLayout:
    """The monthly indices' shards and replicas as set (``TRAILQL_INDEX_*``)."""
    indices = IndexSettings()
    replicas = None if indices.replicas == "auto" else indices.replicas
    return IndexLayout(shards=indices.shards, replicas=replicas)


def _follow_options(
    arguments: argparse.Namespace, options: IndexOptions, integrity: IntegrityOptions
) -> FollowOptions:
    sources: list[str] = arguments.sources
    if not sources or not all(is_s3_uri(source) for source in sources):
        raise ValueError("--follow polls s3://bucket/prefix SOURCEs, and only those")
    if arguments.poll_interval <= 0:
        raise ValueError("--poll-interval must be more than 0 seconds")
    if arguments.chunk_files < 1:
        raise ValueError("--chunk-files must be at least 1")
    return FollowOptions(
        tuple(sources),
        days=DayRange(arguments.since, arguments.until),
        poll_seconds=arguments.poll_interval,
        chunk_files=arguments.chunk_files,
        load=options,
        integrity=integrity,
    )


def continuous_mode(
    arguments: argparse.Namespace, options: IndexOptions
) -> WorkerOptions | FollowOptions | None:
    """What the arguments ask to run; None for a one-off load of the SOURCEs.

    Raises:
        ValueError: the options do not go together; the message says how.
    """
    sources: list[str] = arguments.sources
    integrity = IntegrityOptions(
        enabled=not arguments.no_integrity, public_keys=tuple(arguments.public_keys or ())
    )
    if not 1 <= arguments.parse_workers <= MAX_PARSE_WORKERS:
        raise ValueError(f"--parse-workers must be 1 to {MAX_PARSE_WORKERS}")
    if arguments.parse_workers > 1 and (arguments.follow or arguments.sqs_queue_url is not None):
        raise ValueError("--parse-workers is for a one-off load of SOURCEs")
    if arguments.sqs_queue_url is not None:
        if sources or arguments.follow:
            raise ValueError("--sqs-queue-url takes no SOURCE and no --follow")
        if arguments.max_receives < 1 or not 0 <= arguments.wait_seconds <= MAX_WAIT_SECONDS:
            raise ValueError("--max-receives must be 1 or more, --wait-seconds 0 to 20")
        return WorkerOptions(
            queue_url=arguments.sqs_queue_url,
            max_receives=arguments.max_receives,
            wait_seconds=arguments.wait_seconds,
            visibility_timeout=arguments.visibility_timeout,
            retry_delay_seconds=arguments.retry_delay,
            load=options,
            integrity=integrity,
        )
    if arguments.follow:
        return _follow_options(arguments, options, integrity)
    if not sources:
        raise ValueError("name at least one SOURCE, or --sqs-queue-url")
    for given, option in (
        (arguments.metrics_port is not None, "--metrics-port"),
        (bool(arguments.public_keys), "--public-keys"),
        (arguments.no_integrity, "--no-integrity"),
    ):
        if given:
            raise ValueError(f"{option} is for the continuous modes (--sqs-queue-url, --follow)")
    return None


def run(arguments: argparse.Namespace) -> int:
    """Index once (exit 1 when something was not indexed), or run until stopped."""
    alias = IndexSettings().index
    options = index_options(
        max_bytes=int(arguments.bulk_mb * 1024 * 1024),
        concurrency=arguments.concurrency,
        parse_workers=arguments.parse_workers,
    )
    try:
        mode = continuous_mode(arguments, options)
    except ValueError as exc:
        return error(exc)
    client = sync_client(resolve_connection())
    try:
        if mode is not None:
            with ExitStack() as stack:
                settings = DetectionSettings()
                if settings.detections:
                    try:
                        setup = configured(client, alias, settings)
                    except (RuleError, ValueError) as exc:
                        return error(f"detections: {exc}")
                    detector = stack.enter_context(ContinuousDetector(client, alias, setup))
                    mode = replace(mode, load=replace(mode.load, on_indexed=detector.submit))
                    channels = [channel.name for channel in setup.channels]
                    set_finding_recorder(integrity_recorder(client, alias, channels))
                    stack.callback(set_finding_recorder, None)
                run_continuous(
                    mode, client=client, alias=alias, metrics_port=arguments.metrics_port
                )
            return EXIT_OK
        with stderr.status("indexing…") as status:
            summary = index_sources(
                arguments.sources,
                client=client,
                alias=alias,
                days=DayRange(arguments.since, arguments.until),
                options=options,
                on_file=lambda name: status.update(f"indexing {name}"),
            )
    except (SourceError, PublicKeyError) as exc:
        return error(exc)
    finally:
        client.close()
    _report(summary, alias)
    return EXIT_OK if summary.clean else EXIT_INCOMPLETE


def _report(summary: IndexSummary, alias: str) -> None:
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
    stderr.print(table)
    problems(
        ("failed", "red", summary.failed_files),
        ("quarantined", "yellow", summary.quarantined_records),
        ("rejected", "red", summary.rejected_records),
        ("unindexed", "yellow", summary.partial_records),
    )


#: What each kind of integrity problem is called in a finding, and the ATT&CK technique.
_INTEGRITY_TITLES = {
    "modified": ("A trail file was changed after CloudTrail delivered it", "T1565.001"),
    "missing": ("A trail file a digest lists is not in the bucket", "T1070"),
    "unlisted": ("A trail file that no digest lists", "T1565.001"),
}


def integrity_recorder(
    client: Elasticsearch, alias: str, channels: Sequence[str] = ()
) -> Callable[[IntegrityFinding], None]:
    """What raises each integrity problem the indexer finds as a critical finding.

    Keyed on the problem and the file, so a file judged again raises nothing new. A failure
    to store it is logged, never raised: integrity must not stop loading.
    """

    def record(found: IntegrityFinding) -> None:
        title, technique = _INTEGRITY_TITLES.get(
            found.kind,
            ("A gap in a chain of digest files", "T1070")
            if found.kind.startswith("gap")
            else (f"A digest file failed its check ({found.kind})", "T1070"),
        )
        detail = f": {found.detail}" if found.detail else ""
        try:
            record_finding(
                client,
                alias,
                rule_id=f"integrity_{found.kind}",
                title=title,
                severity=found.severity,
                summary=f"{found.file} is {found.kind.replace('_', ' ')}{detail}.",
                account_id=found.account or "",
                key=found.file,
                event_time=found.found_at.astimezone(UTC).isoformat(timespec="milliseconds"),
                techniques=(technique,),
                details={"file": found.file, "verdict": found.kind, "detail": found.detail},
                channels=channels,
            )
        except Exception:
            logger.exception("cannot store an integrity finding for %s", found.file)

    return record
