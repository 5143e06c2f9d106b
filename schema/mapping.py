"""The Elasticsearch side of the event document: mapping, index template, index names.

One index per month of eventTime (``<alias>-YYYY.MM``) keeps indices a manageable size and
lets old months be dropped or snapshotted whole; the template puts every such index behind
the read alias, so nothing else has to know the months.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from schema.document import DERIVED, OPAQUE_FIELDS
from schema.fields import EVENT_FIELDS, Field, Kind

#: Bumped whenever the mapping changes, so an installed template can be told apart.
SCHEMA_VERSION = 3

#: Longest value indexed for exact match. Lucene refuses terms over 32,766 bytes and would
#: reject the whole document; a longer value is still stored, only not indexed.
KEYWORD_IGNORE_ABOVE = 4096

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
    }
    properties.update(dict.fromkeys(OPAQUE_FIELDS, flattened))
    return {"type": "object", "dynamic": False, "properties": properties}


def event_mapping() -> dict[str, Any]:
    """The mapping of an events index.

    ``dynamic: false`` keeps fields CloudTrail adds in future in ``_source`` without
    indexing them, so a new field can never break indexing or explode the mapping.
    """
    properties = {field.name: _field_mapping(field) for field in EVENT_FIELDS}
    properties[DERIVED] = _derived_mapping()
    return {
        "dynamic": False,
        "_source": {"excludes": [DERIVED]},
        "_meta": {"trailql_schema_version": SCHEMA_VERSION},
        "properties": properties,
    }


def index_template(alias: str) -> dict[str, Any]:
    """A composable index template for the monthly indices behind ``alias``."""
    return {
        "index_patterns": [f"{alias}-*"],
        "priority": 500,
        "_meta": {"trailql_schema_version": SCHEMA_VERSION},
        "template": {
            "settings": {
                "index.number_of_shards": 1,
                # A replica wherever there is a second node; green on a single node.
                "index.auto_expand_replicas": "0-1",
                # A malformed secondary value (say, a creationDate that is not a date) is
                # skipped instead of losing the whole event.
                "index.mapping.ignore_malformed": True,
            },
            "mappings": event_mapping(),
            "aliases": {alias: {}},
        },
    }


def monthly_index(alias: str, event_time: datetime) -> str:
    """The index an event belongs in; always the same for the same event, which dedups."""
    return f"{alias}-{event_time:%Y.%m}"
