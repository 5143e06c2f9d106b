"""Every request needs a credential, except the few paths that hold no tenant data.

Open: ``/healthz`` and ``/readyz`` (probes), ``/metrics`` (Prometheus scrapes), GraphiQL's
static page (``GET /graphql`` from a browser) and its files under ``/graphiql/``. Queries
from GraphiQL need a credential like any other: set it in GraphiQL's Headers tab.

The tenant a credential stands for goes into the request's state, where
``api.app``'s ``get_context`` reads it into the :class:`~api.context.Context`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Protocol

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from api.auth import Authenticator, UnauthenticatedError
from api.errors import ErrorCode, refusal_response
from api.graphiql import ASSET_PREFIX
from api.tenancy import EVERY_ACCOUNT
from api.tokens import SigningKeysUnavailableError

logger = logging.getLogger("trailql.api.auth")

OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
GRAPHQL_PATH = "/graphql"


class _RequestLike(Protocol):
    @property
    def method(self) -> str: ...
    @property
    def query_params(self) -> Mapping[str, object]: ...
    @property
    def headers(self) -> Mapping[str, str]: ...


def is_ide_request(request: _RequestLike) -> bool:
    """A browser asking for GraphiQL's page: a GET with no query that accepts HTML.

    No query means no ``query`` and no ``extensions`` (a persisted query's hash). The
    GraphQL app renders the page for exactly these requests (it uses this function), so the
    page that is open and the page that is rendered are always the same.
    """
    accept = request.headers.get("accept", "")
    return (
        request.method == "GET"
        and request.query_params.get("query") is None
        and request.query_params.get("extensions") is None
        and ("text/html" in accept or "*/*" in accept)
    )


def is_open(request: Request) -> bool:
    """Whether a request may come without a credential."""
    path = request.url.path
    if path in OPEN_PATHS or path.startswith(f"{ASSET_PREFIX}/"):
        return True
    return path == GRAPHQL_PATH and is_ide_request(request)


class Authentication:
    """ASGI middleware: a tenant for every request that needs one, or 401."""

    def __init__(self, app: ASGIApp, authenticator: Authenticator | None) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Authenticate HTTP requests; pass everything else (lifespan) through."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        if self.authenticator is None:
            state["tenant"] = EVERY_ACCOUNT
        else:
            request = Request(scope)
            if not is_open(request):
                refusal = await self._authenticate(self.authenticator, request, state)
                if refusal is not None:
                    await refusal(scope, receive, send)
                    return
        await self.app(scope, receive, send)

    @staticmethod
    async def _authenticate(
        authenticator: Authenticator, request: Request, state: dict[str, object]
    ) -> Response | None:
        try:
            state["tenant"] = await authenticator.authenticate(request.headers)
        except UnauthenticatedError as exc:
            challenge = authenticator.challenge(invalid_token=exc.invalid_token)
            return refusal_response(
                401, ErrorCode.UNAUTHENTICATED, str(exc), {"WWW-Authenticate": challenge}
            )
        except SigningKeysUnavailableError as exc:
            logger.warning("JWKS unavailable: %s", exc)
            message = "the token's signing keys cannot be fetched now; try again shortly."
            return refusal_response(
                503, ErrorCode.UPSTREAM_UNAVAILABLE, message, {"Retry-After": "5"}
            )
        return None
