"""Simulated time: where a run starts, how long it lasts, and when people are at work."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from functools import cache
from typing import Final

DEFAULT_START: Final = datetime(2025, 3, 1, tzinfo=UTC)
WINDOW_SECONDS: Final = 300  # CloudTrail delivers a file per account+region about every 5 minutes
DAY_SECONDS: Final = 86_400

# Business hours follow the teams working in each region (March: EST, GMT, AEDT).
_REGION_UTC_OFFSET: Final = {"us-east-1": -5, "eu-west-1": 0, "ap-southeast-2": 11}
_OFFICE_HOURS: Final = range(8, 19)
_WAKING_HOURS: Final = range(6, 23)
_WEEKEND: Final = frozenset({5, 6})


def default_days(events: int) -> int:
    """One more day per 2,000 events, at least two and at most a month.

    Even small runs then cross midnight into a second day folder (the S3 layout partitions by
    day), and a million-event benchmark covers a month, as a real trail's bucket would.
    """
    return max(2, min(30, events // 2000 + 1))


@cache
def _day_prefix(day: int) -> str:
    return time.strftime("%Y-%m-%dT", time.gmtime(day * DAY_SECONDS))


def event_time(epoch_second: int) -> str:
    """Format ``epoch_second`` as CloudTrail's eventTime; strftime only once per day."""
    day, second_of_day = divmod(epoch_second, DAY_SECONDS)
    hour, second_of_hour = divmod(second_of_day, 3600)
    minute, second = divmod(second_of_hour, 60)
    return f"{_day_prefix(day)}{hour:02d}:{minute:02d}:{second:02d}Z"


def activity(epoch_second: int, region: str) -> float:
    """Automation runs around the clock; people mostly in their working hours on weekdays."""
    local_time = time.gmtime(epoch_second + _REGION_UTC_OFFSET[region] * 3600)
    hour = local_time.tm_hour
    if hour in _OFFICE_HOURS:
        human_activity = 1.0
    elif hour in _WAKING_HOURS:
        human_activity = 0.3
    else:
        human_activity = 0.03
    if local_time.tm_wday in _WEEKEND:
        human_activity *= 0.15
    return 0.12 + human_activity
