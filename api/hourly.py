"""Which statistics the hourly counts (schema/hourly.py) answer exactly, read off the request.

A count document stands for its events wherever a request reads only counted fields and
cuts time only at whole hours: then every event of a count document matches or misses
together, and falls in the same bucket. So the search the API would send to the events is
inspected as built, clause by clause and aggregation by aggregation; anything else it reads
(a principal, an address, text, a minute-wide timeline, a range ending at 12:30) and the
events answer, as before.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from schema.hourly import COUNTED_PATHS, EVENTS, HOURLY_WIDTHS
from schema.paths import EVENT_TIME

#: The aggregation of a count search that sums its events (no response key holds a dot).
EVENT_COUNT: Final = "trailql.events"

_COUNTED = frozenset(COUNTED_PATHS)
_BOOLEAN_PARTS = ("filter", "must", "must_not", "should")
_HISTOGRAM_KEYS = frozenset(
    {
        "field",
        "fixed_interval",
        "calendar_interval",
        "min_doc_count",
        "extended_bounds",
        "hard_bounds",
    }
)


def count_aggregation() -> dict[str, Any]:
    """What a count search adds to its aggregations: the number of events it matches."""
    return {EVENT_COUNT: {"sum": {"field": EVENTS}}}


def answers(query: dict[str, Any], aggregations: dict[str, Any]) -> bool:
    """Whether the hourly counts answer this search of events exactly."""
    return _query_answered(query) and _aggregations_answered(aggregations)


def _query_answered(query: dict[str, Any]) -> bool:  # noqa: PLR0911  one answer per clause
    if len(query) != 1:
        return False
    [(kind, body)] = query.items()
    match kind:
        case "match_all":
            return True
        case "bool":
            return all(
                _query_answered(clause)
                for part in _BOOLEAN_PARTS
                for clause in _clauses(body.get(part))
            ) and set(body) <= {*_BOOLEAN_PARTS, "minimum_should_match"}
        case "term" | "terms":
            return set(body) <= _COUNTED
        case "exists":
            return body.get("field") in _COUNTED
        case "range":
            return (
                set(body) == {EVENT_TIME}
                and all(
                    _on_the_hour(bound)
                    for name, bound in body[EVENT_TIME].items()
                    if name in {"gte", "lt"}
                )
                and set(body[EVENT_TIME]) <= {"gte", "lt"}
            )
        case _:
            return False


def _clauses(part: object) -> list[dict[str, Any]]:
    if part is None:
        return []
    return part if isinstance(part, list) else [part]  # type: ignore[list-item]


def _on_the_hour(bound: object) -> bool:
    """Whether a time bound (as the filters write it: ISO 8601, UTC) is a whole hour."""
    if not isinstance(bound, str):
        return False
    try:
        moment = datetime.fromisoformat(bound)
    except ValueError:
        return False
    offset = moment.utcoffset()
    return (
        offset is not None
        and not offset
        and moment.minute == moment.second == moment.microsecond == 0
    )


def _aggregations_answered(aggregations: dict[str, Any]) -> bool:
    return all(
        _part_answered(kind, body)
        for aggregation in aggregations.values()
        for kind, body in aggregation.items()
    )


def _part_answered(kind: str, body: Any) -> bool:
    """Whether one part of an aggregation (its kind's body, its sub-aggregations) is answered."""
    match kind:
        case "meta":
            return True
        case "aggs" | "aggregations":
            return _aggregations_answered(body)
        case "terms" | "cardinality":
            return body.get("field") in _COUNTED
        case "filter":
            return _query_answered(body)
        case "date_histogram":
            width = body.get("fixed_interval") or body.get("calendar_interval")
            # Bounds keep or drop whole buckets; an offset or a time zone would cut hours.
            return (
                body.get("field") == EVENT_TIME
                and width in HOURLY_WIDTHS
                and set(body) <= _HISTOGRAM_KEYS
            )
        case _:
            return False
