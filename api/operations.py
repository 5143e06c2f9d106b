"""What a GraphQL operation was called and which error codes it answered with.

Shared by the metrics and the request log, so both name an operation the same way.
Operation names come from clients: a label per name would let any client grow the metrics
without bound, so names are checked and counted, and the rest share one label.
"""

from __future__ import annotations

import re

from graphql.error import GraphQLError
from strawberry.types import ExecutionContext

ANONYMOUS = "anonymous"
OTHER = "other"
#: Distinct operation names labelled by name; later ones are labelled ``other``.
MAX_OPERATION_NAMES = 200
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,99}")

_seen: set[str] = set()


def operation_label(name: object) -> str:
    """The name to label metrics and logs with: the operation's own, within bounds.

    ``name`` is whatever the client sent as ``operationName``, which may be no string at all.
    """
    if name is None or name == "":
        return ANONYMOUS
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        return OTHER
    if name not in _seen:
        if len(_seen) >= MAX_OPERATION_NAMES:
            return OTHER
        _seen.add(name)
    return name


def error_codes(execution_context: ExecutionContext) -> list[str]:
    """The ``extensions.code`` of each error the operation answers with, in order."""
    result = execution_context.result
    errors: list[GraphQLError] = list(getattr(result, "errors", None) or [])
    return [str((error.extensions or {}).get("code", "INTERNAL")) for error in errors]


def operation_of(execution_context: ExecutionContext) -> str:
    """The operation's label: the request's ``operationName``, or the document's first name."""
    return operation_label(execution_context.operation_name)
