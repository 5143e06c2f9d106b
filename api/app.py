"""The ASGI application: GraphQL on ``/graphql``; health, readiness and metrics beside it.

Middleware, outermost first: the request log (request ID, one JSON line per request), CORS
(so preflights and 401s carry its headers), then authentication.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from elasticsearch import AsyncElasticsearch, TransportError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from strawberry.asgi import GraphQL
from strawberry.http.base import BaseRequestProtocol

from api.auth import authenticator_from
from api.auth_middleware import Authentication, is_ide_request
from api.context import Context
from api.graphiql import graphiql_assets, graphiql_page
from api.metrics import metrics
from api.request_log import RequestLog
from api.schema import build_schema, limits_from
from api.tenancy import NO_ACCOUNT
from trailql.elastic import Connection, async_client
from trailql.settings import ApiSettings


class _GraphQLApp(GraphQL[Context, None]):
    async def get_context(self, request: Request, response: object) -> Context:  # type: ignore[override]
        """The cluster client and alias set up by the lifespan; the tenant authenticated.

        Strawberry asks for a context before it renders GraphiQL's page, which is open: such
        a request has no tenant, and gets one that sees no account.
        """
        del response
        return Context(
            elasticsearch=request.app.state.elasticsearch,
            alias=request.app.state.alias,
            tenant=getattr(request.state, "tenant", NO_ACCOUNT),
            request_record=getattr(request.state, "request_record", None),
        )

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        """The page for exactly the requests authentication leaves open as the page's."""
        return is_ide_request(request)

    async def render_graphql_ide(self, request: Request) -> Response:
        """Our GraphiQL page, whose files this server serves: no CDN, so it works offline."""
        del request
        return graphiql_page()


async def healthz(_: Request) -> Response:
    """The process is up: for liveness probes, which must not depend on Elasticsearch."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready to answer queries: Elasticsearch answers and the events alias exists."""
    elasticsearch: AsyncElasticsearch = request.app.state.elasticsearch
    alias: str = request.app.state.alias
    try:
        present = bool(await elasticsearch.indices.exists_alias(name=alias))
    except TransportError as exc:
        return JSONResponse({"status": "unavailable", "reason": str(exc)}, status_code=503)
    if not present:
        reason = f"alias {alias!r} does not exist yet: index some trail files first"
        return JSONResponse({"status": "unavailable", "reason": reason}, status_code=503)
    return JSONResponse({"status": "ready"})


def create_app(
    connection: Connection, alias: str, settings: ApiSettings | None = None
) -> Starlette:
    """The application for one cluster and alias.

    Raises ``api.auth.AuthConfigError`` when authentication is on and cannot work.
    """
    settings = settings or ApiSettings()
    authenticator = authenticator_from(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.elasticsearch = async_client(connection)
        app.state.alias = alias
        try:
            yield
        finally:
            await app.state.elasticsearch.close()

    graphql = _GraphQLApp(build_schema(limits_from(settings)))
    middleware = [
        Middleware(RequestLog),
        Middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list(),
            allow_methods=["GET", "POST"],
            allow_headers=["content-type", "authorization", "x-api-key", "x-request-id"],
            expose_headers=["x-request-id"],
            max_age=600,
        ),
        Middleware(Authentication, authenticator=authenticator),
    ]
    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            graphiql_assets,
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics, methods=["GET"]),
        ],
        middleware=middleware,
        lifespan=lifespan,
    )
