"""``eventStats``: counts, top values, timelines, in one Elasticsearch request.

The client's selection is read before anything is fetched: each selected statistic becomes
an aggregation named after its response key, and a ``stats`` selected inside a bucket
becomes a sub-aggregation of that bucket. So "top principals, and for each its top actions,
and a timeline" is one search, however deep the drill-down goes.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.types.nodes import SelectedField, Selection

from api.completion import IsoText, PlannedType, Reader, plan_type
from api.context import Context
from api.errors import ErrorCode, user_error
from api.filters import (
    EventFilter,
    event_query,
    failure_query,
    open_ended,
    searching_its_months,
    skipping_other_months,
)
from api.hourly import EVENT_COUNT, answers, count_aggregation
from api.limits import FieldCost
from api.selection import selected_fields
from common.times import utc
from schema import paths

MAX_TERMS = 500
DEFAULT_TERMS = 10
DEFAULT_GROUPS = 5
#: Most buckets one timeline may return, its groups' buckets included. Elasticsearch refuses
#: a search past search.max_buckets (65,536 by default), and counts a timeline's empty buckets
#: twice (each 10,000 as it adds them, then all): one of mostly empty buckets is refused past
#: 35,536. This leaves room for the rest of the statistics.
MAX_TIMELINE_BUCKETS = 30_000
MAX_GROUPS = 50
#: Cardinality is exact below this many distinct values, approximate (within about 1%) above.
DISTINCT_PRECISION = 3000
AUTO_BUCKETS = 60


@strawberry.enum(description="The dimensions events are grouped and counted by.")
class EventField(Enum):
    """Each maps to one indexed field."""

    EVENT_SOURCE = paths.EVENT_SOURCE
    EVENT_NAME = paths.EVENT_NAME
    AWS_REGION = paths.AWS_REGION
    ACCOUNT_ID = paths.ACCOUNT_ID
    USER_IDENTITY_TYPE = paths.USER_IDENTITY_TYPE
    PRINCIPAL = paths.PRINCIPAL
    ACCESS_KEY_ID = paths.ACCESS_KEY_ID
    SOURCE_IP_ADDRESS = paths.SOURCE_IP_ADDRESS
    USER_AGENT = paths.USER_AGENT
    ERROR_CODE = paths.ERROR_CODE
    READ_ONLY = paths.READ_ONLY
    EVENT_TYPE = paths.EVENT_TYPE
    EVENT_CATEGORY = paths.EVENT_CATEGORY
    LOG_GROUP_NAME = paths.LOG_GROUP_NAME


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


# How each statistic is read from Elasticsearch's answer: by the resolvers below, and by
# the plans that complete large results without them (api/completion.py).


def _bucket_key(bucket: dict[str, Any]) -> str:
    return str(bucket.get("key_as_string", bucket["key"]))


def _bucket_count(bucket: dict[str, Any]) -> int:
    count: int = bucket["doc_count"]
    return count


def _bucket_level(bucket: dict[str, Any]) -> _Level:
    return _Level(bucket["doc_count"], bucket)


def _bucket_start(bucket: dict[str, Any]) -> datetime:
    return _instant(bucket["key"])


#: Bucket starts as DateTime writes them, by epoch milliseconds: a long timeline is mostly
#: this lookup, bucket after bucket, and asked again and again.
_START_TEXTS: dict[int, IsoText] = {}
_START_TEXTS_KEPT = 200_000


def _bucket_start_text(bucket: dict[str, Any]) -> IsoText:
    """What a plan writes for a bucket's ``start``: ``_bucket_start``'s isoformat()."""
    epoch_milliseconds = bucket["key"]
    text = _START_TEXTS.get(epoch_milliseconds)
    if text is None:
        if len(_START_TEXTS) >= _START_TEXTS_KEPT:
            _START_TEXTS.clear()
        text = IsoText(_instant(epoch_milliseconds).isoformat())
        _START_TEXTS[epoch_milliseconds] = text
    return text


@functools.lru_cache(maxsize=100_000)
def _instant(epoch_milliseconds: int) -> datetime:
    """A bucket's start: timelines ask for the same starts again and again."""
    return datetime.fromtimestamp(epoch_milliseconds / 1000, UTC)


def _bucket_groups(bucket: dict[str, Any]) -> list[dict[str, Any]]:
    groups = bucket.get("groups")
    return list(groups["buckets"]) if groups is not None else []


def _error_rate(level: _Level, response_key: str) -> float | None:
    if not level.count:
        return None
    return float(level.aggregations[response_key]["doc_count"]) / level.count


def _distinct(level: _Level, response_key: str) -> int:
    return int(level.aggregations[response_key]["value"])


def _top_values(level: _Level, response_key: str) -> list[dict[str, Any]]:
    return list(level.aggregations[response_key]["buckets"])


def _histogram(level: _Level, response_key: str) -> dict[str, Any]:
    aggregation: dict[str, Any] = level.aggregations[response_key]
    return aggregation


def _interval(histogram: dict[str, Any]) -> str:
    return str(histogram["meta"]["interval"])


def _time_buckets(histogram: dict[str, Any]) -> list[dict[str, Any]]:
    return list(histogram["buckets"])


def _terms_buckets(buckets: list[dict[str, Any]]) -> list[TermsBucket]:
    return [
        TermsBucket(
            key=_bucket_key(bucket), count=_bucket_count(bucket), level=_bucket_level(bucket)
        )
        for bucket in buckets
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
        return _level_count(self.level)

    @strawberry.field(
        description="The share of events that failed (a non-empty errorCode), 0 to 1; null if none."
    )
    def error_rate(self, info: strawberry.Info[Context, None]) -> float | None:
        """Failed calls over all calls."""
        return _error_rate(self.level, str(info.path.key))

    @strawberry.field(
        description=(
            f"How many distinct values `field` takes: exact up to {DISTINCT_PRECISION:,}, "
            "approximate (HyperLogLog++, within about 1%) above."
        )
    )
    def distinct(self, info: strawberry.Info[Context, None], field: EventField) -> int:
        """Cardinality of one field."""
        del field  # read from the selection when the request was built
        return _distinct(self.level, str(info.path.key))

    @strawberry.field(
        description=(
            "The most frequent values of `field`, most frequent first (then by value), at most "
            f"{MAX_TERMS}. Events without a value are not counted."
        )
    )
    def terms(
        self, info: strawberry.Info[Context, None], field: EventField, size: int = DEFAULT_TERMS
    ) -> list[TermsBucket]:
        """Top values of one field."""
        del field, size
        return _terms_buckets(_top_values(self.level, str(info.path.key)))

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
        size: int = DEFAULT_GROUPS,
    ) -> Timeline:
        """A date histogram, optionally split by a field."""
        del field, size, interval  # read from the selection when the request was built
        histogram = _histogram(self.level, str(info.path.key))
        return Timeline(
            interval=_interval(histogram),
            buckets=[
                TimeBucket(
                    start=_bucket_start(bucket),
                    count=_bucket_count(bucket),
                    groups=_terms_buckets(_bucket_groups(bucket)),
                )
                for bucket in _time_buckets(histogram)
            ],
        )


def _level_count(level: _Level) -> int:
    return level.count


def _level_of(stats: object) -> object:
    """What a plan reads statistics from: a resolver's EventStats, or a bucket's level."""
    return stats.level if isinstance(stats, EventStats) else stats


plan_type(
    "EventStats",
    PlannedType(
        source=_Level,
        unwrap=_level_of,
        root=True,
        readers={
            "count": Reader(_level_count),
            "errorRate": Reader(_error_rate, keyed=True),
            "distinct": Reader(_distinct, keyed=True),
            "terms": Reader(_top_values, keyed=True),
            "timeline": Reader(_histogram, keyed=True),
        },
    ),
)
plan_type(
    "TermsBucket",
    PlannedType(
        source=dict,
        readers={
            "key": Reader(_bucket_key),
            "count": Reader(_bucket_count, dict_key="doc_count"),
            "stats": Reader(_bucket_level),
        },
    ),
)
plan_type(
    "TimeBucket",
    PlannedType(
        source=dict,
        readers={
            "start": Reader(_bucket_start_text),
            "count": Reader(_bucket_count, dict_key="doc_count"),
            "groups": Reader(_bucket_groups),
        },
    ),
)
plan_type(
    "Timeline",
    PlannedType(
        source=dict, readers={"interval": Reader(_interval), "buckets": Reader(_time_buckets)}
    ),
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


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)
_FIRST_MONDAY = datetime(1970, 1, 5, tzinfo=UTC)  # Elasticsearch's weeks begin on Mondays


def epoch_milliseconds(time: datetime) -> int:
    """Milliseconds since the epoch, exactly (a float's product can fall 1 ms short)."""
    return (time - _EPOCH) // _MILLISECOND


def _bucket_index(width: str, time: datetime) -> int:
    """Which bucket of ``width`` holds ``time`` (UTC), numbered as the epoch's are."""
    match width:
        case "1w":
            return (time - _FIRST_MONDAY) // timedelta(weeks=1)
        case "1M":
            return time.year * 12 + time.month
        case "1q":
            return time.year * 4 + (time.month - 1) // 3
        case "1y":
            return time.year
        case _:  # a fixed width: buckets from the epoch on
            return epoch_milliseconds(time) // (_WIDTHS[width] // _MILLISECOND)


def bucket_count(width: str, start: datetime, end: datetime) -> int:
    """How many buckets of ``width`` Elasticsearch cuts the UTC range [start, end) into."""
    return _bucket_index(width, end - _MILLISECOND) - _bucket_index(width, start) + 1


def _check_bucket_count(
    width: str, span: tuple[datetime, datetime] | None, per_bucket: int
) -> None:
    """Refuse a width that would cut the range into more buckets than a search may return."""
    if span is None:
        return
    buckets = bucket_count(width, *span)
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
        _size(arguments.get("size"), DEFAULT_GROUPS, MAX_GROUPS, "size")
        if arguments.get("field")
        else 0
    )
    # AUTO too: events that span millennia (stored before the indexer checked times) need
    # more yearly buckets than a search may return, with groups.
    _check_bucket_count(width, span, 1 + group_count)
    histogram: dict[str, Any] = {"field": paths.EVENT_TIME, kind: width, "min_doc_count": 0}
    if span is not None:
        # Empty buckets out to the edges of the range asked for, not only between events.
        histogram["extended_bounds"] = {
            "min": epoch_milliseconds(span[0]),
            "max": epoch_milliseconds(span[1]) - 1,
        }
    aggregation: dict[str, Any] = {"date_histogram": histogram, "meta": {"interval": width}}
    if arguments.get("field") is not None:
        field = _enum(EventField, arguments["field"])
        size = _size(arguments.get("size"), DEFAULT_GROUPS, MAX_GROUPS, "size")
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
    # Fields of one response key are one field to GraphQL (validation made them alike but
    # for their selections), answered by one aggregation over all their selections.
    merged: dict[str, tuple[SelectedField, list[Selection]]] = {}
    for field in selected_fields(selections):
        key = field.alias or field.name
        merged.setdefault(key, (field, []))[1].extend(field.selections)
    for key, (field, children) in merged.items():
        arguments = field.arguments
        match field.name:
            case "errorRate":
                aggregations[key] = {"filter": failure_query()}
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
                size = _size(arguments.get("size"), DEFAULT_TERMS, MAX_TERMS, "size")
                aggregations[key] = _terms(target, size, children, span)
            case "timeline":
                aggregations[key] = _timeline(arguments, children, span)
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
    """The earliest and latest eventTime among the events matching the filter.

    With no filter the query is the tenant's alone (none for a caller of every account), which
    Elasticsearch answers from each segment's own minimum and maximum without reading events.
    """
    response = await context.search(
        query=await event_query(context, event_filter) if event_filter is not None else None,
        size=0,
        track_total_hits=False,
        **await searching_its_months(context, event_filter),
        aggs={
            "first": {"min": {"field": paths.EVENT_TIME}},
            "last": {"max": {"field": paths.EVENT_TIME}},
        },
    )
    aggregations = response.get("aggregations", {})
    first = aggregations.get("first", {}).get("value")
    last = aggregations.get("last", {}).get("value")
    if first is None or last is None:
        return None
    return datetime.fromtimestamp(first / 1000, UTC), datetime.fromtimestamp(last / 1000, UTC)


def _fixed_top_level_timelines(selections: list[Selection]) -> bool:
    """Whether every timeline is a direct child of eventStats, none of them AUTO.

    Over an open range such a timeline's buckets run from the first event's to the last's
    by themselves; AUTO needs the range to choose its width, and a timeline inside a group
    needs it to draw every group's buckets over the same range.
    """
    for field in selected_fields(selections):
        if field.name == "timeline":
            if _enum(Interval, field.arguments.get("interval") or "AUTO") is Interval.AUTO:
                return False
        elif _has_timeline(field.selections):
            return False
    return True


async def _bound_that_fits(
    context: Context, selections: list[Selection]
) -> tuple[datetime, datetime] | None:
    """A range holding all the caller's events, over which every timeline fits; or None.

    Then no filter's events can need more buckets, and their range need not be found. The
    months behind the alias bound every event's time with no search; where that bound is too
    wide (or unknown), the edges of all the caller's events are searched for (cheap: no
    event is read).
    """
    months = await context.months.span(context.elasticsearch, context.alias)
    if months is not None and _fits(selections, months):
        return months
    edges = await _event_time_bounds(context, None)
    if edges is None:
        return None
    span = (edges[0], edges[1] + timedelta(milliseconds=1))
    return span if _fits(selections, span) else None


def _fits(selections: list[Selection], span: tuple[datetime, datetime]) -> bool:
    try:
        stats_aggregations(selections, span)
    except GraphQLError:
        return False
    return True


def _clipped(aggregations: dict[str, Any], bound: tuple[datetime, datetime]) -> dict[str, Any]:
    """The top-level timelines kept inside ``bound``: never more buckets than it was shown to fit.

    The months are a minute old at most; an event outside them (a month created since) is
    left out of every bucket, which :func:`_all_counted` notices. Elasticsearch keeps a bucket
    only when it starts at or after the lower bound and ends by the upper one, so each side
    is widened by a bucket.
    """
    for aggregation in aggregations.values():
        if "date_histogram" in aggregation:
            histogram = aggregation["date_histogram"]
            width = _WIDTHS[aggregation["meta"]["interval"]]
            histogram["hard_bounds"] = {
                "min": epoch_milliseconds(bound[0] - width),
                "max": epoch_milliseconds(bound[1] + width),
            }
    return aggregations


def _all_counted(level: _Level) -> bool:
    """Whether every top-level timeline's buckets hold every event counted."""
    return all(
        sum(bucket["doc_count"] for bucket in found["buckets"]) == level.count
        for found in level.aggregations.values()
        if isinstance(found, dict) and "interval" in found.get("meta", {})
    )


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
    # One field, or several of one response key that GraphQL merges into one.
    selections = [selection for field in info.selected_fields for selection in field.selections]
    context = info.context
    if not _has_timeline(selections):
        return await _stats(context, filter, stats_aggregations(selections))
    # Over an open range a timeline of fixed width at the top draws its buckets from the
    # first event to the last by itself: the filter's range need not be found, once a bound
    # on all events shows that no filter's events can be cut into more buckets than allowed.
    if open_ended(filter) and _fixed_top_level_timelines(selections):
        bound = await _bound_that_fits(context, selections)
        if bound is not None:
            aggregations = _clipped(stats_aggregations(selections), bound)
            stats = await _stats(context, filter, aggregations)
            if _all_counted(stats.level):
                return stats
    span = await time_span(context, filter)
    return await _stats(context, filter, stats_aggregations(selections, span))


async def _stats(
    context: Context, event_filter: EventFilter | None, aggregations: dict[str, Any]
) -> EventStats:
    """The statistics of the events matching ``event_filter``: one search.

    Of the hourly counts when they answer it exactly (api/hourly.py) and every month is
    counted; else of the events.
    """
    query = await event_query(context, event_filter)
    if answers(query, aggregations) and await context.months.counted(
        context.elasticsearch, context.alias
    ):
        # The counts are indices of their own, searched by their alias, not by month names.
        request: dict[str, Any] = {"query": query, "size": 0, **skipping_other_months(event_filter)}
        request["aggs"] = {**aggregations, **count_aggregation()}
        response = await context.search_hours(**request, track_total_hits=False)
        found = dict(response.get("aggregations") or _nothing_found(aggregations))
        count = int(found.pop(EVENT_COUNT, {}).get("value") or 0)
        return EventStats(level=_Level(count, found))
    request = {"query": query, "size": 0, **await searching_its_months(context, event_filter)}
    if aggregations:
        request["aggs"] = aggregations
    response = await context.search(**request, track_total_hits=True)
    count = response["hits"]["total"]["value"]
    found = response.get("aggregations") or _nothing_found(aggregations)
    return EventStats(level=_Level(count, found))


def _nothing_found(aggregations: dict[str, Any]) -> dict[str, Any]:
    """What each aggregation answers over no events.

    A search of an alias with no index yet answers with no aggregations at all; the
    statistics of nothing are still zeros and empty lists, not an error.
    """
    results: dict[str, Any] = {}
    for key, aggregation in aggregations.items():
        if "filter" in aggregation:
            results[key] = {"doc_count": 0}
        elif "cardinality" in aggregation:
            results[key] = {"value": 0}
        else:
            results[key] = {"buckets": [], "meta": aggregation.get("meta", {})}
    return results


#: What the fields of this area cost (api/limits.py): a timeline is charged its most
#: buckets for AUTO (an estimate for fixed widths), each with ``size`` groups.
FIELD_COSTS = {
    "eventStats": FieldCost(searches=True),
    "terms": FieldCost(size_arguments=("size",), default_size=DEFAULT_TERMS),
    "timeline": FieldCost(default_size=AUTO_BUCKETS, groups_argument=("size", DEFAULT_GROUPS)),
    "groups": FieldCost(grouped=True),
}


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
