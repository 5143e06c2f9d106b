"""Which trail files a source names: local files and folders, or an S3 prefix."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from common.layout import DayRange, is_trail_file_name

_NOT_EVENTS = {
    "CloudTrail-Digest": "a CloudTrail digest file (integrity hashes, not events)",
    "CloudTrail-Insight": "a CloudTrail Insights file (anomaly summaries, not API calls)",
}


class SourceError(Exception):
    """A source that cannot be listed at all: a missing folder, an unknown bucket."""


@dataclass(frozen=True, slots=True)
class TrailFile:
    """A file to read; ``name`` is how it is reported (a path or an ``s3://`` URI)."""

    name: str
    open: Callable[[], AbstractContextManager[IO[bytes]]]
    #: A local file's path, which another process can open too; None for an S3 object.
    path: str | None = None
    #: Its stored size when the listing said (an S3 object's); None: not known.
    size: int | None = None


@dataclass(frozen=True, slots=True)
class SkippedFile:
    """A file found and deliberately not read, with the reason."""

    name: str
    reason: str


def not_events_reason(name: str) -> str | None:
    """Why a file CloudTrail delivers beside the log files holds no events, if it is one."""
    for marker, reason in _NOT_EVENTS.items():
        if marker in name:
            return reason
    return None


def local_files(source: Path, days: DayRange) -> Iterator[TrailFile | SkippedFile]:
    """A file, or every trail file below a folder, in a stable order."""
    if source.is_file():
        yield _local_file(str(source))
        return
    if not source.is_dir():
        raise SourceError(f"{source}: no such file or folder")
    # Plain strings, not Path objects: a trail bucket holds tens of thousands of small files.
    for path in sorted(_trail_files_below(str(source)), key=_path_order):
        if days.admits(_posix(path)):
            yield _local_file(path)


def _trail_files_below(folder: str) -> Iterator[str]:
    """Trail files below ``folder``, as ``rglob`` finds files (symlinked folders not entered).

    Directory entries say what they are, so no file needs a ``stat`` of its own.
    """
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                yield from _trail_files_below(entry.path)
            elif is_trail_file_name(entry.name) and entry.is_file():
                yield entry.path


def _path_order(path: str) -> list[str]:
    """Sorts as ``Path`` objects do: component by component."""
    return path.split(os.sep)  # noqa: PTH206  strings on purpose, see local_files


def _posix(path: str) -> str:
    return path if os.sep == "/" else path.replace(os.sep, "/")


def _local_file(path: str) -> TrailFile | SkippedFile:
    reason = not_events_reason(_posix(path))
    if reason is not None:
        return SkippedFile(path, reason)
    return TrailFile(path, lambda: open(path, "rb"), path)  # noqa: PTH123  a str, see local_files
