"""The HTTP/1.1 protocol the API serves with: httptools, answers sent at once, a bounded head.

uvicorn's httptools protocol, with two changes:

- TCP_NODELAY on every connection. With ``--workers N``, uvicorn binds the listening socket
  itself as ``socket.socket(AF_INET)``, whose protocol number is 0, and asyncio turns Nagle's
  algorithm off only on sockets whose protocol is ``IPPROTO_TCP``. With Nagle on, an answer
  that does not fill its last segment waits for the client's delayed ACK: up to 40 ms on a
  statistics query of a few KB, and on every small WebSocket frame (an upgraded connection
  keeps its socket). uvloop turns it off by itself; this keeps it so on any loop.
- A request line and headers of at most :data:`MAX_HEAD_BYTES`. httptools takes a head of
  any size, buffering it whole (h11, which served before, refused one of 1 MB), and no body
  limit sees it: a GET carries its whole query in the URL.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

if TYPE_CHECKING:
    import asyncio

#: The most a request's line and headers may hold together, in bytes.
MAX_HEAD_BYTES = 64 * 1024
#: The answer past it (uvicorn's own for a request it cannot parse is a 400 too).
HEAD_TOO_LARGE = f"Request line and headers too large: at most {MAX_HEAD_BYTES} bytes."


def no_delay(transport: asyncio.BaseTransport) -> None:
    """Turns Nagle's algorithm off on a TCP connection (a Unix socket has none)."""
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in {socket.AF_INET, socket.AF_INET6}:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class ApiHttpProtocol(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol: each answer sent at once, each request's head bounded.

    The head is measured twice: as parsed (its URL and each header, as httptools hands them
    over), so a complete head past the bound is refused whatever the reads it came in; and
    as received, so a head that never ends is refused once more than the bound has arrived
    (httptools buffers a header until it ends).
    """

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Before anything is read or written on it."""
        no_delay(transport)
        self._reading_head = True
        self._head_received = 0  # bytes received while a head is not complete
        self._head_parsed = 0  # the URL's and the headers' bytes, as parsed
        self._head_too_large = False
        super().connection_made(transport)

    def data_received(self, data: bytes) -> None:
        """Refused with a 400 once a head not yet complete has taken more than the bound."""
        if self._reading_head:
            self._head_received += len(data)
        super().data_received(data)
        past = self._reading_head and self._head_received > MAX_HEAD_BYTES
        if past and not self.transport.is_closing():
            self._head_too_large = True
            self.send_400_response(HEAD_TOO_LARGE)

    def on_message_begin(self) -> None:
        """A request's head starts."""
        self._head_parsed = 0
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        """A piece of the request's URL."""
        self._head_parsed += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        """One header, whole: its name, its value, and their separators."""
        self._head_parsed += len(name) + len(value) + 4
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        """The head is in: refused past the bound, else the body follows.

        Raised here, the error reaches uvicorn as httptools' parse error, answered with a
        400; the body is bounded by the app (api/body_limit.py).
        """
        if self._head_parsed > MAX_HEAD_BYTES:
            self._head_too_large = True
            raise HeadTooLargeError(HEAD_TOO_LARGE)
        self._reading_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        """The next request's head starts with the next byte."""
        self._reading_head = True
        self._head_received = 0
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        """The 400 uvicorn sends, saying why when the head was too large."""
        super().send_400_response(HEAD_TOO_LARGE if self._head_too_large else msg)


class HeadTooLargeError(Exception):
    """Raised inside the parser: a request's line and headers past :data:`MAX_HEAD_BYTES`."""
