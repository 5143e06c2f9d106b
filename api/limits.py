"""Limits on what one request may ask: depth, aliases, tokens, and a cost computed up front.

The cost estimates the work a query asks of Elasticsearch and of this server before any of
it is done, from the document and its variables: every field costs 1, a list multiplies
its children by its page or bucket size, and every field that searches adds a search's
weight. A query over the ceiling is refused whole with QUERY_TOO_COSTLY; every response
says what it cost in ``extensions.cost``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    value_from_ast_untyped,
)
from strawberry.extensions import SchemaExtension

from api.errors import ErrorCode

#: Fields that run one Elasticsearch search each, and the weight of that search.
SEARCH_FIELDS = frozenset({"event", "events", "eventStats", "logGroups", "logGroup", "history"})
SEARCH_WEIGHT = 10

#: List fields: the argument giving their length, and its default.
LIST_SIZES: dict[str, tuple[tuple[str, ...], int]] = {
    "events": (("first", "last"), 50),
    "logGroups": (("first",), 50),
    "history": (("first", "last"), 50),
    "terms": (("size",), 10),
    "groups": (("size",), 5),  # read from the enclosing timeline
}
TIMELINE_BUCKETS = 60  # at most, for AUTO; an estimate for fixed widths


@dataclass(frozen=True)
class Limits:
    """The ceilings; settings make them configurable."""

    max_cost: int = 50_000
    max_depth: int = 12
    max_aliases: int = 60
    max_tokens: int = 5_000


@dataclass
class _Walk:
    document: DocumentNode
    variables: dict[str, Any]
    aliases: int = 0
    depth: int = 0


def _fragments(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }


def _fields(
    selection_set: SelectionSetNode | None, fragments: dict[str, FragmentDefinitionNode]
) -> Iterator[FieldNode]:
    for selection in selection_set.selections if selection_set else ():
        if isinstance(selection, FieldNode):
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from _fields(selection.selection_set, fragments)
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is not None:
                yield from _fields(fragment.selection_set, fragments)


def _argument(field: FieldNode, names: tuple[str, ...], walk: _Walk) -> Any:
    for argument in field.arguments or ():
        if argument.name.value in names:
            value: ValueNode = argument.value
            if isinstance(value, VariableNode):
                return walk.variables.get(value.name.value)
            return value_from_ast_untyped(value, walk.variables)
    return None


def _multiplier(field: FieldNode, walk: _Walk, group_size: int) -> int:
    name = field.name.value
    if name == "timeline":
        return TIMELINE_BUCKETS
    if name == "groups":
        return group_size
    if name in LIST_SIZES:
        names, default = LIST_SIZES[name]
        value = _argument(field, names, walk)
        return value if isinstance(value, int) and value > 0 else default
    return 1


def _cost(
    selection_set: SelectionSetNode | None,
    walk: _Walk,
    fragments: dict[str, FragmentDefinitionNode],
    depth: int,
    group_size: int = 5,
) -> int:
    walk.depth = max(walk.depth, depth)
    total = 0
    for field in _fields(selection_set, fragments):
        name = field.name.value
        if name.startswith("__"):
            continue  # introspection is not charged (GraphiQL asks it on every load)
        if field.alias is not None:
            walk.aliases += 1
        groups = group_size
        if name == "timeline":
            size = _argument(field, ("size",), walk)
            groups = size if isinstance(size, int) and size > 0 else 5
        children = _cost(field.selection_set, walk, fragments, depth + 1, groups)
        searches = SEARCH_WEIGHT if name in SEARCH_FIELDS else 0
        total += 1 + searches + _multiplier(field, walk, group_size) * children
    return total


@dataclass(frozen=True)
class QueryShape:
    """What a query asks, measured before execution."""

    cost: int
    depth: int
    aliases: int


def measure(
    document: DocumentNode, variables: dict[str, Any] | None, operation_name: str | None
) -> QueryShape:
    """The cost, depth and alias count of the operation that will run."""
    operations = [
        definition
        for definition in document.definitions
        if isinstance(definition, OperationDefinitionNode)
        and (
            operation_name is None or (definition.name and definition.name.value == operation_name)
        )
    ]
    walk = _Walk(document, variables or {})
    fragments = _fragments(document)
    cost = sum(_cost(operation.selection_set, walk, fragments, 1) for operation in operations[:1])
    return QueryShape(cost=cost, depth=walk.depth, aliases=walk.aliases)


def _too_costly(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": ErrorCode.QUERY_TOO_COSTLY.value})


class QueryLimits(SchemaExtension):
    """Refuses queries over the limits before they run; reports each query's cost."""

    limits = Limits()

    def __init__(self) -> None:
        self._shape: QueryShape | None = None

    def on_operation(self) -> Iterator[None]:
        """Bound the parser: a document with too many tokens is not parsed at all."""
        self.execution_context.parse_options["max_tokens"] = self.limits.max_tokens
        yield

    def on_validate(self) -> Iterator[None]:
        """Measure the parsed document; errors set here skip validation and execution."""
        context = self.execution_context
        if context.graphql_document is not None:
            self._shape = measure(
                context.graphql_document, context.variables, context.operation_name
            )
            problems = self._problems(self._shape)
            if problems:
                context.pre_execution_errors = problems
        yield

    def _problems(self, shape: QueryShape) -> list[GraphQLError]:
        limits = self.limits
        problems = []
        if shape.depth > limits.max_depth:
            problems.append(
                _too_costly(f"the query is {shape.depth} levels deep; at most {limits.max_depth}.")
            )
        if shape.aliases > limits.max_aliases:
            problems.append(
                _too_costly(
                    f"the query uses {shape.aliases} aliases; at most {limits.max_aliases}."
                )
            )
        if shape.cost > limits.max_cost:
            problems.append(
                _too_costly(
                    f"the query would cost {shape.cost:,}; at most {limits.max_cost:,}. Ask for "
                    "smaller pages or fewer buckets, or split it."
                )
            )
        return problems

    def get_results(self) -> dict[str, Any]:
        """``extensions.cost``: what this query cost, against the ceiling."""
        if self._shape is None:
            return {}
        return {"cost": {"requested": self._shape.cost, "maximum": self.limits.max_cost}}


def query_limits(limits: Limits) -> type[QueryLimits]:
    """The extension with these limits (Strawberry instantiates extensions per request)."""
    return type("ConfiguredQueryLimits", (QueryLimits,), {"limits": limits})
