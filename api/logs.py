"""Structured logs: one JSON object per line, for log shippers to read without parsing text.

Every line has ``time`` (UTC, ISO 8601), ``level``, ``logger`` and ``message``; a request's
line adds ``request_id``, ``method``, ``path``, ``status``, ``duration_ms``, ``operation``,
``error_codes`` and ``principal``; any line written while a request runs has its
``request_id``; a failure adds ``exception``, its traceback as text.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import TextIO

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


def configure_logging(stream: TextIO | None = None, level: int = logging.INFO) -> logging.Handler:
    """Send every log line, TrailQL's and uvicorn's, to ``stream`` (stderr) as JSON.

    The Elasticsearch client's line per request is left out (WARNING and above only).

    Replaces a handler set up by an earlier call, so calling again does not double lines.
    Returns the handler, for a caller that wants to remove it again.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler.formatter, JsonFormatter):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    # The Elasticsearch client logs every request at INFO: the request's own line says enough.
    logging.getLogger("elastic_transport").setLevel(max(level, logging.WARNING))
    return handler
