"""EventFilter: the conditions every query takes, and the Elasticsearch query for them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import strawberry

from api.errors import ErrorCode, user_error


@strawberry.input(description="Which events to return. Conditions combine with AND.")
class EventFilter:
    """Filters on the fields people ask about first."""

    from_: datetime | None = strawberry.field(
        name="from",
        default=None,
        description="Events at or after this time (inclusive). No zone means UTC.",
    )
    to: datetime | None = strawberry.field(
        default=None, description="Events before this time (exclusive). No zone means UTC."
    )
    event_source: list[str] | None = strawberry.field(
        default=None,
        description="Any of these services, such as logs.amazonaws.com. Empty means any.",
    )
    event_name: list[str] | None = strawberry.field(
        default=None, description="Any of these actions, such as CreateLogGroup. Empty means any."
    )


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def filter_query(event_filter: EventFilter | None) -> dict[str, Any]:
    """The Elasticsearch query for a filter."""
    if event_filter is None:
        return {"match_all": {}}
    clauses: list[dict[str, Any]] = []
    start = _utc(event_filter.from_) if event_filter.from_ else None
    end = _utc(event_filter.to) if event_filter.to else None
    if start and end and start >= end:
        raise user_error(ErrorCode.BAD_USER_INPUT, "`from` must be earlier than `to`.")
    if start or end:
        time_range: dict[str, str] = {}
        if start:
            time_range["gte"] = start.isoformat()
        if end:
            time_range["lt"] = end.isoformat()
        clauses.append({"range": {"eventTime": time_range}})
    for field, values in (
        ("eventSource", event_filter.event_source),
        ("eventName", event_filter.event_name),
    ):
        if values:
            clauses.append({"terms": {field: values}})
    return {"bool": {"filter": clauses}} if clauses else {"match_all": {}}
