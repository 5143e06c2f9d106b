"""GraphQL over HTTP on ``/graphql``: Strawberry's transport, our executor behind it.

Strawberry's view speaks the protocol (GET and POST, content types, GraphiQL's page,
WebSockets); each operation is answered by :class:`api.execution.Executor`. Bodies are read
with orjson, whose nesting limit turns a body nested thousands of levels deep into a plain
400 instead of a stack overflow, and every refusal is a GraphQL error body with a code.
"""

from __future__ import annotations

import asyncio

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import OperationType
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLRequestData
from strawberry.http.base import BaseRequestProtocol
from strawberry.schema import Schema
from strawberry.types import ExecutionResult

from api.auth_middleware import is_ide_request
from api.context import Context
from api.errors import ErrorCode, refusal_response
from api.execution import Executor, OperationNotAllowedError
from api.graphiql import graphiql_page
from api.tenancy import NO_ACCOUNT

#: HTTP refusals by status: the code their GraphQL error body carries.
_HTTP_CODES = {413: ErrorCode.PAYLOAD_TOO_LARGE}


class GraphQLView(GraphQL[Context, None]):
    """The ``/graphql`` endpoint."""

    def __init__(self, schema: Schema, executor: Executor) -> None:
        super().__init__(schema)
        self.executor = executor

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Strawberry's handling, with its plain-text refusals answered as GraphQL errors."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            response = await self.run(Request(scope=scope, receive=receive))
        except HTTPException as refusal:
            code = _HTTP_CODES.get(refusal.status_code, ErrorCode.BAD_REQUEST)
            response = refusal_response(refusal.status_code, code, _sentence(refusal.reason))
        await response(scope, receive, send)

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
            limits=self.executor.limits,
            months=request.app.state.months,
        )

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
        del sub_response, root_value
        if request_data.query is None:
            raise HTTPException(400, "No GraphQL query found in the request")
        if not isinstance(request_data.operation_name, str | None):
            raise HTTPException(400, "The operationName must be a string or null, if provided")
        allowed = _ALLOWED[request_adapter.method]
        answer = asyncio.ensure_future(
            self.executor.execute(
                request_data.query,
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
            return answer.result()
        except asyncio.CancelledError:
            raise HTTPException(499, "The client closed the request") from None
        except OperationNotAllowedError as exc:
            raise HTTPException(
                405 if request_adapter.method == "GET" else 400,
                f"{exc} operations are not allowed over {request_adapter.method}",
            ) from None


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


def _sentence(reason: str) -> str:
    return reason if reason.endswith(".") else f"{reason}."
