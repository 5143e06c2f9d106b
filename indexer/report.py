"""What a long-running indexer tells the people and machines watching it.

At a terminal, a progress bar (files, events per second, ETA when the backlog is known) with
warnings printed above it. Anywhere else (a container, systemd, a pipe), one JSON object per
line on standard error: ``time``, ``level``, ``message`` and the event's own fields, which is
what log shippers parse without configuration.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from datetime import UTC, datetime
from typing import IO, Any, Protocol, Self

import orjson
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

_LEVEL_STYLES = {"debug": "dim", "info": "", "warning": "yellow", "error": "red"}
_RATE_WINDOW_SECONDS = 15.0


class Report(Protocol):
    """Where the loaders say what they do."""

    def log(self, level: str, message: str, **fields: Any) -> None:
        """One event: ``level`` is debug, info, warning or error."""

    def file_done(self, name: str, *, outcome: str, events: int, **fields: Any) -> None:
        """A file is finished with (loaded, already loaded, skipped or failed)."""

    def remaining(self, files: int | None) -> None:
        """How many files are known to be waiting, when the source can tell."""


class JsonLinesReport:
    """One JSON object per line; thread-safe, as several loaders may share a stream."""

    def __init__(self, stream: IO[str], *, debug: bool = False) -> None:
        self._stream = stream
        self._debug = debug
        # Re-entrant: a signal handler on the main thread may log while it holds the lock.
        self._lock = threading.RLock()

    def log(self, level: str, message: str, **fields: Any) -> None:
        """Write the line at once: a crash must not eat the lines before it."""
        if level == "debug" and not self._debug:
            return
        line = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "level": level,
            "message": message,
            **fields,
        }
        text = orjson.dumps(line, default=str).decode() + "\n"
        with self._lock:
            self._stream.write(text)
            self._stream.flush()

    def file_done(self, name: str, *, outcome: str, events: int, **fields: Any) -> None:
        """A line per file: the unit an operator greps for."""
        level = {"failed": "error", "already loaded": "debug"}.get(outcome, "info")
        self.log(level, f"file {outcome}", file=name, outcome=outcome, events=events, **fields)

    def remaining(self, files: int | None) -> None:
        """Backlog is a progress bar's business; a log line per poll would be noise."""


class ProgressReport:
    """A rich progress bar; warnings and errors are printed above it."""

    def __init__(self, console: Console, *, title: str) -> None:
        self._console = console
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("files"),
            TextColumn("{task.fields[events]:>10,} events {task.fields[rate]:>7,.0f}/s"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._task: TaskID = self._progress.add_task(title, total=None, events=0, rate=0.0)
        self._done = 0
        self._events = 0
        self._samples: deque[tuple[float, int]] = deque()
        self._lock = threading.Lock()

    def __enter__(self) -> Self:
        self._progress.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._progress.stop()

    def log(self, level: str, message: str, **fields: Any) -> None:
        """Only what needs a person: warnings and errors, with their fields."""
        if level in {"debug", "info"}:
            return
        details = " ".join(f"{key}={value}" for key, value in fields.items())
        line = Text.assemble((level, _LEVEL_STYLES[level]), f" {message} {details}".rstrip())
        self._progress.console.print(line, soft_wrap=True)

    def file_done(self, name: str, *, outcome: str, events: int, **fields: Any) -> None:
        """Advance the bar; a failure is printed as well."""
        if outcome == "failed":
            self.log("error", f"file {outcome}", file=name, **fields)
        with self._lock:
            self._done += 1
            self._events += events
            now = time.monotonic()
            self._samples.append((now, self._events))
            while self._samples and now - self._samples[0][0] > _RATE_WINDOW_SECONDS:
                self._samples.popleft()
            first_time, first_events = self._samples[0]
            rate = (self._events - first_events) / (now - first_time) if now > first_time else 0
            self._progress.update(self._task, completed=self._done, events=self._events, rate=rate)

    def remaining(self, files: int | None) -> None:
        """Set the bar's total, which gives it an ETA; None when the source cannot tell."""
        with self._lock:
            total = None if files is None else self._done + files
            self._progress.update(self._task, total=total)
