"""The fixed set of GraphQL queries measured, and what each needs from its data set.

Every query selects what a client typically shows. Two of them depend on the data: the deep
page starts after the cursor of page 50 (of 100 events each; fewer pages on data sets too
small for 50), and ``logGroup`` asks for the group the most events name. Both are worked out
once per data set, before anything is measured.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

EVENT_SELECTION = """
      eventID eventTime eventName eventSource awsRegion principal sourceIPAddress userAgent
      errorCode readOnly userIdentity { type arn accountId } requestParameters
"""

EVENTS_PAGE = (
    """
query EventsPage($first: Int!, $after: String, $filter: EventFilter) {
  events(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes {"""
    + EVENT_SELECTION
    + """}
  }
}
"""
)

EVENT_STATS = """
query Stats($filter: EventFilter) {
  eventStats(filter: $filter) {
    count
    errorRate
    terms(field: PRINCIPAL, size: 5) {
      key count
      stats { errorRate actions: terms(field: EVENT_NAME, size: 3) { key count } }
    }
    timeline(interval: AUTO, field: EVENT_NAME, size: 3) {
      interval buckets { start count groups { key count } }
    }
    callers: distinct(field: SOURCE_IP_ADDRESS)
  }
}
"""

LOG_GROUP = """
query LogGroup($name: String!) {
  logGroup(name: $name) {
    name arns firstSeen lastSeen eventCount
    lastChange { kind eventTime principal }
    history(first: 20) { totalCount nodes { kind eventTime principal succeeded errorCode } }
  }
}
"""

QUERY_FIELDS = "{ __schema { queryType { fields { name } } } }"
CURSOR_PAGE = """
query Cursor($after: String) {
  events(first: 100, after: $after) { pageInfo { hasNextPage endCursor } }
}
"""
BUSIEST_LOG_GROUP = "{ eventStats { terms(field: LOG_GROUP_NAME, size: 1) { key } } }"
NEWEST_EVENT = "{ events(first: 1) { nodes { eventTime } } }"

#: The filter of the filtered page: writes in two regions by assumed roles.
EVENTS_FILTER = {
    "readOnly": False,
    "awsRegion": ["us-east-1", "eu-west-1"],
    "userIdentityType": ["AssumedRole"],
}
#: The README's example filter: CloudWatch Logs writes.
STATS_FILTER = {"eventSource": ["logs.amazonaws.com"], "readOnly": False}

DEEP_PAGE = 50


@dataclass(frozen=True)
class DataSetFacts:
    """What the data-dependent queries need from one data set."""

    deep_cursor: str | None  # after page DEEP_PAGE (or the last full page before it)
    deep_page: int
    busiest_log_group: str | None
    newest_event_time: str | None = None  # ISO 8601: the window queries end just after it


def window(facts: DataSetFacts, hours: int) -> dict[str, Any]:
    """The STATS_FILTER over the ``hours`` before the data set's newest event."""
    if facts.newest_event_time is None:
        return {"filter": STATS_FILTER}
    end = datetime.fromisoformat(facts.newest_event_time) + timedelta(seconds=1)
    start = end - timedelta(hours=hours)
    return {"filter": {**STATS_FILTER, "from": start.isoformat(), "to": end.isoformat()}}


@dataclass(frozen=True)
class BenchQuery:
    """One measured query: what it is called, its text, and its variables per data set."""

    key: str
    label: str
    text: str
    variables: Callable[[DataSetFacts], dict[str, Any]] = field(compare=False)


def query_set(*, with_log_group: bool) -> list[BenchQuery]:
    """The queries measured, in report order."""
    queries = [
        BenchQuery("events_first100", "events(first: 100)", EVENTS_PAGE, lambda _: {"first": 100}),
        BenchQuery(
            "events_first100_filtered",
            "events(first: 100, filter)",
            EVENTS_PAGE,
            lambda _: {"first": 100, "filter": EVENTS_FILTER},
        ),
        BenchQuery(
            "events_deep_page",
            "events(first: 100, after: page 50)",
            EVENTS_PAGE,
            lambda facts: {"first": 100, "after": facts.deep_cursor},
        ),
        BenchQuery(
            "event_stats",
            "eventStats (terms, nested terms, timeline)",
            EVENT_STATS,
            lambda _: {"filter": STATS_FILTER},
        ),
        BenchQuery(
            "event_stats_day",
            "eventStats, the last 24 hours",
            EVENT_STATS,
            lambda facts: window(facts, 24),
        ),
        BenchQuery(
            "event_stats_week",
            "eventStats, the last 7 days",
            EVENT_STATS,
            lambda facts: window(facts, 24 * 7),
        ),
    ]
    if with_log_group:
        queries.append(
            BenchQuery(
                "log_group",
                "logGroup(name) with history(first: 20)",
                LOG_GROUP,
                lambda facts: {"name": facts.busiest_log_group},
            )
        )
    return queries


#: Throughput: the two queries measured with many clients at once.
THROUGHPUT_QUERIES = [
    BenchQuery("events_first50", "events(first: 50)", EVENTS_PAGE, lambda _: {"first": 50}),
    BenchQuery("event_stats", "eventStats", EVENT_STATS, lambda _: {"filter": STATS_FILTER}),
]
