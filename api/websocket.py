"""Subscriptions over WebSocket on ``/graphql``: Strawberry's two protocols, our rules.

Strawberry speaks ``graphql-transport-ws`` and the legacy ``graphql-ws``; what runs each
operation is our executor (``api.execution.Executor.stream``), so a subscription document
passes exactly the checks and limits of an HTTP request. Around the protocols:

- **Who**: the credential comes in ``connection_init``'s payload (``X-API-Key`` or
  ``Authorization``, as HTTP headers would carry them), checked by the view's
  ``on_ws_connect``; refused with close code 4403 and the reason. Subscribing before the
  connection is acknowledged closes it with 4401 (Strawberry's, per the protocol). A
  credential that expires while connected closes the connection (4403) when it does.
- **Idle**: after ``ping_interval`` without a message from the client, the server pings
  (``graphql-transport-ws``); a client that does not answer within ``ping_timeout`` is
  closed with 1011. The legacy protocol has no pong: the server sends its keep-alive.
- **Too slow**: a subscription whose client lets its queue fill is cut off: 1013 ("try
  again later") with the reason; the client resumes from its last cursor.
- **Shape**: a message that is not what the protocol says (a payload that is not an
  object, an id that is not a string) closes the connection with 4400, as Strawberry does
  for other protocol errors, never with a stack trace.

Every closed connection is counted by reason in ``trailql_live_disconnects_total``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any, cast

from starlette.websockets import WebSocketDisconnect
from strawberry.http.async_base_view import AsyncWebSocketAdapter
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.schema import BaseSchema
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    Message,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import (
    ConnectionInitMessage as LegacyConnectionInitMessage,
)
from strawberry.subscriptions.protocols.graphql_ws.types import OperationMessage

from api.context import Context
from api.errors import ErrorCode
from api.execution import Executor
from common.metrics import LIVE_DISCONNECTS

logger = logging.getLogger("trailql.api.websocket")

#: A close frame's reason holds at most 123 bytes.
_MOST_REASON_BYTES = 123
#: How long closing may wait for a client that is not reading, before giving up on it.
_CLOSE_GRACE_SECONDS = 10.0


class CloseCode(IntEnum):
    """Why the server closes a connection (besides Strawberry's protocol codes)."""

    #: connection_init refused: no credential, a wrong one, or one that expired.
    FORBIDDEN = 4403
    #: A message that is not what the protocol says.
    BAD_REQUEST = 4400
    #: Too slow (a subscription's queue filled), or the token's signing keys are away.
    TRY_AGAIN_LATER = 1013
    #: No answer to a ping.
    NO_PONG = 1011


class ConnectionRefusedError_(Exception):  # noqa: N801, N818  not the builtin; a refusal
    """connection_init refused: the close code and the reason the client reads."""

    def __init__(self, code: CloseCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def short_reason(reason: str) -> str:
    """A reason cut to the 123 bytes a close frame holds, on a character boundary."""
    encoded = reason.encode()
    if len(encoded) <= _MOST_REASON_BYTES:
        return reason
    return encoded[: _MOST_REASON_BYTES - 3].decode(errors="ignore") + "..."


class _TextWebSocket(AsyncWebSocketAdapter):
    """Strawberry's socket, sending text frames and remembering how it was closed.

    GraphQL clients read text frames, not bytes; the close code is remembered whoever
    closes, for the disconnects metric.
    """

    def __init__(self, inner: AsyncWebSocketAdapter) -> None:
        super().__init__(inner.view)
        self._inner = inner
        self.closed_with: int | None = None

    def iter_json(self, *, ignore_parsing_errors: bool = False) -> Any:
        return self._inner.iter_json(ignore_parsing_errors=ignore_parsing_errors)

    async def send_json(self, message: Mapping[str, object]) -> None:
        encoded = self.view.encode_json(message)
        text = encoded.decode() if isinstance(encoded, bytes) else encoded
        try:
            await self._inner.ws.send_text(text)  # type: ignore[attr-defined]
        except (RuntimeError, OSError, WebSocketDisconnect) as exc:
            raise WebSocketDisconnected from exc

    async def close(self, code: int, reason: str) -> None:
        if self.closed_with is not None:
            return
        self.closed_with = code
        with contextlib.suppress(RuntimeError, OSError, WebSocketDisconnect):
            await self._inner.close(code, short_reason(reason))


class _SubscriptionRunner:
    """What Strawberry's handlers call to run an operation: our executor, not its own."""

    def __init__(self, executor: Executor) -> None:
        self._executor = executor

    async def stream(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        **_: Any,
    ) -> Any:
        del root_value
        context = cast("Context", context_value)
        return self._executor.stream(query or "", variable_values, operation_name, context)

    subscribe = stream


class _Connection:
    """What both protocols' handlers share: the connection as the live feeds see it."""

    websocket: AsyncWebSocketAdapter
    context: Context

    def _setup(self, executor: Executor) -> None:
        self._socket = _TextWebSocket(self.websocket)
        self.websocket = self._socket
        self.schema = cast("BaseSchema", _SubscriptionRunner(executor))
        self.live_subscriptions = 0
        self.context.connection = self
        self._why: str | None = None
        self._ended = asyncio.Event()
        self._timers: list[asyncio.TimerHandle] = []
        self._closing: set[asyncio.Task[None]] = set()
        self._heard = asyncio.get_running_loop().time()

    def cut_off(self, reason: str) -> None:
        """The live feed's call when a subscription's queue is full (the client is slow)."""
        self.close_soon(CloseCode.TRY_AGAIN_LATER, reason, "slow")

    def close_soon(self, code: CloseCode, reason: str, why: str) -> None:
        """Close from synchronous code (a timer, the feed)."""
        task = asyncio.create_task(self.close_with(code, reason, why))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def close_with(self, code: CloseCode, reason: str, why: str) -> None:
        """Close with ``code`` and ``reason``, counted as ``why``; end the connection's work.

        A client that reads nothing cannot be sent a close frame until it reads again; the
        connection's subscriptions end at once, and the close is given a few seconds.
        """
        if self._why is not None:
            return
        self._why = why
        logger.info("closing a WebSocket connection (%s): %s", why, reason)
        try:
            await asyncio.wait_for(self.websocket.close(code, reason), _CLOSE_GRACE_SECONDS)
        except TimeoutError:
            pass
        finally:
            self._ended.set()

    def authenticated(self) -> None:
        """Once the credential is accepted: close the connection when it expires."""
        expires = self.context.tenant.expires
        if expires is None:
            return
        seconds = (expires - datetime.now(UTC)).total_seconds()
        timer = asyncio.get_running_loop().call_later(
            max(0.0, seconds),
            self.close_soon,
            CloseCode.FORBIDDEN,
            "the credential has expired; connect again with a valid one",
            "expired",
        )
        self._timers.append(timer)

    async def _until_closed(self, handling: Any) -> None:
        """Run the protocol's handling until the client goes or the server closes."""
        receiving = asyncio.ensure_future(handling)
        ended = asyncio.ensure_future(self._ended.wait())
        try:
            await asyncio.wait({receiving, ended}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (receiving, ended):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            for timer in self._timers:
                timer.cancel()
            closed = self._socket.closed_with
            reason = self._why or ("protocol" if closed is not None else "client")
            LIVE_DISCONNECTS.labels(reason=reason).inc()

    def _heard_from_client(self) -> None:
        self._heard = asyncio.get_running_loop().time()

    async def _refuse(self, refusal: ConnectionRefusedError_) -> None:
        await self.close_with(refusal.code, refusal.reason, "refused")


def _shape_problem(message: object, ids: tuple[str, ...] = ("subscribe",)) -> str | None:
    """Why a protocol message cannot be handled, or None."""
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return "a message must be a JSON object with a string type"
    kind = message["type"]
    if kind in (*ids, "complete", "stop") and not isinstance(message.get("id"), str):
        return f"a {kind} message needs a string id"
    if kind in ids:
        payload = message.get("payload")
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
            return f"a {kind} message needs a payload object with a string query"
        if not isinstance(payload.get("variables"), dict | None):
            return "variables must be an object"
        if not isinstance(payload.get("operationName"), str | None):
            return "operationName must be a string"
    return None


class TransportWSHandler(_Connection, BaseGraphQLTransportWSHandler[Context, None]):
    """``graphql-transport-ws``, with our checks, limits, pings and closes."""

    executor: Executor
    ping_interval = 20.0
    ping_timeout = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._setup(self.executor)
        self._pinging: asyncio.Task[None] | None = None

    async def handle(self) -> None:
        """Strawberry's handling, ended by our closes too; pings while it lasts."""
        try:
            await self._until_closed(super().handle())
        finally:
            if self._pinging is not None:
                self._pinging.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._pinging

    async def handle_message(self, message: Message) -> None:
        """Any message proves the client alive; one of the wrong shape closes with 4400."""
        self._heard_from_client()
        problem = _shape_problem(message)
        if problem is not None:
            await self.close_with(CloseCode.BAD_REQUEST, problem, "protocol")
            return
        await super().handle_message(message)

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        """Strawberry's, with our refusal: 4403 and the reason."""
        try:
            await super().handle_connection_init(message)
        except ConnectionRefusedError_ as refusal:
            await self._refuse(refusal)
            return
        if self.connection_acknowledged:
            self.authenticated()
            self._pinging = asyncio.create_task(self._keep_alive())

    async def _keep_alive(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            quiet = loop.time() - self._heard
            if quiet < self.ping_interval:
                await asyncio.sleep(self.ping_interval - quiet)
                continue
            heard = self._heard
            try:
                await asyncio.wait_for(self.send_message({"type": "ping"}), self.ping_timeout)
                await asyncio.sleep(self.ping_timeout)
            except TimeoutError:
                pass
            except WebSocketDisconnected:
                return
            if self._heard == heard:
                reason = f"no pong within {self.ping_timeout:g} s of a ping"
                await self.close_with(CloseCode.NO_PONG, reason, "no_pong")
                return


class LegacyWSHandler(_Connection, BaseGraphQLWSHandler[Context, None]):
    """The legacy ``graphql-ws`` (subscriptions-transport-ws), with our checks and closes."""

    executor: Executor

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._setup(self.executor)

    async def handle(self) -> None:
        """Strawberry's handling, ended by our closes too."""
        await self._until_closed(super().handle())

    async def handle_message(self, message: OperationMessage) -> None:
        """A message of the wrong shape closes the connection with 4400."""
        self._heard_from_client()
        problem = _shape_problem(message, ids=("start",))
        if problem is not None:
            await self.close_with(CloseCode.BAD_REQUEST, problem, "protocol")
            return
        await super().handle_message(message)

    async def handle_connection_init(self, message: LegacyConnectionInitMessage) -> None:
        """Strawberry's, with our refusal: connection_error with the reason, then 4403."""
        try:
            await super().handle_connection_init(message)
        except ConnectionRefusedError_ as refusal:
            error = {"message": refusal.reason, "extensions": {"code": _refusal_code(refusal)}}
            with contextlib.suppress(WebSocketDisconnected):
                refused: dict[str, object] = {"type": "connection_error", "payload": error}
                await self.send_message(cast("OperationMessage", refused))
            await self._refuse(refusal)
            return
        if self.connection_acknowledged:
            self.authenticated()


def _refusal_code(refusal: ConnectionRefusedError_) -> str:
    if refusal.code is CloseCode.TRY_AGAIN_LATER:
        return ErrorCode.UPSTREAM_UNAVAILABLE.value
    return ErrorCode.UNAUTHENTICATED.value
