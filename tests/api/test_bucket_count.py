"""How many buckets a timeline cuts a range into, counted as Elasticsearch cuts it (the limit on
a timeline's buckets is checked with it). Expected values worked out by hand from a calendar."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from api.stats import bucket_count


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("width", "start", "end", "expected"),
    [
        # Whole hours, aligned: N hours are N buckets (the check counted N + 1 before).
        ("1h", "2021-01-01T00:00", "2021-01-02T00:00", 24),
        ("1h", "2021-01-01T00:00", "2021-01-01T00:00:00.001", 1),
        # Not aligned: the partial hours at both ends are buckets too.
        ("1h", "2021-01-01T00:30", "2021-01-02T00:30", 25),
        ("1h", "2021-01-01T00:59:59.999", "2021-01-01T01:00:00.001", 2),
        ("1m", "2023-07-10T10:00:30", "2023-07-10T10:03:00", 3),
        ("1d", "2023-07-10T23:00", "2023-07-12T01:00", 3),
        ("3h", "2023-07-10T02:00", "2023-07-10T04:00", 2),  # 00-03 and 03-06
        # Weeks begin on Mondays: 2023-07-10 and 2023-08-28 are Mondays.
        ("1w", "2023-07-10T12:00", "2023-09-01T00:00", 8),
        ("1w", "2023-07-09T23:59", "2023-07-10T00:01", 2),  # a Sunday, then a Monday
        ("1w", "1969-12-29T00:00", "1970-01-05T00:00", 1),  # the week before the first Monday
        # Calendar months of unequal length: January's last day to March's second.
        ("1M", "2023-01-31T00:00", "2023-03-02T00:00", 3),
        ("1M", "2023-02-01T00:00", "2023-04-01T00:00", 2),
        ("1M", "2022-12-15T00:00", "2023-01-15T00:00", 2),
        ("1q", "2023-03-31T00:00", "2023-04-01T00:00:00.001", 2),
        ("1q", "2023-01-01T00:00", "2024-01-01T00:00", 4),
        ("1y", "2015-06-01T12:00", "2025-03-01T00:00", 11),
    ],
)
def test_buckets_are_counted_as_elasticsearch_cuts_them(width, start, end, expected):
    assert bucket_count(width, at(start), at(end)) == expected
