"""What a person did wrong, or what is wrong around them, in a line or two: never a traceback.

Each kind of failure a user can cause has its own exit code, so scripts can tell them apart;
``trailql --debug`` shows the traceback as well.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass

from elasticsearch import (
    ApiError,
    AuthenticationException,
    AuthorizationException,
    ConnectionError,  # noqa: A004  the client's, not the builtin
    ConnectionTimeout,
    NotFoundError,
)
from pydantic import ValidationError

from common.aws_signing import NoAwsCredentialsError
from common.elastic import NoElasticsearchError
from common.engine import UnsupportedEngineError
from indexer.bulk import ElasticsearchUnavailableError
from trailql.local_elasticsearch import LocalElasticsearchError
from trailql.output import (
    EXIT_ERROR,
    EXIT_NOT_FOUND,
    EXIT_PORT_BUSY,
    EXIT_REFUSED,
    EXIT_UNREACHABLE,
)

_SETTINGS = "ELASTICSEARCH_URL and ELASTICSEARCH_USERNAME/ELASTICSEARCH_PASSWORD or _API_KEY"


@dataclass(frozen=True)
class Failure:
    """What to say, and the exit code that says it to a script."""

    message: str
    exit_code: int


class PortBusyError(OSError):
    """The port asked for is taken."""


def explain(exc: BaseException) -> Failure | None:  # noqa: PLR0911  one return per kind
    """The plain account of ``exc``, or None for a failure of ours (shown as a bug)."""
    if isinstance(exc, ApiError | ConnectionError | ConnectionTimeout):
        return _elasticsearch(exc)
    if isinstance(exc, PortBusyError):
        return Failure(str(exc), EXIT_PORT_BUSY)
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        message = f"the port is in use ({exc.strerror}); choose another with --port."
        return Failure(message, EXIT_PORT_BUSY)
    if isinstance(exc, ElasticsearchUnavailableError):
        return Failure(
            f"Elasticsearch stopped answering: {_first_line(exc)}. Run the command again once "
            "it answers: what was indexed stays, and nothing is indexed twice.",
            EXIT_UNREACHABLE,
        )
    if isinstance(
        exc,
        NoElasticsearchError
        | LocalElasticsearchError
        | UnsupportedEngineError
        | NoAwsCredentialsError,
    ):
        return Failure(str(exc), EXIT_ERROR)
    if isinstance(exc, ValidationError):
        return Failure(f"a setting cannot be read: {_first_line(exc)}", EXIT_ERROR)
    return None


def _elasticsearch(exc: ApiError | ConnectionError | ConnectionTimeout) -> Failure:
    """What the cluster answered (or did not), as a person can act on it."""
    match exc:
        case AuthenticationException():
            return Failure(
                "Elasticsearch refused the credentials (401). Check the username and password "
                f"or API key: {_SETTINGS}.",
                EXIT_REFUSED,
            )
        case AuthorizationException():
            return Failure(
                f"Elasticsearch refused the request (403): {_reason(exc)}. The credentials lack "
                "a privilege the command needs (reading and writing the alias's indices).",
                EXIT_REFUSED,
            )
        case ConnectionError() | ConnectionTimeout():
            return Failure(
                f"cannot reach Elasticsearch: {_first_line(exc)}. Is it running, and is "
                "ELASTICSEARCH_URL right? (`trailql elasticsearch status` shows a local node)",
                EXIT_UNREACHABLE,
            )
        case NotFoundError():
            return Failure(
                f"not found in Elasticsearch: {_reason(exc)}. Nothing has been indexed under "
                "this alias yet (TRAILQL_INDEX), or it names another one: run `trailql index`.",
                EXIT_NOT_FOUND,
            )
        case _:
            return Failure(f"Elasticsearch refused the request: {_reason(exc)}", EXIT_ERROR)


def _reason(exc: ApiError | ConnectionError | ConnectionTimeout) -> str:
    body = getattr(exc, "body", None)
    body = body if isinstance(body, dict) else {}
    error = body.get("error")
    if isinstance(error, dict) and error.get("reason"):
        return str(error["reason"])
    return _first_line(exc)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
