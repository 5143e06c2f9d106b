"""Per-credential rate and concurrency limits, so one caller cannot starve the others.

Each credential (an API key's name, a token's subject) has a token bucket: ``rate`` requests
a second on average, ``burst`` at once after a quiet spell. A request that finds the bucket
empty is answered 429 with ``Retry-After`` before any work is done. At most
``max_concurrent`` of a credential's requests are answered at once; the next ones wait
their turn, and past a queue of eight per slot they are refused with 429 too. The limits
are per API process: behind a load balancer over N processes a credential gets up to N
times them.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from cachetools import LRUCache
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from api.auth_middleware import is_open
from api.errors import ErrorCode, refusal_response
from common.metrics import RATE_LIMITED

#: Requests of one credential that may wait for a turn, per request it may have in flight.
_WAITING_PER_SLOT = 8
#: Credentials whose buckets are remembered; the least recently seen are forgotten (and
#: start again full, which favours them a little, never starves them).
_REMEMBERED = 10_000


@dataclass(frozen=True)
class Rate:
    """A sustained rate (requests per second) and a burst; a rate of 0 means no limit."""

    per_second: float
    burst: int

    @property
    def unlimited(self) -> bool:
        """Whether this rate lets everything through."""
        return self.per_second <= 0


class RateConfigError(ValueError):
    """A per-credential rate that cannot be read; the message says which."""


def parse_rates(text: str) -> dict[str, Rate]:
    """``NAME=RATE/BURST`` entries separated by ``;`` (TRAILQL_RATE_LIMITS)."""
    rates: dict[str, Rate] = {}
    for entry in filter(None, (part.strip() for part in text.split(";"))):
        name, _, value = entry.partition("=")
        per_second, _, burst = value.partition("/")
        try:
            rate = Rate(float(per_second), int(burst or max(1, math.ceil(float(per_second)))))
        except ValueError:
            raise RateConfigError(
                f"TRAILQL_RATE_LIMITS: {entry!r} is not NAME=RATE/BURST (such as ci=5/10)"
            ) from None
        if not name.strip() or rate.per_second < 0 or rate.burst < 1:
            raise RateConfigError(
                f"TRAILQL_RATE_LIMITS: {entry!r} needs a name, a rate of 0 or more and a "
                "burst of 1 or more"
            )
        rates[name.strip()] = rate
    return rates


class TokenBucket:
    """``rate.burst`` tokens, refilled at ``rate.per_second``; each request takes one."""

    def __init__(self, rate: Rate, now: float) -> None:
        self._rate = rate
        self._tokens = float(rate.burst)
        self._updated = now

    def take(self, now: float) -> float:
        """Take a token: 0 when there was one, else the seconds until there will be."""
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(self._rate.burst, self._tokens + elapsed * self._rate.per_second)
        self._updated = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / self._rate.per_second


class _InFlight:
    """One credential's requests being answered, and those waiting for a turn."""

    def __init__(self, slots: int) -> None:
        self.slots = asyncio.Semaphore(slots)
        self.waiting = 0
        self.users = 0  # requests holding or waiting for this entry


class RateLimiter:
    """Buckets and in-flight requests by credential name.

    Past ``max_concurrent`` requests in flight, a credential's next requests wait their turn
    (so a tool that sends many at once is slowed, not refused); past ``max_waiting`` waiting,
    they are refused.
    """

    def __init__(
        self,
        default: Rate,
        max_concurrent: int,
        exceptions: dict[str, Rate] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._default = default
        self._max_concurrent = max_concurrent
        self._max_waiting = _WAITING_PER_SLOT * max_concurrent
        self._exceptions = exceptions or {}
        self._clock = clock
        self._buckets: LRUCache[str, TokenBucket] = LRUCache(maxsize=_REMEMBERED)
        self._in_flight: dict[str, _InFlight] = {}

    def take(self, name: str) -> float:
        """A token of ``name``'s bucket: 0 when there was one, else the seconds to wait."""
        rate = self._exceptions.get(name, self._default)
        if rate.unlimited:
            return 0.0
        now = self._clock()
        bucket = self._buckets.get(name)
        if bucket is None:
            bucket = self._buckets[name] = TokenBucket(rate, now)
        return bucket.take(now)

    @asynccontextmanager
    async def turn(self, name: str) -> AsyncIterator[bool]:
        """Hold one of ``name``'s slots while the request is answered; False: refused."""
        if self._max_concurrent <= 0:
            yield True
            return
        entry = self._in_flight.get(name)
        if entry is None:
            entry = self._in_flight[name] = _InFlight(self._max_concurrent)
        if entry.slots.locked() and entry.waiting >= self._max_waiting:
            yield False
            return
        entry.users += 1
        try:
            entry.waiting += 1
            try:
                await entry.slots.acquire()
            finally:
                entry.waiting -= 1
            try:
                yield True
            finally:
                entry.slots.release()
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._in_flight[name]


class RateLimit:
    """ASGI middleware, after authentication: the limiter applied to GraphQL requests."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Admit the request or answer 429; probes, metrics and GraphiQL's files are free."""
        if scope["type"] != "http" or is_open(Request(scope)):
            await self.app(scope, receive, send)
            return
        tenant = scope.get("state", {}).get("tenant")
        name = str(getattr(tenant, "name", "unknown"))
        wait = self.limiter.take(name)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            await _refuse(
                "rate", f"too many requests for {name!r}; retry in {seconds} s.", seconds
            )(scope, receive, send)
            return
        async with self.limiter.turn(name) as admitted:
            if admitted:
                await self.app(scope, receive, send)
                return
        message = f"too many requests in flight for {name!r}; retry once some are answered."
        await _refuse("concurrency", message, 1)(scope, receive, send)


def _refuse(reason: str, message: str, seconds: int) -> Response:
    RATE_LIMITED.labels(reason=reason).inc()
    return refusal_response(429, ErrorCode.RATE_LIMITED, message, {"Retry-After": str(seconds)})
