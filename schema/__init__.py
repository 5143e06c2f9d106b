"""The event document, defined once: fields, Elasticsearch mapping, derived search fields."""

from schema.document import (
    DERIVED,
    EventDocument,
    InvalidRecordError,
    event_document,
    failed,
    ip_address,
    principal_name,
)
from schema.fields import EVENT_FIELDS, Field, Kind
from schema.mapping import SCHEMA_VERSION, event_mapping, index_template, monthly_index

__all__ = [
    "DERIVED",
    "EVENT_FIELDS",
    "SCHEMA_VERSION",
    "EventDocument",
    "Field",
    "InvalidRecordError",
    "Kind",
    "event_document",
    "event_mapping",
    "failed",
    "index_template",
    "ip_address",
    "monthly_index",
    "principal_name",
]
