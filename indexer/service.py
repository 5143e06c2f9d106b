"""Running a continuous loader as a process: signals, metrics endpoint, progress or JSON logs.

SIGTERM (what container runtimes and systemd send) and Ctrl-C ask the loader to stop after
the batch in hand; the process then exits 0. A second Ctrl-C stops at once, which loses
nothing either: unfinished messages come back and unrecorded files are loaded again.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from elasticsearch import Elasticsearch
from prometheus_client import start_http_server
from rich.console import Console

from indexer.follow import FollowOptions, follow
from indexer.pipeline import IndexOptions
from indexer.report import JsonLinesReport, ProgressReport, Report
from indexer.s3 import is_s3_uri
from indexer.sources import DayRange
from indexer.sqs import MAX_WAIT_SECONDS
from indexer.worker import WorkerOptions, run_worker


def continuous_mode(
    *,
    sources: list[str],
    queue_url: str | None,
    follow: bool,
    days: DayRange,
    poll_seconds: float,
    max_receives: int,
    visibility_timeout: int | None,
    retry_delay_seconds: int,
    wait_seconds: int,
    options: IndexOptions,
    metrics_port: int | None,
) -> WorkerOptions | FollowOptions | None:
    """What ``trailql index`` was asked to run; None for a one-off load of ``sources``.

    Raises:
        ValueError: the options do not go together; the message says how.
    """
    load = options
    if queue_url is not None:
        if sources or follow:
            raise ValueError("--sqs-queue-url takes no SOURCE and no --follow")
        if max_receives < 1 or not 0 <= wait_seconds <= MAX_WAIT_SECONDS:
            raise ValueError("--max-receives must be 1 or more, --wait-seconds 0 to 20")
        return WorkerOptions(
            queue_url=queue_url,
            max_receives=max_receives,
            wait_seconds=wait_seconds,
            visibility_timeout=visibility_timeout,
            retry_delay_seconds=retry_delay_seconds,
            load=load,
        )
    if follow:
        if not sources or not all(is_s3_uri(source) for source in sources):
            raise ValueError("--follow polls s3://bucket/prefix SOURCEs, and only those")
        if poll_seconds <= 0:
            raise ValueError("--poll-interval must be more than 0 seconds")
        return FollowOptions(tuple(sources), days=days, poll_seconds=poll_seconds, load=load)
    if not sources:
        raise ValueError("name at least one SOURCE, or --sqs-queue-url")
    if metrics_port is not None:
        raise ValueError("--metrics-port is for the continuous modes (--sqs-queue-url, --follow)")
    return None


def run_continuous(
    mode: WorkerOptions | FollowOptions,
    *,
    client: Elasticsearch,
    alias: str,
    metrics_port: int | None = None,
) -> None:
    """Run the SQS worker or the follower until a signal asks it to stop.

    Raises:
        indexer.sources.SourceError: the prefixes to follow cannot be listed at all.
    """
    stop = threading.Event()
    with _report(mode) as report, _stopping_on_signals(stop, report):
        if metrics_port is not None:
            server, _ = start_http_server(metrics_port)
            report.log("info", "serving metrics", port=metrics_port, path="/metrics")
        try:
            if isinstance(mode, WorkerOptions):
                run_worker(mode, client=client, alias=alias, stop=stop, report=report)
            else:
                follow(mode, client=client, alias=alias, stop=stop, report=report)
        finally:
            if metrics_port is not None:
                server.shutdown()


@contextmanager
def _report(mode: WorkerOptions | FollowOptions) -> Iterator[Report]:
    """A progress bar for a person at a terminal, JSON lines for everything else."""
    if not sys.stderr.isatty():
        yield JsonLinesReport(sys.stderr)
        return
    title = "SQS" if isinstance(mode, WorkerOptions) else "following"
    with ProgressReport(Console(stderr=True, highlight=False), title=title) as report:
        yield report


@contextmanager
def _stopping_on_signals(stop: threading.Event, report: Report) -> Iterator[None]:
    def on_signal(number: int, _: FrameType | None) -> None:
        if stop.is_set() and number == signal.SIGINT:
            raise KeyboardInterrupt
        report.log("info", "stopping after the current batch", signal=signal.Signals(number).name)
        stop.set()

    previous = {number: signal.signal(number, on_signal) for number in _STOP_SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
