"""Which media type a GraphQL answer is sent as, and the status that goes with it.

GraphQL over HTTP has two: ``application/graphql-response+json``, whose status codes say
whether the request was refused (400 for a document that does not parse or validate, or
variables that do not fit), and ``application/json``, the older one, where every GraphQL
answer is 200. A client that accepts the first gets it; one that accepts only the second, or
anything (``*/*``), or says nothing, gets the second, as it always has.
"""

from __future__ import annotations

from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"

#: An answer refused before it ran for running past its time budget.
_TIMED_OUT = 504
_REFUSED = 400
_ANSWERED = 200
#: Accept headers longer than this are read no further (a guard, not a standard).
_MAX_ACCEPT = 4096


def _quality(parameters: list[str]) -> float:
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                return min(max(float(value.strip()), 0.0), 1.0)
            except ValueError:
                return 0.0
    return 1.0


def negotiate(accept: str | None) -> str:
    """The media type to answer with, for the request's ``Accept`` header."""
    if not accept:
        return JSON
    graphql_response = json = 0.0
    for item in accept[:_MAX_ACCEPT].split(","):
        media_range, *parameters = item.split(";")
        media_range = media_range.strip().lower()
        quality = _quality(parameters)
        if media_range == GRAPHQL_RESPONSE_JSON:
            graphql_response = max(graphql_response, quality)
        elif media_range in {JSON, "application/*", "*/*"}:
            json = max(json, quality)
    return GRAPHQL_RESPONSE_JSON if graphql_response > 0 and graphql_response >= json else JSON


def status_for(media_type: str, result: ExecutionResult) -> int:
    """The HTTP status of a GraphQL answer sent as ``media_type``.

    Under ``application/graphql-response+json`` a request refused before it ran (it did not
    parse or validate, its variables did not fit, a limit refused it) is 400, one stopped at
    its time budget 504; an answer that ran is 200, whatever its field errors.
    """
    if media_type != GRAPHQL_RESPONSE_JSON or not isinstance(result, PreExecutionError):
        return _ANSWERED
    codes = {(error.extensions or {}).get("code") for error in result.errors or ()}
    return _TIMED_OUT if codes == {"TIMEOUT"} else _REFUSED
