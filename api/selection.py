"""What the client selected below the current field, so a resolver fetches only that.

Read from the document itself (graphql-core's nodes, through named and inline fragments),
and remembered per selection: documents are prepared once, so a selection's nodes are the
same objects on every request that sends it. Directives are not evaluated: a field under
``@skip`` still counts as selected, which can only fetch a little more than needed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import strawberry
from cachetools import LRUCache
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionSetNode,
)
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

#: Answers kept, each with the nodes its key names (so their ids stay theirs).
_KEPT = 4_000
_answers: LRUCache[tuple[Any, ...], tuple[tuple[FieldNode, ...], frozenset[str]]] = LRUCache(
    maxsize=_KEPT
)


def _fields(
    selection_sets: Iterable[SelectionSetNode | None],
    fragments: dict[str, FragmentDefinitionNode],
) -> Iterator[tuple[FieldNode, bool]]:
    """The fields of these selection sets, looking through fragments (each spread once).

    Each with whether a directive (``@skip``, ``@include``) on it, or on a fragment on the
    way, decides if it is asked.
    """
    spread: set[tuple[str, bool]] = set()
    stack = [(selection_set, False) for selection_set in selection_sets if selection_set]
    while stack:
        selection_set, guarded = stack.pop()
        for selection in selection_set.selections:
            conditional = guarded or bool(selection.directives)
            if isinstance(selection, FieldNode):
                yield selection, conditional
            elif isinstance(selection, InlineFragmentNode):
                stack.append((selection.selection_set, conditional))
            elif isinstance(selection, FragmentSpreadNode):
                fragment = fragments.get(selection.name.value)
                if fragment is not None and (selection.name.value, conditional) not in spread:
                    spread.add((selection.name.value, conditional))
                    stack.append((fragment.selection_set, conditional))


def selected_fields(selections: Iterable[Selection]) -> Iterable[SelectedField]:
    """Strawberry's view of ``selections``: the fields, looking through fragments.

    With their arguments' values, variables resolved: what statistics are built from.
    """
    for selection in selections:
        if isinstance(selection, SelectedField):
            yield selection
        elif isinstance(selection, FragmentSpread | InlineFragment):
            yield from selected_fields(selection.selections)


def selected_names(info: strawberry.Info[Any, Any], *path: str) -> frozenset[str]:
    """The names of the fields selected below ``path`` (GraphQL names) under this field."""
    raw = info._raw_info  # noqa: SLF001  graphql-core's view: the nodes, not copies of them
    nodes = tuple(raw.field_nodes)
    cache_key = (tuple(map(id, nodes)), path)
    cached = _answers.get(cache_key)
    if cached is not None:
        return cached[1]
    level: list[FieldNode] = list(nodes)
    for name in path:
        level = [
            field
            for field, _ in _fields((node.selection_set for node in level), raw.fragments)
            if field.name.value == name
        ]
    below = _fields((node.selection_set for node in level), raw.fragments)
    names = frozenset(field.name.value for field, _ in below)
    _answers[cache_key] = (nodes, names)
    return names


def selects(info: strawberry.Info[Any, Any], *path: str) -> bool:
    """Whether the client asked for ``path`` (GraphQL names) under this field."""
    *parents, last = path
    return last in selected_names(info, *parents)


def unconditional_fields(info: strawberry.Info[Any, Any], name: str) -> list[FieldNode] | None:
    """The document's fields named ``name`` right below this field, through fragments.

    None when a directive (``@skip``, ``@include``) on one of them, or on a fragment holding
    one, decides whether it is asked.
    """
    raw = info._raw_info  # noqa: SLF001  graphql-core's view: the nodes, not copies of them
    found: list[FieldNode] = []
    for field, conditional in _fields(
        (node.selection_set for node in raw.field_nodes), raw.fragments
    ):
        if field.name.value == name:
            if conditional:
                return None
            found.append(field)
    return found


def names_below(info: strawberry.Info[Any, Any], node: FieldNode) -> frozenset[str]:
    """The names of the fields selected right below ``node``, through fragments."""
    raw = info._raw_info  # noqa: SLF001  graphql-core's view: the nodes, not copies of them
    return frozenset(field.name.value for field, _ in _fields([node.selection_set], raw.fragments))
