"""Limits on what one request may ask: depth, aliases, tokens, and a cost computed up front.

The cost estimates the work a query asks of Elasticsearch and of this server before any of
it is done, from the document and its variables: every field costs 1, a list multiplies
its children by its page or bucket size, and every field that searches adds a search's
weight. A query over the ceiling is refused whole with QUERY_TOO_COSTLY; every response
says what it cost in ``extensions.cost``.

The measure runs after validation (so a fragment cycle is validation's error, never an
endless walk here) and visits each fragment once per size it is spread under: a document
whose fragments double at every level is measured in time linear in its length, and
refused for the astronomical cost its expansion would have.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    value_from_ast_untyped,
)

from api.errors import ErrorCode

#: The weight of one Elasticsearch search.
SEARCH_WEIGHT = 10


@dataclass(frozen=True)
class FieldCost:
    """What one field asks beyond 1: a search, and how many times its children are resolved.

    Each area of the schema declares its fields' costs beside the fields themselves;
    ``api.schema`` gathers them, as it gathers the areas' queries. A list's length is the
    first of ``size_arguments`` given (``default_size`` otherwise); ``groups_argument`` is an
    argument that sizes a list further down (a timeline's groups), and ``grouped`` marks
    that list.
    """

    searches: bool = False
    size_arguments: tuple[str, ...] = ()
    default_size: int = 1
    groups_argument: tuple[str, int] | None = None
    grouped: bool = False


#: A field of no cost but its own 1.
_PLAIN = FieldCost()


@dataclass(frozen=True)
class Limits:
    """The ceilings on one request; ``api.settings.ApiSettings`` makes them configurable."""

    max_cost: int = 50_000
    max_depth: int = 12
    max_aliases: int = 60
    max_tokens: int = 5_000
    max_validation_complexity: int = 5_000
    max_input_depth: int = 32
    max_input_objects: int = 100
    max_list_length: int = 1_000
    max_string_length: int = 4_096
    max_pattern_length: int = 256
    max_filter_clauses: int = 1_024


@dataclass(frozen=True)
class QueryShape:
    """What a query asks, measured before execution."""

    cost: int
    depth: int
    aliases: int


_NOTHING = QueryShape(cost=0, depth=0, aliases=0)


class _Measure:
    """One operation's measure; fragments remembered by name and the group size around them."""

    def __init__(
        self,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
        costs: dict[str, FieldCost],
    ) -> None:
        self._fragments = fragments
        self._variables = variables
        self._costs = costs
        self._measured: dict[tuple[str, int], QueryShape] = {}

    def selection_set(self, selection_set: SelectionSetNode | None, groups: int) -> QueryShape:
        """The cost, depth (in fields) and aliases below one selection set."""
        cost = depth = aliases = 0
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                shape = self._field(selection, groups)
            elif isinstance(selection, InlineFragmentNode):
                shape = self.selection_set(selection.selection_set, groups)
            elif isinstance(selection, FragmentSpreadNode):
                shape = self._fragment(selection.name.value, groups)
            else:  # pragma: no cover  the three kinds of selection are all there are
                continue
            cost += shape.cost
            depth = max(depth, shape.depth)
            aliases += shape.aliases
        return QueryShape(cost, depth, aliases)

    def _fragment(self, name: str, groups: int) -> QueryShape:
        key = (name, groups)
        shape = self._measured.get(key)
        if shape is None:
            fragment = self._fragments.get(name)
            shape = self.selection_set(fragment.selection_set, groups) if fragment else _NOTHING
            self._measured[key] = shape
        return shape

    def _field(self, field: FieldNode, groups: int) -> QueryShape:
        name = field.name.value
        if name.startswith("__"):
            return _NOTHING  # introspection is not charged (GraphiQL asks it on every load)
        cost = self._costs.get(name, _PLAIN)
        inner_groups = groups
        if cost.groups_argument is not None:
            inner_groups = self._positive(field, cost.groups_argument[:1], cost.groups_argument[1])
        children = self.selection_set(field.selection_set, inner_groups)
        if cost.grouped:
            size = groups
        else:
            size = self._positive(field, cost.size_arguments, cost.default_size)
        return QueryShape(
            cost=1 + (SEARCH_WEIGHT if cost.searches else 0) + size * children.cost,
            depth=1 + children.depth,
            aliases=(field.alias is not None) + children.aliases,
        )

    def _positive(self, field: FieldNode, names: tuple[str, ...], default: int) -> int:
        """The first of the arguments ``names`` given, when a positive whole number."""
        for argument in field.arguments or ():
            if argument.name.value in names:
                value = value_from_ast_untyped(argument.value, self._variables)
                return value if isinstance(value, int) and value > 0 else default
        return default


def measure(
    operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode],
    variables: dict[str, Any],
    costs: dict[str, FieldCost],
) -> QueryShape:
    """The cost, depth and alias count of one validated operation with its variables.

    Depth counts the operation itself as a level, as the limit always has.
    """
    shape = _Measure(fragments, variables, costs).selection_set(operation.selection_set, 1)
    return QueryShape(cost=shape.cost, depth=shape.depth + 1, aliases=shape.aliases)


def too_costly(message: str) -> GraphQLError:
    """The error for a document over one of the ceilings."""
    return GraphQLError(message, extensions={"code": ErrorCode.QUERY_TOO_COSTLY.value})


def problems(shape: QueryShape, limits: Limits) -> list[GraphQLError]:
    """Each ceiling ``shape`` goes over, as its error."""
    found = []
    if shape.depth > limits.max_depth:
        found.append(
            too_costly(f"the query is {shape.depth} levels deep; at most {limits.max_depth}.")
        )
    if shape.aliases > limits.max_aliases:
        found.append(
            too_costly(f"the query uses {shape.aliases:,} aliases; at most {limits.max_aliases}.")
        )
    if shape.cost > limits.max_cost:
        found.append(
            too_costly(
                f"the query would cost {shape.cost:,}; at most {limits.max_cost:,}. Ask for "
                "smaller pages or fewer buckets, or split it."
            )
        )
    return found
