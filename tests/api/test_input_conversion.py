"""Input objects built by ``api.input_conversion`` equal what Strawberry's conversion builds.

Every input type the schema's resolvers take is given values naming each of its fields (each
enum value, nested inputs to three levels, nulls and empty lists), plus every filter the query
tests use; each value is coerced as graphql-core coerces a request's, then converted with the
shortcut and with Strawberry's own conversion (the hook removed), and the two must be equal.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
)
from graphql.utilities import coerce_input_value
from strawberry.types.arguments import convert_argument
from strawberry.types.base import get_object_definition

from api.events import EventOrder
from api.filters import EventFilter, ParameterCondition
from api.findings import FindingFilter, FindingOrder
from api.integrity import IntegrityFilter
from api.schema import schema
from tests.api.test_filters import CASES, GENERATED_CASES

INPUTS: list[type] = [
    EventFilter,
    ParameterCondition,
    EventOrder,
    FindingFilter,
    FindingOrder,
    IntegrityFilter,
]

#: A value of each scalar, as a client sends it.
SCALAR_VALUES: dict[str, list[Any]] = {
    "String": ["logs.amazonaws.com", ""],
    "Boolean": [True, False],
    "Int": [7],
    "Float": [1.5],
    "ID": ["id-1"],
    "DateTime": ["2024-03-01T12:30:00Z", "2024-03-01T12:30:00.123+02:00"],
    "JSON": [{"a": [1, "x"]}],
}
DEPTH = 3


def _values(input_type: GraphQLInputType, depth: int) -> list[Any]:
    """Values of ``input_type`` as JSON variables: each choice at least once."""
    if isinstance(input_type, GraphQLNonNull):
        return _values(input_type.of_type, depth)
    if isinstance(input_type, GraphQLList):
        items = _values(input_type.of_type, depth)
        return [items, [], [items[0]]] if items else [[]]
    if isinstance(input_type, GraphQLEnumType):
        return list(input_type.values)
    if isinstance(input_type, GraphQLScalarType):
        return SCALAR_VALUES[input_type.name]
    assert isinstance(input_type, GraphQLInputObjectType)
    if depth == 0:
        return []
    objects: list[dict[str, Any]] = [{}]
    everything: dict[str, Any] = {}
    for name, field in input_type.fields.items():
        choices = _values(field.type, depth - 1)
        objects.extend({**_required(input_type, depth), name: choice} for choice in choices)
        if choices:
            everything[name] = choices[0]
        if not isinstance(field.type, GraphQLNonNull):
            objects.append({**_required(input_type, depth), name: None})
    objects.append({**everything, **_required(input_type, depth)})
    return [value for value in objects if _has_required(input_type, value)]


def _required(input_type: GraphQLInputObjectType, depth: int) -> dict[str, Any]:
    return {
        name: _values(field.type, depth - 1)[0]
        for name, field in input_type.fields.items()
        if isinstance(field.type, GraphQLNonNull) and _values(field.type, depth - 1)
    }


def _has_required(input_type: GraphQLInputObjectType, value: dict[str, Any]) -> bool:
    return all(
        name in value
        for name, field in input_type.fields.items()
        if isinstance(field.type, GraphQLNonNull)
    )


@contextmanager
def strawberry_conversion() -> Iterator[None]:
    """Strawberry's own conversion for every input type inside the block."""
    definitions = [get_object_definition(one, strict=True) for one in INPUTS]
    hooks = [definition.from_input for definition in definitions]
    for definition in definitions:
        definition.from_input = None
    try:
        yield
    finally:
        for definition, hook in zip(definitions, hooks, strict=True):
            definition.from_input = hook


def converted(cls: type, value: Any) -> Any:
    """``value`` coerced as graphql-core coerces a request's, then converted for ``cls``."""
    name = get_object_definition(cls, strict=True).name
    input_type = schema._schema.type_map[name]
    assert isinstance(input_type, GraphQLInputObjectType)
    coerced = coerce_input_value(value, input_type)
    registry = schema.schema_converter.scalar_registry
    return convert_argument(coerced, cls, registry, schema.config)


def both_ways(cls: type, value: Any) -> tuple[Any, Any]:
    fast = converted(cls, value)
    with strawberry_conversion():
        generic = converted(cls, value)
    return fast, generic


def test_every_input_type_is_built_by_the_shortcut() -> None:
    """Else the test below compares Strawberry with itself."""
    for cls in INPUTS:
        assert get_object_definition(cls, strict=True).from_input is not None, cls


@pytest.mark.parametrize("cls", INPUTS, ids=lambda cls: cls.__name__)
def test_each_field_of_each_input_converts_as_strawberry_converts_it(cls: type) -> None:
    name = get_object_definition(cls, strict=True).name
    values = _values(schema._schema.type_map[name], DEPTH)  # type: ignore[arg-type]
    assert len(values) > len(get_object_definition(cls, strict=True).fields)
    for value in values:
        fast, generic = both_ways(cls, value)
        assert type(fast) is cls
        assert fast == generic, value


def test_every_filter_of_the_query_tests_converts_as_strawberry_converts_it() -> None:
    cases = [value for _, value, *_ in CASES] + [value for _, value, *_ in GENERATED_CASES]
    assert len(cases) == len(CASES) + len(GENERATED_CASES) > 30
    for value in cases:
        fast, generic = both_ways(EventFilter, value)
        assert fast == generic, value


def test_a_built_list_is_the_requests_own() -> None:
    """graphql-core may hand each request the same default list; changing one changes no other."""
    input_type = schema._schema.type_map["EventFilter"]
    assert isinstance(input_type, GraphQLInputObjectType)
    coerced = coerce_input_value({"eventSource": ["a"], "and": [{"eventName": ["b"]}]}, input_type)
    registry = schema.schema_converter.scalar_registry
    first = convert_argument(coerced, EventFilter, registry, schema.config)
    second = convert_argument(coerced, EventFilter, registry, schema.config)
    assert isinstance(first, EventFilter)
    assert isinstance(second, EventFilter)
    assert first.event_source is not None
    assert first.and_ is not None
    assert second.and_ is not None
    assert first.and_[0].event_name is not None
    first.event_source.append("changed")
    first.and_[0].event_name.append("changed")
    assert second.event_source == ["a"]
    assert second.and_[0].event_name == ["b"]
    assert (coerced["eventSource"], coerced["and"][0]["eventName"]) == (["a"], ["b"])
