"""Hourly counts: how many events share an hour and one value of each counted field.

Statistics over a year of events read every event; the same statistics over these counts
read one document per hour and combination of values, a few times fewer events at a few
hundred events an hour. A count document holds the counted fields by the same paths and
types as an event, its hour as ``eventTime`` and its number of events as ``_doc_count``, so
the API's own query and aggregations run on it unchanged and every bucket counts events.

One index per month of the events (``<alias>_hours-YYYY.MM``, outside the events template's
``<alias>-*`` pattern), behind ``<alias>_hours``. Its mapping's ``_meta`` says whether it
counts every event of its month: the API answers from the counts only when each month
behind the alias is :data:`COMPLETE`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from schema.mapping import IndexLayout, event_mapping, month_of_index, monthly_index
from schema.paths import (
    ACCOUNT_ID,
    AWS_REGION,
    ERROR_CODE,
    EVENT_CATEGORY,
    EVENT_NAME,
    EVENT_SOURCE,
    EVENT_TIME,
    EVENT_TYPE,
    MANAGEMENT_EVENT,
    READ_ONLY,
    USER_IDENTITY_TYPE,
)

#: The fields counted by hour: what statistics most often filter and group by, and few
#: values each (a principal, an address or a log group would make nearly every event a
#: combination of its own). The account is one so that a tenant's accounts confine counts.
COUNTED_PATHS: Final = (
    EVENT_SOURCE,
    EVENT_NAME,
    AWS_REGION,
    ACCOUNT_ID,
    EVENT_TYPE,
    EVENT_CATEGORY,
    USER_IDENTITY_TYPE,
    READ_ONLY,
    MANAGEMENT_EVENT,
    ERROR_CODE,
)
#: A count document's number of events, beside ``_doc_count`` (which only buckets read).
EVENTS: Final = "events"
#: Bucket widths that hours add up to exactly (in UTC).
HOURLY_WIDTHS: Final = frozenset({"1h", "3h", "6h", "12h", "1d", "1w", "1M", "1q", "1y"})

#: The states a month's counts are in (its mapping's ``_meta.trailql_hours``).
BUILDING: Final = "building"  # being counted: not all of the month yet
COMPLETE: Final = "complete"  # every event of the month counted
#: Some event holds several values of a counted field (a list where CloudTrail writes one
#: value): counting it once per combination would count it more than once. The month's
#: statistics are read from its events.
INEXACT: Final = "inexact"
STATE_KEY: Final = "trailql_hours"


def hours_alias(alias: str) -> str:
    """The alias over every month's hourly counts of ``alias``."""
    return f"{alias}_hours"


def hours_index(alias: str, month: datetime) -> str:
    """The index of one month's hourly counts: named as the months are, after the counts'."""
    return monthly_index(hours_alias(alias), month)


def month_of_hours_index(alias: str, name: str) -> datetime | None:
    """The first instant of the month an hours index of ``alias`` counts; None for another."""
    return month_of_index(hours_alias(alias), name)


def states_of(alias: str, mappings: Mapping[str, Any]) -> dict[datetime, str]:
    """Each month's counts state, from ``GET <alias>_hours/_mapping``'s answer."""
    states: dict[datetime, str] = {}
    for name, mapping in mappings.items():
        month = month_of_hours_index(alias, name)
        meta = mapping.get("mappings", {}).get("_meta") or {}
        if month is not None:
            states[month] = str(meta.get(STATE_KEY, BUILDING))
    return states


def _mapping_at(properties: dict[str, Any], path: str) -> dict[str, Any]:
    head, _, rest = path.partition(".")
    found: dict[str, Any] = properties[head]
    return _mapping_at(found["properties"], rest) if rest else found


def hours_mapping(state: str = BUILDING) -> dict[str, Any]:
    """The mapping of an hours index: the counted fields as events map them, hour, count."""
    events = event_mapping()["properties"]
    properties: dict[str, Any] = {}
    for path in (*COUNTED_PATHS, EVENT_TIME):
        *parents, leaf = path.split(".")
        holder = properties
        for parent in parents:
            holder = holder.setdefault(parent, {"type": "object", "properties": {}})["properties"]
        holder[leaf] = _mapping_at(events, path)
    properties[EVENTS] = {"type": "long"}
    return {"dynamic": "strict", "_meta": {STATE_KEY: state}, "properties": properties}


def hours_index_body(alias: str, layout: IndexLayout | None = None) -> dict[str, Any]:
    """Settings, mapping (in the BUILDING state) and alias of a new hours index."""
    copies = (layout or IndexLayout()).settings()
    settings = {
        "index.number_of_shards": 1,
        **{key: value for key, value in copies.items() if "replicas" in key},
    }
    return {
        "settings": settings,
        "mappings": hours_mapping(),
        "aliases": {hours_alias(alias): {}},
    }


#: A pipeline's claim on the months it sent events to and has not counted yet
#: (``<alias>_uncounted``, one document per pipeline): written before the events, removed
#: once they are counted. A claim left past ``expires`` is a pipeline that died in between:
#: its months' counts may miss events, so the API reads the events until an indexer counts
#: those months again (indexer/claims.py).
CLAIMED_MONTHS: Final = "months"
CLAIM_EXPIRES: Final = "expires"
#: How long a claim holds without being renewed; a live pipeline renews it at half.
CLAIM_LEASE_MS: Final = 10 * 60 * 1000


def uncounted_index(alias: str) -> str:
    """The claims' index: not ``<alias>-…`` (the events template's) nor ``<alias>_hours``."""
    return f"{alias}_uncounted"


def uncounted_mapping() -> dict[str, Any]:
    """Strict: a claim holds the months (their first instants) and when it expires."""
    millis = {"type": "date", "format": "epoch_millis"}
    return {
        "dynamic": "strict",
        "properties": {CLAIMED_MONTHS: millis, CLAIM_EXPIRES: millis, "host": {"type": "keyword"}},
    }


def expired_claims_query(now_ms: int | None = None) -> dict[str, Any]:
    """The claims whose pipeline stopped renewing them (Elasticsearch's now by default)."""
    bound: str | int = "now" if now_ms is None else now_ms
    return {"range": {CLAIM_EXPIRES: {"lt": bound}}}
