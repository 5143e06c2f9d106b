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
    stack: list[tuple[object, int, str]] = [
        (value, 1, f"${name}") for name, value in variables.items()
    ]
    while stack:
        value, depth, path = stack.pop()
        if isinstance(value, str):
            if len(value) > limits.max_string_length:
                return _over(
                    f"the text at {_shown(path)} is {len(value):,} characters long",
                    limits.max_string_length,
                    "max_string_length",
                )
            continue
        if not isinstance(value, dict | list):
            continue
        if depth > limits.max_input_depth:
            return _over(
                f"variables nest more than {limits.max_input_depth} levels deep (at "
                f"{_shown(path)})",
                limits.max_input_depth,
                "max_input_depth",
            )
        if isinstance(value, list):
            if len(value) > limits.max_list_length:
                return _over(
                    f"the list at {_shown(path)} holds {len(value):,} values",
                    limits.max_list_length,
                    "max_list_length",
                )
            stack.extend((item, depth + 1, f"{path}[{index}]") for index, item in enumerate(value))
        else:
            if len(value) > limits.max_list_length:
                return _over(
                    f"the object at {_shown(path)} holds {len(value):,} keys",
                    limits.max_list_length,
                    "max_list_length",
                )
            stack.extend((item, depth + 1, f"{path}.{key}") for key, item in value.items())
    return None
