"""Every GraphQL error carries ``extensions.code``; none carries a stack trace."""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any

from graphql.error import GraphQLError
from strawberry.extensions import MaskErrors, SchemaExtension

from trailql.retry import transient as _upstream_failed

logger = logging.getLogger("trailql.api")

#: How graphql-core's parser says a document exceeded ``max_tokens``.
_TOKEN_LIMIT = "Document contains more than"  # noqa: S105  not a password: a parser message


class ErrorCode(StrEnum):
    """The codes a client can branch on."""

    BAD_USER_INPUT = "BAD_USER_INPUT"
    INVALID_CURSOR = "INVALID_CURSOR"
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
    QUERY_TOO_COSTLY = "QUERY_TOO_COSTLY"
    UPSTREAM_UNAVAILABLE = "UPSTREAM_UNAVAILABLE"
    INTERNAL = "INTERNAL"
    #: No credential, or one not accepted: answered 401 before GraphQL runs.
    UNAUTHENTICATED = "UNAUTHENTICATED"


def user_error(code: ErrorCode, message: str) -> GraphQLError:
    """An error the client caused and can fix; raise it from a resolver."""
    return GraphQLError(message, extensions={"code": code.value})


class ErrorCodes(MaskErrors):
    """Gives every error a code, and hides what a client should not see.

    Errors raised with a code pass through. Errors GraphQL itself found in the request
    (syntax, unknown fields, wrong argument types) keep their message, which names the
    problem. Anything else is logged here and answered with a generic message.
    """

    def __init__(self) -> None:
        super().__init__(should_mask_error=lambda _: True)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        """Attach the code; replace the message only for unexpected failures."""
        if error.extensions and "code" in error.extensions:
            return error
        original = error.original_error
        if original is None and _TOKEN_LIMIT in error.message:
            code, message = ErrorCode.QUERY_TOO_COSTLY, error.message
        elif original is None:
            code, message = ErrorCode.GRAPHQL_VALIDATION_FAILED, error.message
        elif isinstance(original, GraphQLError):  # variables that do not fit their types
            code, message = ErrorCode.BAD_USER_INPUT, error.message
        elif _upstream_failed(original):
            logger.warning("Elasticsearch unavailable: %s", original)
            code = ErrorCode.UPSTREAM_UNAVAILABLE
            message = "Elasticsearch is unavailable; try again shortly."
        else:
            logger.error("unexpected error", exc_info=original)
            code, message = ErrorCode.INTERNAL, "Internal error; it has been logged."
        return GraphQLError(
            message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={"code": code.value},
        )


class ElasticsearchUsage(SchemaExtension):
    """Reports in ``extensions.elasticsearch`` how many searches a response took, and how long.

    Lets a client (and our tests) see that a query cost one request, not one per field.
    """

    def get_results(self) -> dict[str, Any]:
        """The figures for this operation."""
        context = self.execution_context.context
        took = getattr(context, "search_took_ms", None)
        if took is None:
            return {}
        return {"elasticsearch": {"searches": len(took), "tookMs": sum(took)}}
