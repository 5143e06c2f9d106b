"""The event document, defined once: fields, Elasticsearch mapping, derived search fields."""

from schema.document import (
    DERIVED,
    MAX_ID_BYTES,
    EventDocument,
    InvalidRecordError,
    document_id,
    event_document,
    failed,
    ip_address,
    log_group_names,
    mistyped,
    principal_name,
)
from schema.fields import EVENT_FIELDS, KEYWORD_IGNORE_ABOVE, Field, Kind
from schema.mapping import (
    SCHEMA_VERSION,
    IndexLayout,
    added_mapping,
    custom_template,
    event_mapping,
    index_template,
    monthly_index,
    without_index,
    without_index_body,
)

__all__ = [
    "DERIVED",
    "EVENT_FIELDS",
    "KEYWORD_IGNORE_ABOVE",
    "MAX_ID_BYTES",
    "SCHEMA_VERSION",
    "EventDocument",
    "Field",
    "IndexLayout",
    "InvalidRecordError",
    "Kind",
    "added_mapping",
    "custom_template",
    "document_id",
    "event_document",
    "event_mapping",
    "failed",
    "index_template",
    "ip_address",
    "log_group_names",
    "mistyped",
    "monthly_index",
    "principal_name",
    "without_index",
    "without_index_body",
]
