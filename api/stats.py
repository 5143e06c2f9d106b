"""``eventStats``: counts, top values, timelines, in one Elasticsearch request.

The client's selection is read before anything is fetched: each selected statistic becomes
an aggregation named after its response key, and a ``stats`` selected inside a bucket
becomes a sub-aggregation of that bucket. So "top principals, and for each its top actions,
and a timeline" is one search, however deep the drill-down goes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

import strawberry
from strawberry.types.nodes import SelectedField, Selection

from api.context import Context
from api.errors import ErrorCode, user_error
from api.filters import EventFilter, filter_query, utc
from api.selection import selected_fields
from schema import DERIVED

MAX_TERMS = 500
#: Most buckets one timeline may return, its groups' buckets included: Elasticsearch refuses
#: a search past search.max_buckets (65,536 by default); this leaves room for the rest.
MAX_TIMELINE_BUCKETS = 50_000
MAX_GROUPS = 50
#: Cardinality is exact below this many distinct values, approximate (within about 1%) above.
DISTINCT_PRECISION = 3000
AUTO_BUCKETS = 60


@strawberry.enum(description="The dimensions events are grouped and counted by.")
class EventField(Enum):
    """Each maps to one indexed field."""

    EVENT_SOURCE = "eventSource"
    EVENT_NAME = "eventName"
    AWS_REGION = "awsRegion"
    ACCOUNT_ID = "recipientAccountId"
    USER_IDENTITY_TYPE = "userIdentity.type"
    PRINCIPAL = f"{DERIVED}.principal"
    ACCESS_KEY_ID = "userIdentity.accessKeyId"
    SOURCE_IP_ADDRESS = "sourceIPAddress"
    USER_AGENT = "userAgent"
    ERROR_CODE = "errorCode"
    READ_ONLY = "readOnly"
    EVENT_TYPE = "eventType"
    EVENT_CATEGORY = "eventCategory"
    LOG_GROUP_NAME = f"{DERIVED}.logGroupName"


@strawberry.enum(
    description=(
        "Time bucket width. AUTO picks the narrowest of 1m, 5m, 10m, 30m, 1h, 3h, 6h, 12h, "
        "1d, 1w, 1M, 1q and 1y that gives at most 60 buckets over the filter's time range "
        "(open ends: the first and last event that matches)."
    )
)
class Interval(Enum):
    """Widths for timelines."""

    AUTO = "auto"
    MINUTE = "1m"
    HOUR = "1h"
    DAY = "1d"
    WEEK = "1w"
    MONTH = "1M"


@dataclass(frozen=True)
class _Level:
    """One level of results: the events counted and the aggregations computed over them."""

    count: int
    aggregations: dict[str, Any]


@strawberry.type(description="A value and how many events have it; `stats` drills down.")
class TermsBucket:
    """One value of a grouped field."""

    key: str
    count: int
    level: strawberry.Private[_Level]

    @strawberry.field(description="Statistics over this bucket's events alone.")
    def stats(self) -> EventStats:
        """The same statistics, computed within the bucket (as sub-aggregations)."""
        return EventStats(level=self.level)


@strawberry.type(description="Events in one time bucket.")
class TimeBucket:
    """A slice of the timeline."""

    start: datetime = strawberry.field(description="The bucket's start (UTC).")
    count: int
    groups: list[TermsBucket] = strawberry.field(
        description="The top values of the timeline's `field` in this bucket (empty without it)."
    )


@strawberry.type(description="Events over time.")
class Timeline:
    """A date histogram."""

    interval: str = strawberry.field(description="Bucket width, such as 1h or 1d.")
    buckets: list[TimeBucket]


def _bucket_key(bucket: dict[str, Any]) -> str:
    return str(bucket.get("key_as_string", bucket["key"]))


def _terms_buckets(aggregation: dict[str, Any]) -> list[TermsBucket]:
    return [
        TermsBucket(
            key=_bucket_key(bucket),
            count=bucket["doc_count"],
            level=_Level(bucket["doc_count"], bucket),
        )
        for bucket in aggregation["buckets"]
    ]


@strawberry.type(
    description=(
        "Statistics over the events matching a filter. Every statistic selected, at every "
        "depth, is computed by one Elasticsearch request."
    )
)
class EventStats:
    """Results of one level; each field reads the aggregation named after its response key."""

    level: strawberry.Private[_Level]

    @strawberry.field(description="How many events match, exactly.")
    def count(self) -> int:
        """The events at this level."""
        return self.level.count

    @strawberry.field(description="The share of events with an errorCode (0 to 1); null if none.")
    def error_rate(self, info: strawberry.Info[Context, None]) -> float | None:
        """Failed calls over all calls."""
        if not self.level.count:
            return None
        return float(self.level.aggregations[str(info.path.key)]["doc_count"]) / self.level.count

    @strawberry.field(
        description=(
            f"How many distinct values `field` takes: exact up to {DISTINCT_PRECISION:,}, "
            "approximate (HyperLogLog++, within about 1%) above."
        )
    )
    def distinct(self, info: strawberry.Info[Context, None], field: EventField) -> int:
        """Cardinality of one field."""
        del field  # read from the selection when the request was built
        return int(self.level.aggregations[str(info.path.key)]["value"])

    @strawberry.field(
        description=(
            "The most frequent values of `field`, most frequent first (then by value), at most "
            f"{MAX_TERMS}. Events without a value are not counted."
        )
    )
    def terms(
        self, info: strawberry.Info[Context, None], field: EventField, size: int = 10
    ) -> list[TermsBucket]:
        """Top values of one field."""
        del field, size
        return _terms_buckets(self.level.aggregations[str(info.path.key)])

    @strawberry.field(
        description=(
            "Events per time bucket, empty buckets included; with `field`, the top `size` "
            f"values (at most {MAX_GROUPS}) of that field in each bucket."
        )
    )
    def timeline(
        self,
        info: strawberry.Info[Context, None],
        interval: Interval = Interval.AUTO,
        field: EventField | None = None,
        size: int = 5,
    ) -> Timeline:
        """A date histogram, optionally split by a field."""
        del field, size
        del interval
        aggregation = self.level.aggregations[str(info.path.key)]
        width = aggregation["meta"]["interval"]
        return Timeline(
            interval=width,
            buckets=[
                TimeBucket(
                    start=datetime.fromtimestamp(bucket["key"] / 1000, UTC),
                    count=bucket["doc_count"],
                    groups=_terms_buckets(bucket["groups"]) if "groups" in bucket else [],
                )
                for bucket in aggregation["buckets"]
            ],
        )


def _enum(kind: type[Enum], value: object) -> Any:
    """Selection arguments come as enum names (or members, from variables)."""
    if isinstance(value, kind):
        return value
    try:
        return kind[str(value)]
    except KeyError:
        raise user_error(ErrorCode.BAD_USER_INPUT, f"{value!r} is not a {kind.__name__}.") from None


def _size(value: object, default: int, most: int, name: str) -> int:
    size = default if value is None else int(str(value))
    if not 1 <= size <= most:
        raise user_error(ErrorCode.BAD_USER_INPUT, f"`{name}` must be between 1 and {most}.")
    return size


def _children(fields: Iterable[SelectedField], name: str) -> list[Selection]:
    """The selections under every ``name`` field among ``fields`` (aliases merged)."""
    return [child for field in fields if field.name == name for child in field.selections]


def _terms(
    field: EventField,
    size: int,
    bucket_selections: list[Selection],
    span: tuple[datetime, datetime] | None = None,
) -> dict[str, Any]:
    aggregation: dict[str, Any] = {
        "terms": {
            "field": field.value,
            "size": size,
            # Generous per-shard lists keep counts exact across the monthly indices.
            "shard_size": size * 5 + 100,
            "order": [{"_count": "desc"}, {"_key": "asc"}],
        }
    }
    sub_aggregations = stats_aggregations(
        _children(selected_fields(bucket_selections), "stats"), span
    )
    if sub_aggregations:
        aggregation["aggs"] = sub_aggregations
    return aggregation


#: Widths AUTO chooses from, narrowest first, with their length for counting buckets.
_LADDER: tuple[tuple[str, str, timedelta], ...] = (
    ("fixed_interval", "1m", timedelta(minutes=1)),
    ("fixed_interval", "5m", timedelta(minutes=5)),
    ("fixed_interval", "10m", timedelta(minutes=10)),
    ("fixed_interval", "30m", timedelta(minutes=30)),
    ("fixed_interval", "1h", timedelta(hours=1)),
    ("fixed_interval", "3h", timedelta(hours=3)),
    ("fixed_interval", "6h", timedelta(hours=6)),
    ("fixed_interval", "12h", timedelta(hours=12)),
    ("fixed_interval", "1d", timedelta(days=1)),
    ("calendar_interval", "1w", timedelta(weeks=1)),
    ("calendar_interval", "1M", timedelta(days=31)),
    ("calendar_interval", "1q", timedelta(days=92)),
    ("calendar_interval", "1y", timedelta(days=366)),
)


def auto_width(span: tuple[datetime, datetime] | None) -> tuple[str, str]:
    """The narrowest standard width that covers ``span`` in at most AUTO_BUCKETS buckets."""
    if span is None:
        return "calendar_interval", "1M"
    length = span[1] - span[0]
    for kind, width, size in _LADDER:
        if length / size <= AUTO_BUCKETS:
            return kind, width
    return "calendar_interval", "1y"


_WIDTHS = {width: size for _, width, size in _LADDER}


def _check_bucket_count(
    width: str, span: tuple[datetime, datetime] | None, per_bucket: int
) -> None:
    """Refuse a width that would cut the range into more buckets than a search may return."""
    if span is None:
        return
    buckets = int((span[1] - span[0]) / _WIDTHS[width]) + 1
    if buckets * per_bucket > MAX_TIMELINE_BUCKETS:
        raise user_error(
            ErrorCode.BAD_USER_INPUT,
            f"a timeline of {width} buckets from {span[0]:%Y-%m-%d %H:%M} to "
            f"{span[1]:%Y-%m-%d %H:%M} would have {buckets * per_bucket:,} buckets (with its "
            f"groups); at most {MAX_TIMELINE_BUCKETS:,}. Choose a wider interval (or AUTO), "
            "fewer groups, or a narrower from/to.",
        )


def _timeline(
    arguments: dict[str, Any], selections: list[Selection], span: tuple[datetime, datetime] | None
) -> dict[str, Any]:
    interval = _enum(Interval, arguments.get("interval") or "AUTO")
    if interval is Interval.AUTO:
        kind, width = auto_width(span)
    else:
        calendar = interval in (Interval.WEEK, Interval.MONTH)
        kind = "calendar_interval" if calendar else "fixed_interval"
        width = interval.value
    group_count = (
        _size(arguments.get("size"), 5, MAX_GROUPS, "size") if arguments.get("field") else 0
    )
    # AUTO too: events that span millennia (stored before the indexer checked times) need
    # more yearly buckets than a search may return, with groups.
    _check_bucket_count(width, span, 1 + group_count)
    histogram: dict[str, Any] = {"field": "eventTime", kind: width, "min_doc_count": 0}
    if span is not None:
        # Empty buckets out to the edges of the range asked for, not only between events.
        histogram["extended_bounds"] = {
            "min": int(span[0].timestamp() * 1000),
            "max": int(span[1].timestamp() * 1000) - 1,
        }
    aggregation: dict[str, Any] = {"date_histogram": histogram, "meta": {"interval": width}}
    if arguments.get("field") is not None:
        field = _enum(EventField, arguments["field"])
        size = _size(arguments.get("size"), 5, MAX_GROUPS, "size")
        buckets = _children(selected_fields(selections), "buckets")
        groups = _children(selected_fields(buckets), "groups")
        aggregation["aggs"] = {"groups": _terms(field, size, groups, span)}
    return aggregation


def stats_aggregations(
    selections: list[Selection], span: tuple[datetime, datetime] | None = None
) -> dict[str, Any]:
    """The aggregations one level of an ``EventStats`` selection needs, by response key.

    ``span`` is the time range the statistics cover, when known: AUTO timelines fit it.
    """
    aggregations: dict[str, Any] = {}
    for field in selected_fields(selections):
        key = field.alias or field.name
        arguments = field.arguments
        match field.name:
            case "errorRate":
                aggregations[key] = {"filter": {"exists": {"field": "errorCode"}}}
            case "distinct":
                target = _enum(EventField, arguments.get("field"))
                aggregations[key] = {
                    "cardinality": {
                        "field": target.value,
                        "precision_threshold": DISTINCT_PRECISION,
                    }
                }
            case "terms":
                target = _enum(EventField, arguments.get("field"))
                size = _size(arguments.get("size"), 10, MAX_TERMS, "size")
                aggregations[key] = _terms(target, size, field.selections, span)
            case "timeline":
                aggregations[key] = _timeline(arguments, field.selections, span)
            case _:  # count and __typename need no aggregation
                pass
    return aggregations


async def time_span(
    context: Context, event_filter: EventFilter | None
) -> tuple[datetime, datetime] | None:
    """The time range statistics cover, so AUTO can fit its buckets to it.

    The filter's range, with open ends closed by the first and last of the events that
    match it (a cheap min/max search of the caller's own events): whatever indices exist,
    the range is only as wide as the events counted.
    """
    start = event_filter.from_ if event_filter else None
    end = event_filter.to if event_filter else None
    if start is None or end is None:
        bounds = await _event_time_bounds(context, event_filter)
        if bounds is None:
            return None
        first, last = bounds
        start = start or first
        end = end or last + timedelta(milliseconds=1)
    start, end = utc(start), utc(end)
    return (start, end) if start < end else None


async def _event_time_bounds(
    context: Context, event_filter: EventFilter | None
) -> tuple[datetime, datetime] | None:
    """The earliest and latest eventTime among the events matching the filter."""
    response = await context.search(
        query=filter_query(event_filter),
        size=0,
        track_total_hits=False,
        aggs={"first": {"min": {"field": "eventTime"}}, "last": {"max": {"field": "eventTime"}}},
    )
    aggregations = response.get("aggregations", {})
    first = aggregations.get("first", {}).get("value")
    last = aggregations.get("last", {}).get("value")
    if first is None or last is None:
        return None
    return datetime.fromtimestamp(first / 1000, UTC), datetime.fromtimestamp(last / 1000, UTC)


def _has_timeline(selections: list[Selection]) -> bool:
    """Whether a timeline is selected at any depth: only a timeline needs the time range."""
    return any(
        field.name == "timeline" or _has_timeline(field.selections)
        for field in selected_fields(selections)
    )


async def event_stats(
    info: strawberry.Info[Context, None],
    filter: EventFilter | None = None,  # noqa: A002
) -> EventStats:
    """Statistics over the events matching `filter`."""
    [this_field] = info.selected_fields
    span = await time_span(info.context, filter) if _has_timeline(this_field.selections) else None
    aggregations = stats_aggregations(this_field.selections, span)
    request: dict[str, Any] = {"query": filter_query(filter), "size": 0, "track_total_hits": True}
    if aggregations:
        request["aggs"] = aggregations
    response = await info.context.search(**request)
    count = response["hits"]["total"]["value"]
    return EventStats(level=_Level(count, response.get("aggregations", {})))


@strawberry.type
class StatsQueries:
    """Aggregations over events."""

    event_stats: EventStats = strawberry.field(
        resolver=event_stats,
        description=(
            "Counts, top values (with drill-down), timelines, distinct counts and error rate "
            "over the events matching `filter`, in one Elasticsearch request."
        ),
    )
