"""Where a Sigma rule's CloudTrail field names lead: an indexed path, and the record's own value.

Rules name fields as CloudTrail does (``eventName``, ``userIdentity.type``,
``requestParameters.logGroupName``). The TrailQL processing pipeline
(:func:`trailql_pipeline`) maps them onto the mapping in ``schema/``: the record's own fields
keep their names; the opaque parameter blocks, stored unindexed, are searched through their
flattened copies under ``trailql.`` (``trailql.requestParameters.logGroupName``); and two
TrailQL fields are offered beside CloudTrail's: ``principal`` and ``logGroupName``.

:func:`record_values` reads the same field from a record as stored, for the checks that
Elasticsearch cannot make on a flattened field (see :mod:`detections.conversion`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any

from sigma.processing.conditions import LogsourceCondition
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import (
    FieldMappingTransformation,
    FieldPrefixMappingTransformation,
)

from schema import DERIVED, EVENT_FIELDS, Field, Kind, log_group_names, principal_name
from schema.paths import LOG_GROUP_NAME, PRINCIPAL, SOURCE_IP

#: The opaque blocks (requestParameters, ...) whose flattened copies are searched.
OPAQUE = tuple(field.name for field in EVENT_FIELDS if field.kind is Kind.JSON)


class FieldKind(Enum):
    """How a mapped field can be searched."""

    KEYWORD = "keyword"
    BOOLEAN = "boolean"
    DATE = "date"
    TEXT = "text"
    FLATTENED = "flattened"  # a path inside a flattened copy: text values, no wildcards
    IP = "ip"


class UnknownFieldError(ValueError):
    """A field the events are not indexed by."""


@dataclass(frozen=True)
class MappedField:
    """A field as searched: its indexed path and kind."""

    path: str
    kind: FieldKind


def _leaf_kinds(fields: tuple[Field, ...], prefix: str = "") -> Iterator[tuple[str, FieldKind]]:
    for field in fields:
        path = prefix + field.name
        match field.kind:
            case Kind.OBJECT:
                yield from _leaf_kinds(field.children, path + ".")
            case Kind.KEYWORD:
                yield path, FieldKind.KEYWORD
            case Kind.BOOLEAN:
                yield path, FieldKind.BOOLEAN
            case Kind.DATE:
                yield path, FieldKind.DATE
            case Kind.TEXT:
                yield path, FieldKind.KEYWORD  # searched through its .keyword
            case Kind.JSON:
                pass


_TOP_LEVEL = dict(_leaf_kinds(EVENT_FIELDS))
_TEXT_FIELDS = frozenset(f.name for f in EVENT_FIELDS if f.kind is Kind.TEXT)
_DERIVED_FIELDS = {
    PRINCIPAL: FieldKind.KEYWORD,
    LOG_GROUP_NAME: FieldKind.KEYWORD,
    SOURCE_IP: FieldKind.IP,
}


def mapped_field(path: str) -> MappedField:
    """The kind of a field name after the pipeline; :class:`UnknownFieldError` if not indexed."""
    if path in _TOP_LEVEL:
        indexed = f"{path}.keyword" if path in _TEXT_FIELDS else path
        return MappedField(indexed, _TOP_LEVEL[path])
    if path in _DERIVED_FIELDS:
        return MappedField(path, _DERIVED_FIELDS[path])
    for block in OPAQUE:
        if path.startswith(f"{DERIVED}.{block}."):
            return MappedField(path, FieldKind.FLATTENED)
    raise UnknownFieldError(
        f"the field {path!r} is not indexed: name a CloudTrail field (eventName, "
        "userIdentity.type, requestParameters.<path>, ...) or principal or logGroupName"
    )


def trailql_pipeline() -> ProcessingPipeline:
    """The TrailQL processing pipeline: CloudTrail's field names onto TrailQL's mapping."""

    def cloudtrail() -> list[LogsourceCondition]:
        return [LogsourceCondition(product="aws", service="cloudtrail")]

    return ProcessingPipeline(
        name="TrailQL CloudTrail mapping",
        priority=20,
        items=[
            ProcessingItem(
                FieldPrefixMappingTransformation(
                    {f"{block}.": f"{DERIVED}.{block}." for block in OPAQUE}
                ),
                rule_conditions=cloudtrail(),  # type: ignore[arg-type]
                identifier="trailql_parameter_blocks",
            ),
            ProcessingItem(
                FieldMappingTransformation(
                    {"principal": PRINCIPAL, "logGroupName": LOG_GROUP_NAME}
                ),
                rule_conditions=cloudtrail(),  # type: ignore[arg-type]
                identifier="trailql_derived_fields",
            ),
        ],
    )


def mapped_name(cloudtrail_name: str) -> str:
    """A CloudTrail field name as the pipeline maps it (for correlation group-by fields)."""
    for block in OPAQUE:
        if cloudtrail_name.startswith(f"{block}."):
            return f"{DERIVED}.{cloudtrail_name}"
    return {"principal": PRINCIPAL, "logGroupName": LOG_GROUP_NAME}.get(
        cloudtrail_name, cloudtrail_name
    )


def record_values(record: dict[str, Any], path: str) -> list[Any]:
    """Every value at a mapped ``path`` of a stored record, lists walked through, as indexed."""
    if path == PRINCIPAL:
        principal = principal_name(record.get("userIdentity"))
        return [] if principal is None else [principal]
    if path == LOG_GROUP_NAME:
        return list(log_group_names(record.get("requestParameters")))
    if path == SOURCE_IP:
        path = "sourceIPAddress"
    path = path.removeprefix(f"{DERIVED}.").removesuffix(".keyword")
    found: list[Any] = []
    _collect(record, path.split("."), found)
    return found


def _collect(value: Any, keys: list[str], found: list[Any]) -> None:
    if isinstance(value, list):
        for item in value:
            _collect(item, keys, found)
        return
    if not keys:
        if value is not None:
            found.append(value)
        return
    if isinstance(value, dict) and keys[0] in value:
        _collect(value[keys[0]], keys[1:], found)
    elif isinstance(value, dict):
        # A key with dots of its own ("aws:SourceAccount") is one key in the record.
        for cut in range(2, len(keys) + 1):
            joined = ".".join(keys[:cut])
            if joined in value:
                _collect(value[joined], keys[cut:], found)
                return
