"""The Elasticsearch side of the event document: mapping, index template, index names.

One index per month of eventTime (``<alias>-YYYY.MM``) keeps indices a manageable size and
lets old months be dropped or snapshotted whole; the template puts every such index behind
the read alias, so nothing else has to know the months.

An event with one field of a JSON type its mapping cannot take (an object where a keyword
is mapped, a string where an object is) goes to ``<alias>_without_<field>``, behind the same
alias, whose mapping leaves that one field unindexed: Elasticsearch cannot leave a field out
of one document only, and the stored ``_source`` must stay the record exactly as written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from schema.document import DERIVED, INDEXED_AT, OPAQUE_FIELDS
from schema.fields import EVENT_FIELDS, KEYWORD_IGNORE_ABOVE, Field, Kind, field_path

#: Bumped whenever the mapping changes, so an installed template can be told apart.
SCHEMA_VERSION = 5

#: Flattened fields accept this depth; ``schema.document.searchable`` cuts deeper below it.
FLATTENED_DEPTH_LIMIT = 20


def _keyword() -> dict[str, Any]:
    return {"type": "keyword", "ignore_above": KEYWORD_IGNORE_ABOVE}


def _field_mapping(field: Field) -> dict[str, Any]:
    match field.kind:
        case Kind.KEYWORD:
            return _keyword()
        case Kind.TEXT:
            return {"type": "text", "fields": {"keyword": _keyword()}}
        case Kind.DATE:
            return {"type": "date", "format": "strict_date_optional_time||epoch_millis"}
        case Kind.BOOLEAN:
            return {"type": "boolean"}
        case Kind.JSON:
            # Kept in _source exactly as recorded; its searchable copy lives under DERIVED.
            return {"type": "object", "enabled": False}
        case Kind.OBJECT:
            return {
                "type": "object",
                "dynamic": False,
                "properties": {child.name: _field_mapping(child) for child in field.children},
            }


def _derived_mapping() -> dict[str, Any]:
    flattened = {
        "type": "flattened",
        "ignore_above": KEYWORD_IGNORE_ABOVE,
        "depth_limit": FLATTENED_DEPTH_LIMIT,
    }
    properties: dict[str, Any] = {
        "principal": _keyword(),
        "sourceIp": {"type": "ip"},
        "logGroupName": _keyword(),
        "text": {"type": "text"},  # free-text search over names, messages, parameter values
        # The trail file the event was read from (s3://bucket/key, or a path): its integrity
        # verdict is in the state index, by the same name.
        "logFile": _keyword(),
        # When the indexer sent the event to Elasticsearch (epoch milliseconds): what live
        # subscriptions follow, so an old file loaded now is new to them.
        INDEXED_AT: {"type": "date", "format": "epoch_millis"},
    }
    properties.update(dict.fromkeys(OPAQUE_FIELDS, flattened))
    return {"type": "object", "dynamic": False, "properties": properties}


def added_mapping() -> dict[str, Any]:
    """What SCHEMA_VERSIONs 4 and 5 add, to put onto the indices made before them.

    Fields can be added to an existing mapping (never changed), and nothing else changes.
    Loading an old file now writes to the month it belongs to, which may have been created
    by an older TrailQL: without ``indexedAt`` there, its events would never reach a live
    subscription.
    """
    derived = _derived_mapping()["properties"]
    added = {name: derived[name] for name in ("logFile", INDEXED_AT)}
    return {"properties": {DERIVED: {"properties": added}}}


def event_mapping(unindexed: str | None = None) -> dict[str, Any]:
    """The mapping of an events index; with ``unindexed``, that top-level field left out.

    ``dynamic: false`` keeps fields CloudTrail adds in future in ``_source`` without
    indexing them, so a new field can never break indexing or explode the mapping.
    """
    properties = {field.name: _field_mapping(field) for field in EVENT_FIELDS}
    properties[DERIVED] = _derived_mapping()
    meta: dict[str, Any] = {"trailql_schema_version": SCHEMA_VERSION}
    if unindexed is not None:
        if unindexed not in properties or unindexed in _ALWAYS_INDEXED:
            raise ValueError(f"{unindexed!r} is not a field that can be left unindexed")
        # Takes any JSON value, and indexes none of it.
        properties[unindexed] = {"type": "object", "enabled": False}
        meta["trailql_unindexed"] = unindexed
    return {
        "dynamic": False,
        "_source": {"excludes": [DERIVED]},
        "_meta": meta,
        "properties": properties,
    }


#: Fields every event is indexed by: the indexer refuses records where they are unusable.
_ALWAYS_INDEXED = frozenset({"eventID", "eventTime", DERIVED})


@dataclass(frozen=True)
class IndexLayout:
    """How each events index is spread over a cluster: primary shards, and copies of each."""

    shards: int = 1
    #: Copies of each shard beyond its primary; None: one wherever a second node can hold it
    #: (``auto_expand_replicas: 0-1``), so one node is green and a cluster survives a loss.
    replicas: int | None = None

    def settings(self) -> dict[str, Any]:
        """The index settings of an events index laid out so."""
        copies: dict[str, Any] = (
            {"index.auto_expand_replicas": "0-1"}
            if self.replicas is None
            else {"index.number_of_replicas": self.replicas, "index.auto_expand_replicas": False}
        )
        return {
            "index.number_of_shards": self.shards,
            **copies,
            # A malformed secondary value (say, a creationDate that is not a date) is skipped
            # instead of losing the whole event.
            "index.mapping.ignore_malformed": True,
            # Stored newest first, in the API's own order: a page of the newest events is read
            # from the top of each segment and stops there, however many events it holds.
            "index.sort.field": [field_path("eventTime"), field_path("eventID")],
            "index.sort.order": ["desc", "desc"],
        }


def custom_template(alias: str) -> str:
    """The component template an operator may create to add settings to every new month.

    An index lifecycle policy (``index.lifecycle.name``) on a distribution with ILM, a codec,
    a refresh interval: the events template takes it in when it exists. The events template's
    own settings (shards, replicas, the mapping) win over it.
    """
    return f"{alias}@custom"


def index_template(alias: str, layout: IndexLayout | None = None) -> dict[str, Any]:
    """A composable index template for the monthly indices behind ``alias``."""
    return {
        "index_patterns": [f"{alias}-*"],
        "priority": 500,
        "composed_of": [custom_template(alias)],
        "ignore_missing_component_templates": [custom_template(alias)],
        "_meta": {"trailql_schema_version": SCHEMA_VERSION},
        "template": {
            "settings": (layout or IndexLayout()).settings(),
            "mappings": event_mapping(),
            "aliases": {alias: {}},
        },
    }


def monthly_index(alias: str, event_time: datetime) -> str:
    """The index an event belongs in; always the same for the same event, which dedups.

    The year has four digits whatever it is (``%Y`` gives ``1`` for the year 1 on Linux).
    """
    return f"{alias}-{event_time.year:04d}.{event_time.month:02d}"


def month_of_index(alias: str, name: str) -> datetime | None:
    """The first instant of the month a monthly index of ``alias`` holds; None for another."""
    prefix = f"{alias}-"
    year, dot, month = name.removeprefix(prefix).partition(".")
    if not name.startswith(prefix) or not dot or not (year.isdigit() and month.isdigit()):
        return None
    if len(year) != 4 or len(month) != 2 or not 1 <= int(month) <= 12:  # noqa: PLR2004
        return None
    return datetime(int(year), int(month), 1, tzinfo=UTC)


def without_index(alias: str, unindexed: str) -> str:
    """The index of the events whose ``unindexed`` field has a JSON type its mapping refuses.

    Named outside the ``<alias>-*`` pattern, which would give it the events template.
    """
    return f"{alias}_without_{unindexed.lower()}"


def unindexed_field(alias: str, index: str) -> str | None:
    """The field an index behind ``alias`` leaves unindexed (see :func:`without_index`)."""
    prefix = f"{alias}_without_"
    if not index.startswith(prefix):
        return None
    lowered = index.removeprefix(prefix)
    return next((f.name for f in EVENT_FIELDS if f.name.lower() == lowered), None)


def holds_events_of(alias: str, index: str) -> bool:
    """Whether ``index`` is one of ``alias``'s own: a month, or one of unindexed events."""
    return month_of_index(alias, index) is not None or unindexed_field(alias, index) is not None


def without_index_body(
    alias: str, unindexed: str, layout: IndexLayout | None = None
) -> dict[str, Any]:
    """Settings, mapping and alias of :func:`without_index`, for ``indices.create``."""
    return {
        "settings": (layout or IndexLayout()).settings(),
        "mappings": event_mapping(unindexed),
        "aliases": {alias: {}},
    }
