"""Times as TrailQL keeps them: in UTC, always with their zone."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def utc(moment: datetime) -> datetime:
    """The same instant in UTC; a time given without a zone is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def now_ms() -> int:
    """The time now, in whole epoch milliseconds (as Elasticsearch's ``epoch_millis``)."""
    return time.time_ns() // 1_000_000
