"""Completing large results straight from Elasticsearch's answer, without a resolver a field.

graphql-core completes a value field by field: for a page of 100 events with 15 fields
each, or a timeline of 15,000 buckets, that is thousands of resolver calls, each costing
microseconds. This executor does the same work for the types that carry such results
(events, their connections and edges, statistics) with a *plan*: for one selection
(graphql-core's own collection of its fields, fragments and directives included), one
function per response key that reads the value and completes it, compiled once and kept.

A plan completes exactly as graphql-core would: aliases, fragments, ``__typename``,
``@skip``/``@include``, nested objects, scalars coerced by the schema's own scalar types. It
gives up (:class:`Fallback`) on anything it does not complete identically: a null where
the schema says non-null, a value of an unexpected shape, a scalar that does not coerce.
Then graphql-core completes that value from the start, errors and paths included. The two
are kept equal by a test that answers generated documents both ways.

Each type that can be planned registers here how its fields are read from a source
(:func:`plan_type`), beside its own definition, so a field is read one way whichever path
completes it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cachetools import LRUCache
from graphql import (
    GraphQLLeafType,
    GraphQLObjectType,
    GraphQLOutputType,
    get_nullable_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

#: Plans kept, least recently used dropped first.
_PLANS_KEPT = 2_000

Complete = Callable[[Any], Any]


class Fallback(Exception):  # noqa: N818  a signal, not an error
    """A value the plan does not complete exactly as graphql-core would; it will instead."""


@dataclass(frozen=True)
class Reader:
    """How one field's value is read from a source; ``keyed`` readers get the response key.

    ``dict_key`` and ``attribute`` name what a plain reader reads, so a plan can read it
    without calling ``read``.
    """

    read: Callable[..., Any]
    keyed: bool = False
    dict_key: str | None = None
    attribute: str | None = None


@dataclass(frozen=True)
class PlannedType:
    """How the fields of one GraphQL object type are read, and what its sources are."""

    source: type | tuple[type, ...]
    readers: dict[str, Reader]
    #: Turns what a resolver returned into the source the readers read (None: as it is).
    unwrap: Callable[[Any], Any] | None = None
    #: Types whose values a plan may start from (what a root field returns).
    root: bool = False


_PLANNED: dict[str, PlannedType] = {}


def plan_type(names: str | tuple[str, ...], planned: PlannedType) -> None:
    """Register how the GraphQL object type(s) ``names`` are read by plans."""
    for name in (names,) if isinstance(names, str) else names:
        _PLANNED[name] = planned


def attribute(name: str) -> Reader:
    """A reader of an attribute of the source object."""
    return Reader(lambda source: getattr(source, name), attribute=name)


def key(name: str) -> Reader:
    """A reader of a key of the source dict."""
    return Reader(lambda source: source.get(name), dict_key=name)


@dataclass
class _PlanCache:
    """Plans by the selection they complete; entries hold the nodes their key names."""

    plans: LRUCache[tuple[Any, ...], tuple[Any, Complete | None]] = field(
        default_factory=lambda: LRUCache(maxsize=_PLANS_KEPT)
    )


_CACHE = _PlanCache()


class PlannedExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's executor, completing planned types with a plan when it can."""

    #: False answers every request the standard way (the equivalence test's other side).
    use_plans = True

    def complete_value(  # noqa: PLR0917  graphql-core's signature
        self,
        return_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        info: Any,
        path: Any,
        result: Any,
        position_context: Any,
    ) -> Any:
        """A planned root type's value through its plan; anything else as graphql-core does."""
        if self.use_plans and result is not None and not isinstance(result, Exception):
            named = return_type.of_type if is_non_null_type(return_type) else return_type
            planned = _PLANNED.get(getattr(named, "name", ""))
            if planned is not None and planned.root:
                complete = self._plan(return_type, field_details_list)
                if complete is not None:
                    try:
                        return complete(result)
                    except Exception:  # noqa: BLE001, S110  Fallback, or a reader's failure:
                        pass  # either way graphql-core completes it, and reports any error
        return super().complete_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def _plan(
        self, return_type: GraphQLOutputType, field_details_list: FieldDetailsList
    ) -> Complete | None:
        nodes = tuple(details.node for details in field_details_list)
        switches = tuple(
            sorted(
                (name, value)
                for name, value in self.variable_values.coerced.items()
                if isinstance(value, bool)
            )
        )
        cache_key = (id(return_type), tuple(map(id, nodes)), switches)
        cached = _CACHE.plans.get(cache_key)
        if cached is not None:
            return cached[1]
        complete = self._compile(return_type, field_details_list)
        _CACHE.plans[cache_key] = (nodes, complete)
        return complete

    def _compile(  # noqa: PLR0911  one return per kind of type
        self, return_type: GraphQLOutputType, field_details_list: FieldDetailsList
    ) -> Complete | None:
        if any(details.fragment_variable_values for details in field_details_list):
            return None
        if is_non_null_type(return_type):
            if is_leaf_type(return_type.of_type):
                return _leaf(return_type.of_type, non_null=True)
            inner = self._compile(return_type.of_type, field_details_list)
            return None if inner is None else _non_null(inner)
        if is_list_type(return_type):
            inner = self._compile(return_type.of_type, field_details_list)
            return None if inner is None else _list_of(inner)
        if is_leaf_type(return_type):
            return _leaf(return_type, non_null=False)
        if is_object_type(return_type):
            return self._compile_object(return_type, field_details_list)
        return None  # interfaces and unions: none are planned

    def _compile_object(
        self, object_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> Complete | None:
        planned = _PLANNED.get(object_type.name)
        if planned is None:
            return None
        grouped, deferred, _ = self.collect_subfields(object_type, field_details_list)
        if deferred:
            return None
        fields: list[_Field] = []
        for response_key, sub_fields in grouped.items():
            name = sub_fields[0].node.name.value
            if name == "__typename":
                fields.append(_Field(response_key, _TYPENAME, _as_is, typename=object_type.name))
                continue
            reader = planned.readers.get(name)
            field_definition = object_type.fields.get(name)
            if reader is None or field_definition is None:
                return None
            complete = self._compile(field_definition.type, sub_fields)
            if complete is None:
                return None
            leaf = get_nullable_type(field_definition.type)
            scalar = leaf.name if is_leaf_type(leaf) else None
            fields.append(_Field(response_key, reader, complete, scalar=scalar))
        return _object(planned, fields)


@dataclass(frozen=True)
class _Field:
    """One response key of an object: how it is read and completed."""

    response_key: str
    reader: Reader
    complete: Complete
    scalar: str | None = None  # the leaf type's name, for its shortcut
    typename: str | None = None  # __typename: this constant


def _as_is(value: Any) -> Any:
    return value


#: Times written out, by the time and its zone: timelines ask the same bucket starts again
#: and again, and ``isoformat`` costs a microsecond a time.
_ISO_TEXTS: dict[tuple[datetime, Any], str] = {}
_ISO_TEXTS_KEPT = 200_000


class IsoText(str):
    """A DateTime already written as its coercion writes it, passed on as is.

    For readers that have the text at hand: a timeline's bucket starts, remembered by their
    epoch milliseconds.
    """

    __slots__ = ()


def iso_text(moment: datetime) -> str:
    """``moment.isoformat()``, DateTime's own coercion, remembered."""
    key = (moment, moment.tzinfo)
    text = _ISO_TEXTS.get(key)
    if text is None:
        if len(_ISO_TEXTS) >= _ISO_TEXTS_KEPT:
            _ISO_TEXTS.clear()
        text = _ISO_TEXTS[key] = moment.isoformat()
    return text


_TYPENAME = Reader(_as_is)

#: For a scalar, a test that a value ``{v}`` is already what its coercion would give.
_PASSES = {
    "String": "type({v}) is str",
    "ID": "type({v}) is str",
    "Int": "type({v}) is int and -2147483648 <= {v} <= 2147483647",
    "Float": "type({v}) is float and isfinite({v})",
    "Boolean": "type({v}) is bool",
}


def _object(planned: PlannedType, fields: list[_Field]) -> Complete:
    """A function completing one object: written out as Python source, then compiled.

    A loop over fields calls two or three functions a field; written out, a field is a
    line or two of code, which is what makes a page of events or a long timeline cheap.
    Only names of ours reach the source: response keys and read keys are passed as values.
    """
    namespace: dict[str, Any] = {
        "Fallback": Fallback,
        "isfinite": math.isfinite,
        "datetime": datetime,
        "iso_text": iso_text,
        "IsoText": IsoText,
        "source_type": planned.source,
        "unwrap": planned.unwrap,
    }
    lines = ["def complete(value):", "    if value is None:", "        return None"]
    if planned.unwrap is not None:
        lines.append("    value = unwrap(value)")
    lines += ["    if not isinstance(value, source_type):", "        raise Fallback"]
    for index, one in enumerate(fields):
        namespace[f"key{index}"] = one.response_key
        namespace[f"complete{index}"] = one.complete
        lines += [f"    {line}" for line in _field_lines(one, index, namespace)]
    entries = ", ".join(f"key{index}: v{index}" for index in range(len(fields)))
    lines.append(f"    return {{{entries}}}")
    exec("\n".join(lines), namespace)  # noqa: S102  our own source, no client text in it
    complete: Complete = namespace["complete"]
    return complete


def _field_lines(one: _Field, index: int, namespace: dict[str, Any]) -> list[str]:
    """The lines that set ``v<index>`` to one field's completed value."""
    value = f"v{index}"
    if one.typename is not None:
        namespace[f"typename{index}"] = one.typename
        return [f"{value} = typename{index}"]
    reader = one.reader
    if reader.dict_key is not None:
        namespace[f"name{index}"] = reader.dict_key
        read = f"value.get(name{index})"
    elif reader.attribute is not None and reader.attribute.isidentifier():
        read = f"value.{reader.attribute}"
    else:
        namespace[f"read{index}"] = reader.read
        read = f"read{index}(value, key{index})" if reader.keyed else f"read{index}(value)"
    if one.complete is _as_is:
        return [f"{value} = {read}"]
    passes = _PASSES.get(one.scalar or "")
    if passes is not None:
        return [
            f"{value} = {read}",
            f"if not ({passes.format(v=value)}):",
            f"    {value} = complete{index}({value})",
        ]
    if one.scalar == "DateTime":
        return [
            f"{value} = {read}",
            (
                f"{value} = iso_text({value}) if type({value}) is datetime "
                f"else {value} if type({value}) is IsoText else complete{index}({value})"
            ),
        ]
    return [f"{value} = complete{index}({read})"]


def _non_null(inner: Complete) -> Complete:
    def complete(value: Any) -> Any:
        completed = inner(value)
        if completed is None:
            raise Fallback  # graphql-core's error, with its path, comes from its own completion
        return completed

    return complete


def _list_of(inner: Complete) -> Complete:
    def complete(value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, list | tuple):
            raise Fallback
        return [inner(item) for item in value]

    return complete


def _leaf(leaf_type: GraphQLLeafType, *, non_null: bool) -> Complete:
    """A scalar coerced by its own type; the common values checked and passed at once.

    Each shortcut gives what the scalar's own coercion gives for that value: a str is its
    own String, a 32-bit int its own Int, a finite float its own Float, a bool its own
    Boolean, JSON is itself, and a DateTime is its ``isoformat()``.
    """
    coerce = leaf_type.coerce_output_value

    def slow(value: Any) -> Any:
        if value is None:
            if non_null:
                raise Fallback  # graphql-core's error, with its path, comes from its completion
            return None
        try:
            coerced = coerce(value)
        except Exception:  # noqa: BLE001  any failure: graphql-core's completion reports it
            raise Fallback from None
        if coerced is None or coerced is Undefined:
            raise Fallback
        return coerced

    name = leaf_type.name
    if name == "JSON" and not non_null:
        return _as_is
    if name == "DateTime":
        return lambda value: (
            iso_text(value)
            if type(value) is datetime
            else value
            if type(value) is IsoText
            else slow(value)
        )
    passes = _PASSES.get(name)
    if passes is None:
        return slow
    namespace: dict[str, Any] = {"slow": slow, "isfinite": math.isfinite}
    source = f"def complete(v):\n    return v if ({passes.format(v='v')}) else slow(v)"
    exec(source, namespace)  # noqa: S102  our own source, no client text in it
    complete: Complete = namespace["complete"]
    return complete
