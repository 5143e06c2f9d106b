"""GraphQL object types for the event, generated from ``schema.fields``.

An event node is the stored ``_source`` (the CloudTrail record as written), and each field
reads the key of the same name: nothing is copied into intermediate objects, and a field
added to the table appears in the API without another declaration.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Optional, cast

import strawberry
from strawberry.scalars import JSON
from strawberry.tools import create_type
from strawberry.types.field import StrawberryField

from api.completion import PlannedType, Reader, key, plan_type
from api.integrity import event_log_file
from schema import EVENT_FIELDS, Field, Kind, principal_name
from schema.document import parse_event_time


def read_key(node: Any, name: str) -> Any:
    """Strawberry's default resolver for every generated field: nodes are JSON objects."""
    if isinstance(node, dict):
        return node.get(name)
    return getattr(node, name, None)


def _as_datetime(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_event_time(value)
    except ValueError:
        return None


def _as_boolean(value: object) -> bool | None:
    """CloudTrail writes some flags as JSON booleans and some as "true"/"false"."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _converting_resolver(name: str, convert: Callable[[object], Any], result: Any) -> Any:
    def resolve(root: strawberry.Parent[Any]) -> Any:
        return convert(read_key(root, name))

    resolve.__annotations__["return"] = result
    return resolve


def named_field(python_name: str, **options: Any) -> StrawberryField:
    """A field for a type built at run time (``create_type`` needs the Python name set)."""
    made = cast("StrawberryField", strawberry.field(**options))
    made.python_name = python_name
    return made


def _strawberry_field(field: Field) -> StrawberryField:
    graphql_type: Any
    match field.kind:
        case Kind.KEYWORD | Kind.TEXT:
            graphql_type = str
        case Kind.JSON:
            graphql_type = JSON
        case Kind.OBJECT:
            graphql_type = _object_type(field)
        case Kind.DATE:
            resolver = _converting_resolver(field.name, _as_datetime, _nullable(field, datetime))
            return named_field(field.name, resolver=resolver, description=field.description)
        case Kind.BOOLEAN:
            resolver = _converting_resolver(field.name, _as_boolean, _nullable(field, bool))
            return named_field(field.name, resolver=resolver, description=field.description)
    if field.many:
        graphql_type = list[graphql_type]
    return named_field(
        field.name, graphql_type=_nullable(field, graphql_type), description=field.description
    )


def _nullable(field: Field, graphql_type: Any) -> Any:
    # Optional[...] builds a runtime type object from a variable, where `X | None` cannot.
    return graphql_type if field.required else Optional[graphql_type]  # noqa: UP045


def _object_type(field: Field) -> type:
    return create_type(
        field.type_name,
        [_strawberry_field(child) for child in field.children],
        description=field.description,
    )


def _principal(root: strawberry.Parent[Any]) -> str | None:
    return principal_name(read_key(root, "userIdentity"))


_PRINCIPAL = named_field(
    "principal",
    resolver=_principal,
    description=(
        "Who, as a person would name them: the IAM user name, `role/session` for an assumed "
        "role, `root`, the service for AWS services, the user for federated and Identity "
        "Center users. Derived by TrailQL; not a CloudTrail field."
    ),
)


def _record(root: strawberry.Parent[Any]) -> JSON:
    return root  # type: ignore[no-any-return]


_RECORD = named_field(
    "record",
    resolver=_record,
    description=(
        "The whole record, exactly as CloudTrail wrote it, with the fields this schema does "
        "not type (tlsDetails extensions, new fields CloudTrail adds)."
    ),
)

_LOG_FILE = named_field(
    "logFile",
    resolver=event_log_file,
    description=(
        "The trail file the event was read from, and that file's integrity verdict. Null "
        "for events indexed before TrailQL recorded files. Derived by TrailQL."
    ),
)

#: Built at run time from the field table; typed Any because no static type describes it.
Event: Any = create_type(
    "Event",
    [_strawberry_field(field) for field in EVENT_FIELDS] + [_PRINCIPAL, _RECORD, _LOG_FILE],
    description="One CloudTrail event: a call to an AWS API, as CloudTrail recorded it.",
)


def _reader(field: Field) -> Reader:
    """How plans read a field: as its resolver above does, from the stored record."""
    name = field.name
    match field.kind:
        case Kind.DATE:
            return Reader(lambda record: _as_datetime(record.get(name)))
        case Kind.BOOLEAN:
            return Reader(lambda record: _as_boolean(record.get(name)))
        case _:
            return key(name)


def _plan_types(type_name: str, fields: tuple[Field, ...], *, root: bool = False) -> None:
    readers = {field.name: _reader(field) for field in fields}
    if root:
        readers["principal"] = Reader(lambda record: principal_name(record.get("userIdentity")))
        readers["record"] = Reader(lambda record: record)
    plan_type(type_name, PlannedType(source=dict, readers=readers, root=root))
    for field in fields:
        if field.kind is Kind.OBJECT:
            _plan_types(field.type_name, field.children)


_plan_types("Event", EVENT_FIELDS, root=True)

#: The keys of the stored record each Event field reads (None: the whole record), so a
#: search fetches only what a selection needs.
RECORD_KEYS: dict[str, tuple[str, ...] | None] = {
    **{field.name: (field.name,) for field in EVENT_FIELDS},
    "principal": ("userIdentity",),
    "record": None,
    "logFile": ("eventID",),  # looked up by eventID (api/integrity.py)
    "__typename": (),
}


def record_keys(selected: Iterable[str]) -> list[str] | None:
    """The record keys these Event fields read, in order; None when one needs them all."""
    keys: dict[str, None] = {}
    for name in selected:
        read = RECORD_KEYS.get(name)
        if read is None:
            return None
        keys.update(dict.fromkeys(read))
    return list(keys)
