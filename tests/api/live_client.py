"""A GraphQL-over-WebSocket client for the tests, on the ``websockets`` library.

It speaks ``graphql-transport-ws`` (and, for the legacy tests, ``graphql-ws``) by hand, so a
test sees exactly what the server sends: messages, close codes and close reasons.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

TRANSPORT = "graphql-transport-ws"
LEGACY = "graphql-ws"
#: A guard against a hang, never a measurement.
HANG_GUARD = 90.0

EVENTS_ADDED = """subscription($filter: EventFilter, $after: String) {
  eventsAdded(filter: $filter, after: $after) { cursor node { eventID recipientAccountId } } }"""
FINDINGS_ADDED = """subscription($filter: FindingFilter, $after: String) {
  findingsAdded(filter: $filter, after: $after) {
    cursor node { id summary accountId status rule { id severity } } } }"""


@dataclass
class Received:
    """What one subscription received: edges in order, and errors."""

    edges: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ids(self) -> list[str]:
        return [edge["node"]["eventID"] for edge in self.edges]

    @property
    def summaries(self) -> list[str]:
        """What each finding received says (findingsAdded)."""
        return [edge["node"]["summary"] for edge in self.edges]

    @property
    def last_cursor(self) -> str:
        return str(self.edges[-1]["cursor"])


class Client:
    """One connection: send, receive, and the close the server ended it with."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection

    async def send(self, message: dict[str, Any]) -> None:
        await self.connection.send(json.dumps(message))

    async def receive(self) -> dict[str, Any]:
        """The next message; pongs the server's pings, as graphql-ws clients do."""
        while True:
            message = json.loads(await asyncio.wait_for(self.connection.recv(), HANG_GUARD))
            if message.get("type") == "ping":
                await self.send({"type": "pong"})
                continue
            if message.get("type") == "ka":
                continue
            return dict(message)

    async def init(self, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        await self.send({"type": "connection_init", "payload": payload or {}})
        return await self.receive()

    async def subscribe(
        self, operation_id: str, query: str = EVENTS_ADDED, **variables: Any
    ) -> None:
        kind = "subscribe" if self.connection.subprotocol == TRANSPORT else "start"
        payload = {"query": query, "variables": variables}
        await self.send({"id": operation_id, "type": kind, "payload": payload})

    async def collect(
        self, until: Callable[[dict[str, Received]], bool], received: dict[str, Received]
    ) -> dict[str, Received]:
        """Messages into ``received`` (by operation id) until ``until`` holds."""
        while not until(received):
            message = await self.receive()
            operation = received.setdefault(str(message.get("id")), Received())
            if message["type"] in {"next", "data"}:
                payload = message["payload"]
                if payload.get("errors"):
                    operation.errors.extend(payload["errors"])
                if payload.get("data"):
                    [edge] = payload["data"].values()  # eventsAdded or findingsAdded
                    operation.edges.append(edge)
            elif message["type"] == "error":
                payload = message["payload"]
                operation.errors.extend(payload if isinstance(payload, list) else [payload])
            elif message["type"] == "complete":
                pass
            else:
                raise AssertionError(f"unexpected message {message}")
        return received

    async def closed(self) -> tuple[int | None, str]:
        """Read until the server closes; its close code and reason."""
        try:
            while True:
                await asyncio.wait_for(self.connection.recv(), HANG_GUARD)
        except ConnectionClosed as closed:
            frame = closed.rcvd
            return (frame.code, frame.reason) if frame is not None else (None, "")


@asynccontextmanager
async def connect(url: str, protocol: str = TRANSPORT) -> AsyncIterator[Client]:
    """A connection to the API's ``/graphql`` (``url`` is its ``http://…/graphql``)."""
    address = url.replace("http://", "ws://", 1)
    options: dict[str, Any] = {"subprotocols": [protocol], "open_timeout": HANG_GUARD}
    async with websockets.connect(address, **options) as connection:
        yield Client(connection)


class StalledClient:
    """A client that sends its messages, then stops reading: a socket left unread.

    Built on websockets' sans-I/O protocol over a plain socket with a small receive buffer,
    so nothing reads on its behalf; :meth:`closed` reads at last, until the server's close.
    """

    def __init__(self, url: str) -> None:
        address = url.replace("http://", "ws://", 1)
        host, port = address.removeprefix("ws://").split("/", 1)[0].rsplit(":", 1)
        self._protocol = ClientProtocol(
            parse_uri(address), subprotocols=[Subprotocol(TRANSPORT)], max_size=None
        )
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self._socket.settimeout(HANG_GUARD)
        self._socket.connect((host, int(port)))
        self._protocol.send_request(self._protocol.connect())
        self._flush()
        while self._protocol.state is State.CONNECTING:
            self._protocol.receive_data(self._socket.recv(65536))
        self._protocol.events_received()

    def send(self, *messages: dict[str, Any]) -> None:
        for message in messages:
            self._protocol.send_text(json.dumps(message).encode())
        self._flush()

    def closed(self) -> tuple[int | None, str]:
        """Read everything the server sent, to its close frame; the close's code and reason."""
        while self._protocol.state is not State.CLOSED:
            data = self._socket.recv(1 << 20)
            if not data:
                self._protocol.receive_eof()
                break
            self._protocol.receive_data(data)
            self._protocol.events_received()
            self._flush()
        self._socket.close()
        return self._protocol.close_code, self._protocol.close_reason or ""

    def _flush(self) -> None:
        for data in self._protocol.data_to_send():
            if data:
                self._socket.sendall(data)
