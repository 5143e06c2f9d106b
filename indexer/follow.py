"""``trailql index s3://bucket/prefix --follow``: poll for new files, without notifications.

Each poll lists the prefixes (only the day folders asked for, with ``--since``/``--until``)
and loads what is new, a chunk at a time so that progress is recorded as it is made. What is
loaded is remembered in the state index, so a restarted follower, here or on another machine,
skips it; within one process a set of loaded objects spares asking again on every poll.

A poll lists the whole prefix; on a bucket of many years, name the days (``--since``) or use
notifications (``--sqs-queue-url``) instead.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import boto3
from elasticsearch import Elasticsearch

from common.layout import DayRange
from indexer.integrity import IntegrityOptions, is_digest
from indexer.load import ObjectLoader, ready_loader
from indexer.notifications import S3Object
from indexer.pipeline import IndexOptions
from indexer.report import Report
from indexer.s3 import s3_objects
from indexer.sources import SkippedFile, SourceError


@dataclass(frozen=True)
class FollowOptions:
    """What to poll and how often."""

    sources: tuple[str, ...]
    days: DayRange = field(default_factory=DayRange)
    poll_seconds: float = 60.0
    #: Files loaded (and then recorded in the state index) together: at most this many, and
    #: no more than ``chunk_bytes`` of them once the first is in. Smaller chunks lose less to
    #: a crash and stop sooner; larger ones wait less on Elasticsearch between chunks.
    chunk_files: int = 100
    chunk_bytes: int = 2 * 1024 * 1024
    load: IndexOptions = field(default_factory=IndexOptions)
    integrity: IntegrityOptions = field(default_factory=IntegrityOptions)


def follow(
    options: FollowOptions,
    *,
    client: Elasticsearch,
    alias: str,
    stop: threading.Event,
    report: Report,
) -> None:
    """Poll until ``stop`` is set; the chunk in hand is finished first.

    Raises:
        SourceError: the first listing failed (a missing bucket, no permission): a mistake to
            report, not something to wait out. Later listing failures are logged and retried.
    """
    s3 = boto3.session.Session().client("s3")
    loader = ready_loader(
        client, alias, stop=stop, report=report, options=options.load, integrity=options.integrity
    )
    if loader is None:
        return
    loaded: set[tuple[str, str | None]] = set()
    report.log("info", "following", sources=list(options.sources), every=options.poll_seconds)
    first = True
    while not stop.is_set():
        try:
            digests = options.integrity.enabled
            listed = [
                found
                for source in options.sources
                for found in s3_objects(s3, source, options.days, digests=digests)
                if not isinstance(found, SkippedFile)
            ]
        except SourceError as exc:
            if first:
                raise
            report.log("error", "cannot list; trying again at the next poll", error=str(exc))
        else:
            # Digests first: the files they list are then judged as soon as they are loaded.
            pending = sorted(
                (obj for obj in listed if (obj.uri, obj.etag) not in loaded),
                key=lambda obj: not is_digest(obj),
            )
            report.log("debug", "polled", listed=len(listed), new=len(pending))
            known = {obj.uri for obj in listed}
            _load(loader, chunked(pending, options), loaded, known, stop=stop, report=report)
        first = False
        stop.wait(options.poll_seconds)
    report.log("info", "follower stopped")


def chunked(pending: Sequence[S3Object], options: FollowOptions) -> list[list[S3Object]]:
    """Objects in the chunks one poll loads them in (``chunk_files``, ``chunk_bytes``)."""
    chunks: list[list[S3Object]] = [[]]
    size = 0
    for obj in pending:
        if chunks[-1] and (
            len(chunks[-1]) >= options.chunk_files or size + (obj.size or 0) > options.chunk_bytes
        ):
            chunks.append([])
            size = 0
        chunks[-1].append(obj)
        size += obj.size or 0
    return [chunk for chunk in chunks if chunk]


def _load(
    loader: ObjectLoader,
    chunks: list[list[S3Object]],
    loaded: set[tuple[str, str | None]],
    known: set[str],
    *,
    stop: threading.Event,
    report: Report,
) -> None:
    remaining = sum(len(chunk) for chunk in chunks)
    for chunk in chunks:
        report.remaining(remaining)
        if stop.is_set():
            return
        outcomes = loader.load(chunk, known)
        loaded.update((obj.uri, obj.etag) for obj in chunk if outcomes[obj.uri].finished)
        remaining -= len(chunk)
    report.remaining(0)
