"""Every GraphQL error carries ``extensions.code``; none carries a stack trace.

:func:`with_code` is the one place an error gets its code: errors raised with a code pass
through; errors GraphQL itself found in the request keep their message; Elasticsearch's
refusals of a search the caller asked for are the caller's, with a plain message; only our
own failures are INTERNAL, logged here and answered with a generic message.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from enum import StrEnum
from typing import Any

from elasticsearch import ApiError
from graphql.error import GraphQLError
from graphql.validation.validate import ValidationAbortedError
from starlette.responses import JSONResponse, Response

from common.metrics import GRAPHQL_ERRORS
from common.retry import transient

logger = logging.getLogger("trailql.api")

#: How graphql-core's parser says a document exceeded ``max_tokens``.
_TOKEN_LIMIT = "Document contains more than"  # noqa: S105  not a password: a parser message
#: How it says a document nests deeper than its recursion can follow.
_NESTED = "nested too deeply"
#: How validation says it stopped after too many errors (rather than too much work).
_TOO_MANY = "Too many validation errors"
_CLIENT_ERROR = range(400, 500)


class ErrorCode(StrEnum):
    """The codes a client can branch on (README, "Errors")."""

    BAD_USER_INPUT = "BAD_USER_INPUT"
    INVALID_CURSOR = "INVALID_CURSOR"
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
    QUERY_TOO_COSTLY = "QUERY_TOO_COSTLY"
    #: The request ran past its time budget (TRAILQL_REQUEST_TIMEOUT); nothing partial is kept.
    TIMEOUT = "TIMEOUT"
    UPSTREAM_UNAVAILABLE = "UPSTREAM_UNAVAILABLE"
    INTERNAL = "INTERNAL"
    #: No credential, or one not accepted: answered 401 before GraphQL runs.
    UNAUTHENTICATED = "UNAUTHENTICATED"
    #: Too many requests from one credential: answered 429 with Retry-After.
    RATE_LIMITED = "RATE_LIMITED"
    #: A request body over TRAILQL_MAX_BODY_BYTES: answered 413 before it is read whole.
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    #: A request GraphQL-over-HTTP cannot take: no query, not JSON, a batch, a wrong method.
    BAD_REQUEST = "BAD_REQUEST"
    #: The credential lacks the scope the operation needs (triage, to change a finding).
    FORBIDDEN = "FORBIDDEN"
    #: What was asked for does not exist, or is not the caller's to see.
    NOT_FOUND = "NOT_FOUND"
    #: A persisted query's hash this server does not know: send the document with it.
    PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
    #: A persisted-query version other than 1.
    PERSISTED_QUERY_NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED"
    #: A document sent with a hash that is not its SHA-256.
    PERSISTED_QUERY_HASH_MISMATCH = "PERSISTED_QUERY_HASH_MISMATCH"
    #: Allow-list mode: the document is not one of the manifest's operations.
    PERSISTED_QUERY_NOT_IN_LIST = "PERSISTED_QUERY_NOT_IN_LIST"


#: What each code means to a client, for the GraphQL reference (``python -m docs.reference``):
#: a code without a meaning here fails tests/docs/test_reference.py.
MEANINGS: dict[ErrorCode, str] = {
    ErrorCode.BAD_USER_INPUT: (
        "an argument out of range (`first` above 500, `from` after `to`, a parameter condition"
        " without a test), a variable of the wrong type, or an input over a limit"
    ),
    ErrorCode.INVALID_CURSOR: "a cursor this API did not issue, or one issued for the other order",
    ErrorCode.QUERY_TOO_COSTLY: (
        "the query is over a limit: cost, depth, aliases, tokens or validation work"
    ),
    ErrorCode.GRAPHQL_VALIDATION_FAILED: (
        "the query itself is wrong (unknown field, bad syntax, wrong type, a fragment cycle)"
    ),
    ErrorCode.TIMEOUT: (
        "the request ran past its time budget and was stopped; nothing partial is returned"
    ),
    ErrorCode.BAD_REQUEST: (
        "not a GraphQL request: no query, a body that is not JSON (or nests past 1,024 levels),"
        " a batch, a wrong method or content type (HTTP 400/405)"
    ),
    ErrorCode.PAYLOAD_TOO_LARGE: "a request body over the limit (HTTP 413)",
    ErrorCode.RATE_LIMITED: (
        "too many requests from one credential (HTTP 429, with `Retry-After`)"
    ),
    ErrorCode.UNAUTHENTICATED: "no credential, or one not accepted (HTTP 401)",
    ErrorCode.FORBIDDEN: (
        "the credential lacks the scope the operation needs (`triage`, to change a finding's"
        " status)"
    ),
    ErrorCode.NOT_FOUND: (
        "a mutation names something that does not exist or is not the caller's to see (a finding)"
    ),
    ErrorCode.PERSISTED_QUERY_NOT_FOUND: (
        "a persisted query's hash this server does not know (message"
        " `PersistedQueryNotFound`): send the document with its hash"
    ),
    ErrorCode.PERSISTED_QUERY_NOT_SUPPORTED: "a persisted-query `version` other than 1",
    ErrorCode.PERSISTED_QUERY_HASH_MISMATCH: (
        "a document sent with a `sha256Hash` that is not its SHA-256"
    ),
    ErrorCode.PERSISTED_QUERY_NOT_IN_LIST: (
        "allow-list mode: the document is not one of the manifest's operations"
    ),
    ErrorCode.UPSTREAM_UNAVAILABLE: "Elasticsearch does not answer; try again",
    ErrorCode.INTERNAL: (
        "a bug on our side; logged with its details, answered with a generic message"
    ),
}


class TimeBudgetExceededError(Exception):
    """The request's searches ran out of time (Elasticsearch's own timeout, or ours)."""


def user_error(code: ErrorCode, message: str) -> GraphQLError:
    """An error the client caused and can fix; raise it from a resolver."""
    return GraphQLError(message, extensions={"code": code.value})


def error_body(code: ErrorCode, message: str) -> dict[str, Any]:
    """A response body of one error, in GraphQL's shape, for answers GraphQL never ran for."""
    return {"errors": [{"message": message, "extensions": {"code": code.value}}]}


def refusal_response(
    status: int,
    code: ErrorCode,
    message: str,
    headers: dict[str, str] | None = None,
    media_type: str = "application/json",
) -> Response:
    """A request refused before GraphQL runs: a GraphQL error body, counted like the rest."""
    GRAPHQL_ERRORS.labels(code=code.value).inc()
    return JSONResponse(
        error_body(code, message), status_code=status, headers=headers, media_type=media_type
    )


#: Elasticsearch's refusals of a search that the caller's request caused, by error type:
#: the code and a plain message. Matched anywhere in the error's causes.
_REFUSALS: dict[str, tuple[ErrorCode, str]] = {
    "too_many_nested_clauses": (
        ErrorCode.QUERY_TOO_COSTLY,
        "the filter nests too many conditions for Elasticsearch; simplify it.",
    ),
    "too_many_clauses": (
        ErrorCode.QUERY_TOO_COSTLY,
        (
            "the filter expands to too many conditions for Elasticsearch (a prefix or a "
            "search word matching too many values, or too many values); narrow it."
        ),
    ),
    "too_many_buckets_exception": (
        ErrorCode.QUERY_TOO_COSTLY,
        "the statistics would return too many buckets; ask for fewer or wider buckets.",
    ),
}
#: Refusals recognised by their reason rather than their type (a generic type).
_REFUSAL_REASONS: tuple[tuple[str, ErrorCode, str], ...] = (
    (
        "Determinizing automaton",
        ErrorCode.BAD_USER_INPUT,
        "the text to match is too complex for Elasticsearch; use a shorter one.",
    ),
    (
        "Result window is too large",
        ErrorCode.BAD_USER_INPUT,
        "that page lies too deep; page with cursors instead.",
    ),
    (
        "maxClauseCount",
        ErrorCode.QUERY_TOO_COSTLY,
        "the filter expands to too many conditions for Elasticsearch; narrow it.",
    ),
    (
        "failed to parse date field",
        ErrorCode.BAD_USER_INPUT,
        "a time in the filter is outside what Elasticsearch can represent.",
    ),
)


def _causes(error: object) -> Iterator[dict[str, Any]]:
    """Every error object in an Elasticsearch error answer: the error, its causes, roots."""
    stack = [error]
    seen = 0
    while stack and seen < 64:  # noqa: PLR2004  a bound on a body we did not write
        item = stack.pop()
        if not isinstance(item, dict):
            continue
        seen += 1
        yield item
        stack.append(item.get("caused_by"))
        for key in ("root_cause", "failed_shards"):
            nested = item.get(key)
            if isinstance(nested, list):
                stack.extend(nested)


def refusal(error: BaseException) -> tuple[ErrorCode, str] | None:
    """The code and message for Elasticsearch refusing a search the caller asked for."""
    if not isinstance(error, ApiError):
        return None
    body = error.body if isinstance(error.body, dict) else {}
    for cause in _causes(body.get("error")):
        # By its type whatever the status: OpenSearch refuses too many buckets with a 503.
        known = _REFUSALS.get(str(cause.get("type")))
        if known is not None:
            return known
        if error.meta.status not in _CLIENT_ERROR:
            continue
        reason = str(cause.get("reason", ""))
        for fragment, code, message in _REFUSAL_REASONS:
            if fragment in reason:
                return code, message
    return None


def with_code(error: GraphQLError) -> GraphQLError:
    """The error a client sees: with ``extensions.code``, and no internals."""
    if error.extensions and "code" in error.extensions:
        return error
    original = error.original_error
    if isinstance(error, ValidationAbortedError) and not error.message.startswith(_TOO_MANY):
        code = ErrorCode.QUERY_TOO_COSTLY
        message = (
            "the document is too complex to validate (fragments nested too deep, or many "
            "fields of one name that would have to merge); simplify it."
        )
    elif original is None and (_TOKEN_LIMIT in error.message or _NESTED in error.message):
        code, message = ErrorCode.QUERY_TOO_COSTLY, error.message
    elif original is None:
        code, message = ErrorCode.GRAPHQL_VALIDATION_FAILED, error.message
    elif isinstance(original, GraphQLError):  # variables that do not fit their types
        code, message = ErrorCode.BAD_USER_INPUT, error.message
    elif isinstance(original, TimeBudgetExceededError):
        code, message = ErrorCode.TIMEOUT, str(original)
    elif (refused := refusal(original)) is not None:
        code, message = refused
    elif transient(original):
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
