"""Checks on a request's variables before any work is done with them.

Variables arrive as JSON of any shape; GraphQL's coercion of them into input types recurses
once per level, so a body nested thousands of levels deep would exhaust the interpreter's
stack before any limit of ours saw it. This walk uses no recursion and stops at the first
value over a limit, naming it.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError

from api.errors import ErrorCode, user_error
from api.limits import Limits

_PATH_SHOWN = 80


def _over(found: str, limit: int, setting: str) -> GraphQLError:
    """BAD_USER_INPUT naming the value, the limit and the setting that raises it."""
    return user_error(
        ErrorCode.BAD_USER_INPUT, f"{found}; at most {limit:,} (TRAILQL_{setting.upper()})."
    )


def _shown(path: str) -> str:
    return path if len(path) <= _PATH_SHOWN else path[: _PATH_SHOWN - 1] + "…"


def check_variables(variables: dict[str, Any] | None, limits: Limits) -> GraphQLError | None:
    """The first way ``variables`` goes past the input limits, or None."""
    if not variables:
        return None
    return _Walk(limits).over(variables)


class _Walk:
    """Every value of the variables, depth first from a stack, counting input objects."""

    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self._objects = 0

    def over(self, variables: dict[str, Any]) -> GraphQLError | None:
        stack: list[tuple[object, int, str]] = [
            (value, 1, f"${name}") for name, value in variables.items()
        ]
        while stack:
            value, depth, path = stack.pop()
            if isinstance(value, str):
                refused = self._text(value, path)
            elif isinstance(value, list):
                refused = self._container(depth, path, len(value), "values")
                stack.extend((item, depth + 1, f"{path}[{i}]") for i, item in enumerate(value))
            elif isinstance(value, dict):
                self._objects += 1
                refused = self._container(depth, path, len(value), "keys")
                stack.extend((item, depth + 1, f"{path}.{key}") for key, item in value.items())
            else:
                refused = None
            if refused is not None:
                return refused
        return None

    def _text(self, text: str, path: str) -> GraphQLError | None:
        if len(text) <= self._limits.max_string_length:
            return None
        return _over(
            f"the text at {_shown(path)} is {len(text):,} characters long",
            self._limits.max_string_length,
            "max_string_length",
        )

    def _container(self, depth: int, path: str, size: int, what: str) -> GraphQLError | None:
        limits = self._limits
        if depth > limits.max_input_depth:
            return _over(
                f"variables nest more than {limits.max_input_depth} levels deep (at "
                f"{_shown(path)})",
                limits.max_input_depth,
                "max_input_depth",
            )
        if self._objects > limits.max_input_objects:
            return _over(
                f"variables hold more than {limits.max_input_objects:,} input objects",
                limits.max_input_objects,
                "max_input_objects",
            )
        if size > limits.max_list_length:
            return _over(
                f"{_shown(path)} holds {size:,} {what}", limits.max_list_length, "max_list_length"
            )
        return None
