"""What the client selected below the current field, so a resolver fetches only that."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import strawberry
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection


def selected_fields(selections: Iterable[Selection]) -> Iterable[SelectedField]:
    """The fields among ``selections``, looking through fragments."""
    for selection in selections:
        if isinstance(selection, SelectedField):
            yield selection
        elif isinstance(selection, FragmentSpread | InlineFragment):
            yield from selected_fields(selection.selections)


def selects(info: strawberry.Info[Any, Any], *path: str) -> bool:
    """Whether the client asked for ``path`` (GraphQL names) under this field."""
    level: list[Selection] = list(info.selected_fields)
    for name in path:
        level = [child for parent in selected_fields(level) for child in parent.selections]
        matching = [field for field in selected_fields(level) if field.name == name]
        if not matching:
            return False
        level = list(matching)
    return True
