"""Small answers sent at once: TCP_NODELAY on every connection the API accepts.

With ``--workers N``, uvicorn binds the listening socket itself as ``socket.socket(AF_INET)``,
whose protocol number is 0, and asyncio turns Nagle's algorithm off only on sockets whose
protocol is ``IPPROTO_TCP``. With Nagle on, an answer that does not fill its last segment
waits for the client's delayed ACK: up to 40 ms on a statistics query of a few KB, and on
every small WebSocket frame (an upgraded connection keeps its socket).
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

if TYPE_CHECKING:
    import asyncio


def no_delay(transport: asyncio.BaseTransport) -> None:
    """Turns Nagle's algorithm off on a TCP connection (a Unix socket has none)."""
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in {socket.AF_INET, socket.AF_INET6}:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class NoDelayHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol, on a connection that sends each answer at once."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Before anything is read or written on it."""
        no_delay(transport)
        super().connection_made(transport)
