"""Reading and deriving in worker processes, for a load whose Elasticsearch runs elsewhere.

One Python thread reads, parses and derives about 30,000 events a CPU-second; a remote cluster
takes more. With ``parse_workers`` above 1, files go to worker processes in batches (a local
file by its path, an S3 object as the bytes the caller downloaded) and their documents come
back in the files' order, so the pipeline's accounting (tallies, quarantine, hourly counts)
stays in one process and sees exactly what the serial way would. It adds CPU (the documents are
pickled back), so it only pays where cores are free: not beside a local node on two cores.
"""

from __future__ import annotations

import io
import logging
import multiprocessing
import os
import signal
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import Self

from indexer.documents import (
    BadRecord,
    BrokenFile,
    Document,
    DocumentMaker,
    Problem,
    TimeWindow,
    file_documents,
)
from indexer.reader import GZIP_MAGIC, one_gzip_member
from indexer.sources import TrailFile

logger = logging.getLogger(__name__)

#: Files whose stored size is over this are read by the caller, as a stream, in their turn.
LARGEST_HANDED_OVER = 4 * 1024 * 1024
#: A batch ends at this many files or stored bytes, whichever comes first: one hand-over
#: costs about as much as reading a small file, so many small files go together.
_BATCH_FILES = 128
_BATCH_BYTES = 512 * 1024
#: What a worker inflates for one batch at most (gzip JSON inflates ten to twenty times;
#: hostile gzip a thousand): the files past it go back unread, for the caller to stream.
BATCH_INFLATED_LIMIT = 16 * 1024 * 1024
#: Batches in flight per worker, and in all whatever the workers: the documents of a batch
#: wait in memory until their turn, so at most this many times the limit above.
_AHEAD_PER_WORKER = 3
_MOST_AHEAD = 12

Item = Document | BadRecord | BrokenFile
#: What a worker answers for one file: its items, why it could not be read, or None when
#: it is too large to hand back (the caller reads it).
Outcome = list[Item] | Problem | None

#: Set in each worker by :func:`_start_worker`.
_maker: DocumentMaker | None = None


@dataclass(frozen=True, slots=True)
class ReadFile:
    """A file's outcome: its documents and bad records, or the reason it could not be read.

    Neither: the file is too large to hand over, and the caller reads it as a stream.
    """

    trail_file: TrailFile
    items: list[Item] | None = None
    unreadable: Problem | None = None


def _start_worker(alias: str, window: TimeWindow) -> None:
    global _maker  # noqa: PLW0603 - one per worker process, made once
    _maker = DocumentMaker(alias, window)
    # Ctrl-C reaches the whole process group: the caller stops the pool, and a worker that
    # also took it would only print a traceback in the middle of the report.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A caller killed outright (SIGTERM, SIGKILL, the OOM killer) cannot stop its workers,
    # and one blocked handing back documents would wait forever: each leaves on its own.
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_leave_with, args=(parent,), daemon=True).start()


def _leave_with(parent: BaseProcess) -> None:
    parent.join()
    os._exit(1)


def _read_batch(files: list[tuple[str, str | bytes]]) -> list[Outcome]:
    """Each file's items as :func:`file_documents` gives them; a ``str`` is a local path.

    Past :data:`BATCH_INFLATED_LIMIT` inflated bytes, the files left come back as None.
    """
    if _maker is None:  # pragma: no cover - the pool's initializer sets it
        raise RuntimeError("the worker was started without its initializer")
    outcomes: list[Outcome] = []
    budget = BATCH_INFLATED_LIMIT
    for name, where in files:
        data = _stored(name, where)
        if isinstance(data, Problem):
            outcomes.append(data)
            continue
        plain = None if data is None else _within(data, budget)
        if plain is None:
            outcomes.append(None)
            continue
        budget -= len(plain)
        outcomes.append(list(file_documents(io.BytesIO(plain), name, _maker)))
    return outcomes


def _stored(name: str, where: str | bytes) -> bytes | Problem | None:
    """The file as stored; None when it has grown too large to hand over since it was listed."""
    if isinstance(where, bytes):
        return where
    try:
        with open(where, "rb") as stream:  # noqa: PTH123 - a str path, as sources lists them
            data = stream.read(LARGEST_HANDED_OVER + 1)
    except OSError as exc:
        return Problem(name, f"cannot read: {exc}")
    return None if len(data) > LARGEST_HANDED_OVER else data


def _within(data: bytes, budget: int) -> bytes | None:
    """The bytes to parse, inflated; None past ``budget`` or unless one whole gzip member.

    Inflated as :mod:`indexer.reader` inflates a small file, so parsing the result gives what
    reading the gzip would. Damaged or concatenated gzip goes back to the caller, whose
    reader streams it (what comes before the damage may be any size).
    """
    if data[:2] != GZIP_MAGIC:
        return data if len(data) <= budget else None
    inflated = one_gzip_member(data, budget)
    if inflated is None or len(inflated) > budget:
        return None
    # gzip inside gzip: the reader inflates once and finds no JSON; so must the caller.
    return None if inflated[:2] == GZIP_MAGIC else inflated


@dataclass(slots=True)
class _Batch:
    files: list[TrailFile]
    #: Each file by its path or downloaded bytes; None: the caller reads the batch.
    handed: list[tuple[str, str | bytes]] | None


class ParallelReader:
    """Files in, :class:`ReadFile` out in the same order; ``workers`` processes do the work.

    Should a worker die (killed for memory, say), the files not yet answered are read by the
    caller instead: slower, nothing lost.
    """

    def __init__(self, alias: str, window: TimeWindow, workers: int) -> None:
        self._workers = workers
        self._broken = False
        # forkserver: the caller runs threads (the bulk writer's) that a fork would copy
        # mid-flight. Like spawn, it needs the main module guarded by ``__name__``.
        self._pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("forkserver"),
            initializer=_start_worker,
            initargs=(alias, window),
        )

    def read(self, trail_files: Iterable[TrailFile]) -> Iterator[ReadFile]:
        """Every file's outcome, in order, while later batches are being read."""
        pending: deque[tuple[list[TrailFile], Future[list[Outcome]] | None]] = deque()
        for batch in _batches(trail_files):
            pending.append((batch.files, self._submit(batch)))
            while len(pending) > min(self._workers * _AHEAD_PER_WORKER, _MOST_AHEAD):
                yield from self._finish(*pending.popleft())
        while pending:
            yield from self._finish(*pending.popleft())

    def _submit(self, batch: _Batch) -> Future[list[Outcome]] | None:
        if self._broken or batch.handed is None:
            return None
        try:
            return self._pool.submit(_read_batch, batch.handed)
        except BrokenProcessPool:
            self._give_up()
            return None

    def _finish(
        self, batch: list[TrailFile], answer: Future[list[Outcome]] | None
    ) -> Iterator[ReadFile]:
        outcomes: list[Outcome] = [None] * len(batch)
        if answer is not None:
            try:
                outcomes = answer.result()
            except BrokenProcessPool:
                self._give_up()
        for trail_file, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, Problem):
                yield ReadFile(trail_file, unreadable=outcome)
            else:
                yield ReadFile(trail_file, outcome)

    def _give_up(self) -> None:
        if not self._broken:
            logger.warning("a parsing worker died; the files left are read in this process")
        self._broken = True

    def close(self) -> None:
        """Stop the workers; what was handed over and not taken is dropped."""
        if self._broken:
            # A worker started just as another died can outlive the pool's own clean-up, and
            # the pool would wait for it forever (CPython 3.11): no worker is needed now.
            for process in list((self._pool._processes or {}).values()):  # noqa: SLF001
                process.kill()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _batches(trail_files: Iterable[TrailFile]) -> Iterator[_Batch]:
    files: list[TrailFile] = []
    handed: list[tuple[str, str | bytes]] = []
    size = 0
    for trail_file in trail_files:
        where, stored = _where(trail_file)
        if where is None:  # too large, or failing here: read in the caller, in its turn
            if files:
                yield _Batch(files, handed)
                files, handed, size = [], [], 0
            yield _Batch([trail_file], None)
            continue
        files.append(trail_file)
        handed.append((trail_file.name, where))
        size += stored
        if size >= _BATCH_BYTES or len(files) >= _BATCH_FILES:
            yield _Batch(files, handed)
            files, handed, size = [], [], 0
    if files:
        yield _Batch(files, handed)


def _where(trail_file: TrailFile) -> tuple[str | bytes | None, int]:
    """A local file's path or an S3 object's bytes, and its stored size; None: not handed."""
    if trail_file.path is not None:
        try:
            stored = os.stat(trail_file.path).st_size  # noqa: PTH116 - a str path, on purpose
        except OSError:
            return trail_file.path, 0  # the worker reports why it cannot be read
        return (trail_file.path, stored) if stored <= LARGEST_HANDED_OVER else (None, stored)
    if trail_file.size is not None and trail_file.size > LARGEST_HANDED_OVER:
        return None, trail_file.size  # not downloaded twice
    try:
        with trail_file.open() as stream:
            data = stream.read(LARGEST_HANDED_OVER + 1)
    except OSError:
        return None, 0  # the caller tries again in its turn, and reports what it finds
    return (data, len(data)) if len(data) <= LARGEST_HANDED_OVER else (None, len(data))
