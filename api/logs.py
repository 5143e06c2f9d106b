"""Logs: one JSON object per line for log shippers, readable lines for a person at a terminal.

Every JSON line has ``time`` (UTC, ISO 8601), ``level``, ``logger`` and ``message``; a
request's line adds ``request_id``, ``method``, ``path``, ``status``, ``duration_ms``,
``operation``, ``error_codes`` and ``principal``; any line written while a request runs has
its ``request_id``; a failure adds ``exception``, its traceback as text.

At a terminal the same records are written as text (:class:`TextFormatter`): the local time,
the level, the message and the request's fields after it, so a person running
``trailql serve`` by hand reads them at a glance. ``TRAILQL_LOG_FORMAT`` chooses:
``auto`` (text at a terminal, JSON elsewhere), ``json`` or ``text``.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Literal, TextIO

from api.request_log import current_request_id

#: Fields a log call may pass in ``extra=`` that the JSON line carries, in this order.
FIELDS = (
    "request_id",
    "method",
    "path",
    "status",
    "duration_ms",
    "operation",
    "error_codes",
    "principal",
)


class JsonFormatter(logging.Formatter):
    """A record as one line of JSON."""

    def format(self, record: logging.LogRecord) -> str:
        """The record's JSON object, on one line."""
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            if hasattr(record, name):
                line[name] = getattr(record, name)
        if "request_id" not in line and (request_id := current_request_id.get()) is not None:
            line["request_id"] = request_id
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


#: ``TRAILQL_LOG_FORMAT``'s values.
LogFormat = Literal["auto", "json", "text"]

#: ANSI colours of the level names at a terminal (none when ``NO_COLOR`` is set).
_LEVEL_COLOURS = {
    "DEBUG": "\x1b[2m",
    "WARNING": "\x1b[33m",
    "ERROR": "\x1b[31m",
    "CRITICAL": "\x1b[1;31m",
}
_RESET = "\x1b[0m"


class TextFormatter(logging.Formatter):
    """A record as a line a person reads: ``23:01:02.345 INFO  POST /graphql 200  12.3 ms …``.

    The request's fields follow its message in a fixed order, each only when it says
    something; the traceback of a failure follows on the lines below.
    """

    def __init__(self, *, colour: bool = False) -> None:
        super().__init__()
        self._colour = colour

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line (plus its traceback, if any)."""
        moment = datetime.fromtimestamp(record.created).astimezone()
        level = f"{record.levelname:<7}"
        if self._colour and record.levelname in _LEVEL_COLOURS:
            level = f"{_LEVEL_COLOURS[record.levelname]}{level}{_RESET}"
        parts = [moment.strftime("%H:%M:%S.") + f"{moment.microsecond // 1000:03d}", level]
        if not record.name.startswith("trailql.api.requests"):
            parts.append(f"{record.name}:")
        parts.append(record.getMessage())
        parts.extend(_request_details(record))
        line = " ".join(parts)
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line


def _request_details(record: logging.LogRecord) -> list[str]:
    """The request's fields worth a reader's eye, as short words."""
    details: list[str] = []
    duration = getattr(record, "duration_ms", None)
    if isinstance(duration, float | int):
        details.append(f"{duration:.1f} ms")
    operation = getattr(record, "operation", None)
    if operation:
        details.append(f"op={operation}")
    principal = getattr(record, "principal", None)
    if principal:
        details.append(f"by={principal}")
    codes = getattr(record, "error_codes", None)
    if codes:
        details.append("errors=" + ",".join(map(str, codes)))
    request_id = getattr(record, "request_id", None) or current_request_id.get()
    if request_id:
        details.append(f"id={request_id}")
    return details


def formatter_for(log_format: LogFormat, stream: TextIO) -> logging.Formatter:
    """JSON, or text for ``text`` and for ``auto`` when ``stream`` is a terminal."""
    at_terminal = stream.isatty()
    if log_format == "text" or (log_format == "auto" and at_terminal):
        return TextFormatter(colour=at_terminal and "NO_COLOR" not in os.environ)
    return JsonFormatter()


def configure_logging(
    stream: TextIO | None = None,
    level: int = logging.INFO,
    log_format: LogFormat = "json",
) -> logging.Handler:
    """Send every log line, TrailQL's and uvicorn's, to ``stream`` (stderr).

    ``log_format`` says how (see the module's docstring); the Elasticsearch client's line
    per request is left out (WARNING and above only).

    Replaces a handler set up by an earlier call, so calling again does not double lines.
    Returns the handler, for a caller that wants to remove it again.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler.formatter, JsonFormatter | TextFormatter):
            root.removeHandler(handler)
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter_for(log_format, stream))
    root.addHandler(handler)
    root.setLevel(level)
    # The Elasticsearch client logs every request at INFO: the request's own line says enough.
    logging.getLogger("elastic_transport").setLevel(max(level, logging.WARNING))
    return handler
