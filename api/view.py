"""GraphQL on ``/graphql``: Strawberry's transport, our executor behind it.

Strawberry's view speaks the protocols (GET and POST, content types, GraphiQL's page, and
subscriptions over WebSocket: ``api.websocket``); each operation is answered by
:class:`api.execution.Executor`. Bodies are read with orjson, whose nesting limit turns a
body nested thousands of levels deep into a plain 400 instead of a stack overflow, and every
refusal is a GraphQL error body with a code. Answers are ``application/graphql-response+json``
for clients that accept it, with the spec's status codes, and ``application/json`` otherwise
(``api.media_types``). A WebSocket's credential comes with its ``connection_init``
(:meth:`GraphQLView.on_ws_connect`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, cast

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import OperationType
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData, process_result
from strawberry.http.base import BaseRequestProtocol
from strawberry.schema import Schema
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.unset import UNSET, UnsetType

from api.auth import API_KEY_HEADER, Authenticator, UnauthenticatedError
from api.auth_middleware import is_ide_request
from api.context import Context
from api.errors import ErrorCode, refusal_response
from api.execution import Executor, OperationNotAllowedError
from api.graphiql import graphiql_page
from api.media_types import GRAPHQL_RESPONSE_JSON, negotiate, status_for
from api.persisted import PersistedQueries, PersistedQueryError
from api.settings import ApiSettings
from api.tenancy import EVERY_ACCOUNT, NO_ACCOUNT, Tenant
from api.tokens import SigningKeysUnavailableError
from api.websocket import CloseCode, ConnectionRefusedError_, LegacyWSHandler, TransportWSHandler

#: HTTP refusals by status: the code their GraphQL error body carries.
_HTTP_CODES = {413: ErrorCode.PAYLOAD_TOO_LARGE}


class GraphQLView(GraphQL[Context, None]):
    """The ``/graphql`` endpoint."""

    def __init__(
        self,
        schema: Schema,
        executor: Executor,
        persisted: PersistedQueries | None = None,
        *,
        cache_max_age: int = 0,
        authenticator: Authenticator | None = None,
        settings: ApiSettings | None = None,
    ) -> None:
        super().__init__(schema)
        settings = settings or ApiSettings()
        self.executor = executor
        self.authenticator = authenticator
        self.allowed_origins = frozenset(settings.cors_origin_list())
        self.connection_init_wait_timeout = timedelta(seconds=settings.live_init_timeout)
        # The legacy protocol's keep-alive; graphql-transport-ws pings instead.
        self.keep_alive = True
        self.keep_alive_interval = settings.live_ping_interval
        # A backstop on operations in flight; our own limit (with its code) comes first.
        most = settings.live_max_subscriptions_per_connection
        self.max_subscriptions_per_connection = 2 * most if most > 0 else None
        shared = {"executor": executor}
        self.graphql_transport_ws_handler_class = type(
            "TransportWSHandler",
            (TransportWSHandler,),
            {
                **shared,
                "ping_interval": settings.live_ping_interval,
                "ping_timeout": settings.live_ping_timeout,
            },
        )
        self.graphql_ws_handler_class = type("LegacyWSHandler", (LegacyWSHandler,), shared)
        self.persisted = persisted or PersistedQueries(None, only=False, cache_bytes=0)
        self.cache_max_age = cache_max_age

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Strawberry's handling, with its plain-text refusals answered as GraphQL errors."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        media_type = negotiate(request.headers.get("accept"))
        request.state.media_type = media_type
        try:
            response = await self.run(request)
        except HTTPException as refusal:
            code = _HTTP_CODES.get(refusal.status_code, ErrorCode.BAD_REQUEST)
            response = refusal_response(
                refusal.status_code, code, _sentence(refusal.reason), media_type=media_type
            )
        response.headers.add_vary_header("Accept")  # the media type depends on it
        await response(scope, receive, send)

    async def get_context(self, request: Request | WebSocket, response: object) -> Context:
        """The cluster client and alias set up by the lifespan; the tenant authenticated.

        Strawberry asks for a context before it renders GraphiQL's page, which is open: such
        a request has no tenant, and gets one that sees no account. So does a WebSocket,
        until its connection_init brings a credential.
        """
        del response
        return Context(
            elasticsearch=request.app.state.elasticsearch,
            alias=request.app.state.alias,
            tenant=getattr(request.state, "tenant", NO_ACCOUNT),
            request_record=getattr(request.state, "request_record", None),
            limits=self.executor.limits,
            live=getattr(request.app.state, "live", None),
            months=request.app.state.months,
        )

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """A WebSocket's credential, from connection_init's payload, as HTTP headers carry it.

        ``{"X-API-Key": "tql_…"}`` or ``{"Authorization": "Bearer …"}`` (any case).
        """
        if self.authenticator is None:
            context.tenant = EVERY_ACCOUNT
            return ACKNOWLEDGED
        try:
            context.tenant = await self.authenticator.authenticate(
                _credential_headers(context.connection_params or {})
            )
        except UnauthenticatedError as exc:
            reason = str(exc).replace("send ", "send in connection_init's payload ", 1)
            raise ConnectionRefusedError_(CloseCode.FORBIDDEN, reason) from None
        except SigningKeysUnavailableError:
            reason = "the token's signing keys cannot be fetched now; try again shortly."
            raise ConnectionRefusedError_(CloseCode.TRY_AGAIN_LATER, reason) from None
        return ACKNOWLEDGED

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        """The page for exactly the requests authentication leaves open as the page's."""
        return is_ide_request(request)

    async def render_graphql_ide(self, request: Request) -> Response:
        """Our GraphiQL page, whose files this server serves: no CDN, so it works offline."""
        del request
        return graphiql_page()

    def decode_json(self, data: str | bytes) -> object:
        """orjson: fast, and it refuses nesting past 1,024 levels rather than overflowing."""
        return orjson.loads(data)

    def encode_json(self, data: object) -> bytes:
        """orjson, compact."""
        return orjson.dumps(data)

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        """The answer's body; a refusal under graphql-response+json has no ``data`` at all."""
        body = process_result(result)
        refused = isinstance(result, PreExecutionError)
        if refused and request.state.media_type == GRAPHQL_RESPONSE_JSON:
            body.pop("data", None)
        return body

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        """Strawberry's response, as the media type negotiated (``execute_single`` set it)."""
        response = super().create_response(response_data, sub_response)
        media_type = sub_response.media_type or "application/json"
        response.media_type = media_type
        response.headers["content-type"] = media_type
        return response

    async def execute_single(  # noqa: PLR0917  Strawberry's signature
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """One operation, given up when the client goes away before it is answered."""
        del root_value
        if not isinstance(request_data.operation_name, str | None):
            raise HTTPException(400, "The operationName must be a string or null, if provided")
        media_type: str = request.state.media_type
        sub_response.media_type = media_type
        try:
            query = self.persisted.document(request_data.query, request_data.extensions)
        except PersistedQueryError as refused:
            result = self.executor.refuse(refused.error, request_data.operation_name, context)
            self._answered(request_adapter.method, media_type, result, sub_response, context)
            return result
        if query is None:
            raise HTTPException(400, "No GraphQL query found in the request")
        allowed = _ALLOWED[request_adapter.method]
        answer = asyncio.ensure_future(
            self.executor.execute(
                query,
                request_data.variables,
                request_data.operation_name,
                context,
                allowed,
            )
        )
        gone = asyncio.ensure_future(_disconnected(request.receive))
        try:
            await asyncio.wait((answer, gone), return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
            if not answer.done():
                answer.cancel()  # counted as CANCELLED by the executor
        try:
            result = answer.result()
        except asyncio.CancelledError:
            raise HTTPException(499, "The client closed the request") from None
        except OperationNotAllowedError as exc:
            raise HTTPException(
                405 if request_adapter.method == "GET" else 400,
                f"{exc} operations are not allowed over {request_adapter.method}",
            ) from None
        self._answered(request_adapter.method, media_type, result, sub_response, context)
        return result

    def _answered(
        self,
        method: str,
        media_type: str,
        result: ExecutionResult,
        sub_response: Response,
        context: Context,
    ) -> None:
        """The answer's status, and for GET how long caches may keep it, and for whom."""
        sub_response.status_code = status_for(media_type, result)
        if method != "GET":
            return
        headers = sub_response.headers
        if result.errors or self.cache_max_age <= 0:
            headers["Cache-Control"] = "no-store"
        elif _authenticated(context.tenant):
            # Another tenant's answer to the same URL differs: browsers may keep it, shared
            # caches (CDNs, proxies) may not.
            headers["Cache-Control"] = f"private, max-age={self.cache_max_age}"
        else:
            headers["Cache-Control"] = f"public, max-age={self.cache_max_age}"
        headers.add_vary_header("Authorization")
        headers.add_vary_header("X-API-Key")


#: connection_ack with no payload.
ACKNOWLEDGED = cast("UnsetType", UNSET)


def _credential_headers(params: Mapping[str, Any]) -> dict[str, str]:
    """The payload's credential entries as the headers the authenticator reads."""
    wanted = {API_KEY_HEADER, "authorization"}
    return {
        key.lower(): value
        for key, value in params.items()
        if isinstance(key, str) and key.lower() in wanted and isinstance(value, str)
    }


_ALLOWED: dict[str, frozenset[OperationType]] = {
    "GET": frozenset({OperationType.QUERY}),
    "POST": frozenset({OperationType.QUERY, OperationType.MUTATION}),
}


async def _disconnected(receive: Receive) -> None:
    """Returns when the client disconnects (the request's body has been read already)."""
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            return


def _authenticated(tenant: Tenant) -> bool:
    """Whether the answer depends on who asked (not so with authentication off)."""
    return tenant is not EVERY_ACCOUNT


def _sentence(reason: str) -> str:
    return reason if reason.endswith(".") else f"{reason}."
