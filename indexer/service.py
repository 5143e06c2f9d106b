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
from indexer.report import JsonLinesReport, ProgressReport, Report
from indexer.worker import WorkerOptions, run_worker


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
