"""When to try an Elasticsearch request again, and how long to wait before doing so.

One definition for the API and the indexer alike. A failure is *transient* when trying the
same request again later can succeed: the cluster did not answer (connection refused, timed
out), answered that it is overloaded (429) or that the request timed out (408), or failed on
its side (5xx). Any other 4xx but 401 and 403 is the request's own fault: sending it again
gets the same answer, so it is never waited out, and no other request should fail with it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import count

from elasticsearch import ApiError, ConnectionError, ConnectionTimeout  # noqa: A004

_TOO_MANY_REQUESTS = 429
_REQUEST_TIMEOUT = 408
_SERVER_ERROR = 500
_CLIENT_ERROR = 400
#: Refusals of who we are, not of what we asked: no request of ours would fare better.
_NOT_ALLOWED = frozenset({401, 403})


def transient_status(status: int) -> bool:
    """Whether an HTTP status means "not now" (overloaded, recovering) rather than "no"."""
    return status >= _SERVER_ERROR or status in {_TOO_MANY_REQUESTS, _REQUEST_TIMEOUT}


def request_at_fault(status: int) -> bool:
    """Whether an error status blames the request itself, so that only it should fail.

    Every 4xx but the transient ones (408, 429) and 401 and 403, which refuse our
    credentials: every other request would be refused the same way.
    """
    return (
        _CLIENT_ERROR <= status < _SERVER_ERROR
        and not transient_status(status)
        and status not in _NOT_ALLOWED
    )


def transient(error: BaseException | None) -> bool:
    """Whether an Elasticsearch client error is worth trying again later."""
    if isinstance(error, ApiError):
        return transient_status(error.meta.status)
    # Not every TransportError: a SerializationError is a response we cannot read, a bug.
    return isinstance(error, ConnectionError | ConnectionTimeout)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff: ``first`` seconds, doubling each attempt, never above ``longest``."""

    first: float = 0.5
    longest: float = 30.0

    def delay(self, attempt: int) -> float:
        """The wait before attempt ``attempt + 1`` (``attempt`` counts from 0)."""
        return min(self.longest, self.first * 2.0 ** min(attempt, 64))

    def delays(self, attempt: int = 0) -> Iterator[float]:
        """The waits from ``attempt`` on, without end."""
        return (self.delay(n) for n in count(attempt))

    def wait(self, attempt: int, stop: threading.Event) -> bool:
        """Wait before the next attempt; False when ``stop`` was set meanwhile."""
        return not stop.wait(self.delay(attempt))
