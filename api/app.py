"""The ASGI application: GraphQL on ``/graphql``; health, readiness and metrics beside it.

Middleware, outermost first: the request log (request ID, one JSON line per request), CORS
(so preflights and 401s carry its headers), authentication, the per-credential rate limit,
then the body size limit.
"""

from __future__ import annotations

import gc
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from elasticsearch import AsyncElasticsearch, TransportError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute

from api import live_events, live_findings
from api.auth import authenticator_from
from api.auth_middleware import Authentication
from api.body_limit import BodyLimit
from api.execution import Executor
from api.export import export_route
from api.graphiql import graphiql_assets
from api.limits import Limits
from api.live import FeedSettings, LiveHub
from api.logs import configure_logging
from api.metrics import metrics
from api.persisted import Manifest, PersistedQueries
from api.rate_limit import Rate, RateLimit, RateLimiter, parse_rates
from api.request_log import RequestLog
from api.schema import FIELD_COSTS, schema
from api.settings import ApiSettings
from api.slices import Months
from api.view import GraphQLView
from common.elastic import Connection, async_client, connection_from_settings
from common.settings import IndexSettings


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


#: Allocations between young collections, and collections between older ones (Python's
#: defaults: 700, 10, 10).
_GC_THRESHOLDS = (20_000, 50, 100)


def _tune_garbage_collection() -> None:
    """Keep the collector from stalling the event loop while a large document is prepared.

    A full collection holds every thread, the event loop's included, for as long as it walks
    the heap: with Python's defaults, preparing one large document on a worker thread
    triggered several, and stalled /healthz for 50 ms and more. Everything built before the
    first request lives as long as the process, so it is frozen out of the collector's sight,
    and collections are made rarer; memory is still freed by reference counting at once.
    """
    gc.freeze()
    gc.set_threshold(*_GC_THRESHOLDS)


def app_from_environment() -> Starlette:
    """The application as the environment configures it: what each worker process runs.

    ``trailql serve`` puts the cluster it resolved into the environment before it starts
    workers, so every worker reaches the same cluster.
    """
    settings = ApiSettings()
    configure_logging(log_format=settings.log_format)
    return create_app(connection_from_settings(), IndexSettings().index, settings)


def limits_from(settings: ApiSettings) -> Limits:
    """The ceilings the settings ask for."""
    return Limits(
        max_cost=settings.max_query_cost,
        max_depth=settings.max_query_depth,
        max_aliases=settings.max_query_aliases,
        max_tokens=settings.max_query_tokens,
        max_validation_complexity=settings.max_validation_complexity,
        max_input_depth=settings.max_input_depth,
        max_input_objects=settings.max_input_objects,
        max_list_length=settings.max_list_length,
        max_string_length=settings.max_string_length,
        max_pattern_length=settings.max_pattern_length,
        max_filter_clauses=settings.max_filter_clauses,
    )


def live_hub(elasticsearch: AsyncElasticsearch, alias: str, settings: ApiSettings) -> LiveHub:
    """The process's live feeds (one per stream: events, findings) and its subscription limits.

    The limits count subscriptions of both streams together.
    """
    feed_settings = FeedSettings(
        interval=settings.live_poll_interval,
        settle=settings.live_settle,
        capacity=settings.live_queue,
        grace=settings.live_slow_grace,
    )
    return LiveHub(
        {
            live_events.STREAM: live_events.events_feed(elasticsearch, alias, feed_settings),
            live_findings.STREAM: live_findings.findings_feed(elasticsearch, alias, feed_settings),
        },
        per_connection=settings.live_max_subscriptions_per_connection,
        per_credential=settings.live_max_subscriptions_per_credential,
    )


def create_app(
    connection: Connection,
    alias: str,
    settings: ApiSettings | None = None,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> Starlette:
    """The application for one cluster and alias; ``clock`` paces the rate limits.

    Raises ``api.auth.AuthConfigError`` when authentication is on and cannot work, and
    ``api.rate_limit.RateConfigError`` when TRAILQL_RATE_LIMITS cannot be read, and
    ``api.persisted.PersistedQueryConfigError`` when the persisted-query settings cannot work.
    """
    settings = settings or ApiSettings()
    authenticator = authenticator_from(settings)
    manifest = settings.persisted_queries_manifest
    persisted = PersistedQueries(
        Manifest.read(manifest) if manifest is not None else None,
        only=settings.persisted_queries_only,
        cache_bytes=settings.persisted_query_cache_bytes,
    )
    limiter = RateLimiter(
        Rate(settings.rate_limit, settings.rate_burst),
        settings.max_concurrent_requests,
        parse_rates(settings.rate_limits),
        clock,
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        elasticsearch = app.state.elasticsearch = async_client(connection)
        app.state.alias = alias
        app.state.live = live = live_hub(elasticsearch, alias, settings)
        app.state.months = Months()
        _tune_garbage_collection()
        live.start()
        try:
            yield
        finally:
            await live.stop()
            await elasticsearch.close()

    executor = Executor(
        schema, limits_from(settings), FIELD_COSTS, time_budget=settings.request_timeout
    )
    graphql = GraphQLView(
        schema,
        executor,
        persisted,
        cache_max_age=settings.cache_max_age,
        authenticator=authenticator,
        settings=settings,
    )
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
        Middleware(RateLimit, limiter=limiter),
        Middleware(BodyLimit, max_bytes=settings.max_body_bytes),
    ]
    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            export_route(executor.limits),
            graphiql_assets,
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics, methods=["GET"]),
        ],
        middleware=middleware,
        lifespan=lifespan,
    )
