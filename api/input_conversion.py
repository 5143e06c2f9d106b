"""Input objects built from their GraphQL values without Strawberry's generic conversion.

Strawberry converts an input value field by field, resolving each field's annotation on
every request: for ``EventFilter``, whose two dozen fields graphql-core fills with their
``null`` defaults, that is about fifty calls and a third of a millisecond per request. The
value graphql-core hands over is already coerced (scalars parsed, lists checked), so most
fields are taken as they are; this builds, once per input class, the list of which ones,
and leaves every other field (nested inputs, enums, ``Maybe``; a null aside) to Strawberry's
own conversion, through the ``from_input`` hook Strawberry offers for that purpose.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import MISSING
from datetime import datetime
from typing import Any, TypeVar

from strawberry.types.arguments import InputContext
from strawberry.types.base import (
    StrawberryList,
    StrawberryMaybe,
    StrawberryObjectDefinition,
    StrawberryOptional,
    StrawberryType,
    get_object_definition,
)

_Input = TypeVar("_Input")

#: Scalars whose coerced value is the Python value Strawberry would pass on.
_AS_IS_SCALARS: frozenset[object] = frozenset({str, bool, int, float, datetime})

#: A field's conversion: its coerced value, the input's context and the field's GraphQL name.
_Convert = Callable[[Any, InputContext, str], Any]


def _as_is(value: Any, context: InputContext, name: str) -> Any:
    del context, name
    return value


def _list_copy(value: Any, context: InputContext, name: str) -> Any:
    """A fresh list: graphql-core may hand every request the same default list."""
    del context, name
    return None if value is None else list(value)


def _converter_for(field_type: StrawberryType | type) -> _Convert | None:
    """The shortcut for a field of this type, or None when Strawberry must convert it."""
    if isinstance(field_type, StrawberryMaybe):  # wrapped in Some: Strawberry's own work
        return None
    inner = field_type.of_type if isinstance(field_type, StrawberryOptional) else field_type
    if inner in _AS_IS_SCALARS:
        return _as_is
    if isinstance(inner, StrawberryList):
        item = inner.of_type
        item = item.of_type if isinstance(item, StrawberryOptional) else item
        if item in _AS_IS_SCALARS:
            return _list_copy
    return None


def _strawberry_converter(field_type: StrawberryType | type) -> _Convert:
    """Strawberry's conversion; a null of an optional field is null without it."""
    optional = isinstance(field_type, StrawberryOptional) and not isinstance(
        field_type, StrawberryMaybe
    )

    def convert(value: Any, context: InputContext, name: str) -> Any:
        if value is None and optional:
            return None
        return context.convert(value, field_type, name)

    return convert


def _plan(
    definition: StrawberryObjectDefinition, context: InputContext
) -> tuple[tuple[str, str, _Convert], ...]:
    """Each field's GraphQL name, Python name and conversion."""
    plan = []
    for field in definition.fields:
        field_type = field.resolve_type(type_definition=definition)
        convert = _converter_for(field_type) or _strawberry_converter(field_type)
        plan.append((context.config.name_converter.from_field(field), field.python_name, convert))
    return tuple(plan)


def fast_input(cls: type[_Input]) -> type[_Input]:
    """Build ``cls`` (a ``strawberry.input``) with precomputed field conversions.

    A class decorator, applied over ``@strawberry.input``. The fields are worked out on
    the first value, when every annotation (forward references included) resolves.
    """
    definition = get_object_definition(cls, strict=True)
    # As Strawberry does: a field with no default is None unless the value gives it.
    required = {
        field.python_name: None
        for field in definition.fields
        if field.default_value is MISSING and field.default_factory is MISSING
    }
    plans: list[tuple[tuple[str, str, _Convert], ...]] = []

    def build(target: type, value: Mapping[str, Any], context: InputContext) -> Any:
        if not plans:
            plans.append(_plan(definition, context))
        kwargs = dict(required)
        for name, python_name, convert in plans[0]:
            if name in value:
                kwargs[python_name] = convert(value[name], context, name)
        return target(**kwargs)

    definition.from_input = build
    return cls
