"""The event document, defined once: fields, Elasticsearch mapping, derived search fields."""

from schema.document import (
    DERIVED,
    INDEXED_AT,
    MAX_ID_BYTES,
    EventDocument,
    InvalidRecordError,
    derived_fields,
    document_id,
    event_document,
    failed,
    ip_address,
    mistyped,
    principal_name,
)
from schema.fields import EVENT_FIELDS, KEYWORD_IGNORE_ABOVE, Field, Kind
from schema.mapping import (
    SCHEMA_VERSION,
    event_mapping,
    index_template,
    indexed_at_mapping,
    monthly_index,
    unindexed_field,
    without_index,
    without_index_body,
)

__all__ = [
    "DERIVED",
    "EVENT_FIELDS",
    "INDEXED_AT",
    "KEYWORD_IGNORE_ABOVE",
    "MAX_ID_BYTES",
    "SCHEMA_VERSION",
    "EventDocument",
    "Field",
    "InvalidRecordError",
    "Kind",
    "derived_fields",
    "document_id",
    "event_document",
    "event_mapping",
    "failed",
    "index_template",
    "indexed_at_mapping",
    "ip_address",
    "mistyped",
    "monthly_index",
    "principal_name",
    "unindexed_field",
    "without_index",
    "without_index_body",
]
