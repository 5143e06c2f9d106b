"""The API's HTTP protocol (api/http_protocol.py).

Every connection it accepts sends its answers at once (TCP_NODELAY), also when the listening
socket was bound as uvicorn binds it for ``--workers N``: protocol 0, on which asyncio leaves
Nagle's algorithm on, and a small answer waits for the client's delayed ACK. And a request's
line and headers are bounded: httptools alone buffers a head of any size.
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from api.http_protocol import HEAD_TOO_LARGE, MAX_HEAD_BYTES, ApiHttpProtocol
from api.settings import ApiSettings
from trailql.commands.serve import uvicorn_options

GUARD_SECONDS = 30  # a guard against a hang, not a measurement


async def _hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers how many bytes of body it read."""
    if scope["type"] != "http":
        return
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    answer = b"hello %d" % size
    headers = [(b"content-length", str(len(answer)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": answer})


def _bound_as_uvicorn_binds_for_workers() -> socket.socket:
    """uvicorn's Config.bind_socket: ``socket.socket(family=AF_INET)``, protocol 0."""
    listener = socket.socket(family=socket.AF_INET)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    assert listener.proto == 0
    return listener


def _serving(protocol: type[HttpToolsProtocol], loop: str) -> Iterator[tuple[uvicorn.Server, str]]:
    listener = _bound_as_uvicorn_binds_for_workers()
    server = uvicorn.Server(
        uvicorn.Config(_hello, http=protocol, loop=loop, log_config=None, lifespan="off")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + GUARD_SECONDS
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield server, f"http://127.0.0.1:{listener.getsockname()[1]}"
    server.should_exit = True
    thread.join(GUARD_SECONDS)
    listener.close()


def _nagle_off_on_accepted(protocol: type[HttpToolsProtocol], loop: str) -> list[int]:
    """TCP_NODELAY on each connection the server holds while a client keeps one open."""
    for server, url in _serving(protocol, loop):
        # Kept open (keep-alive) while the server's side of it is looked at.
        port = int(url.rsplit(":", 1)[1])
        client = http.client.HTTPConnection("127.0.0.1", port, timeout=GUARD_SECONDS)
        try:
            client.request("GET", "/")
            assert client.getresponse().read() == b"hello 0"
            return [
                held.transport.get_extra_info("socket").getsockopt(
                    socket.IPPROTO_TCP, socket.TCP_NODELAY
                )
                for held in server.server_state.connections
            ]
        finally:
            client.close()
    pytest.fail("the server did not start")


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_the_api_s_protocol_turns_nagle_off(loop: str) -> None:
    assert _nagle_off_on_accepted(ApiHttpProtocol, loop) == [1]


def test_uvicorn_s_own_leaves_it_on_there_on_asyncio_s_loop() -> None:
    """Why the protocol turns it off: should this fail, asyncio or uvicorn now does it alone."""
    assert _nagle_off_on_accepted(HttpToolsProtocol, "asyncio") == [0]


def test_uvloop_turns_it_off_alone() -> None:
    """What ``trailql serve`` runs on; the protocol keeps it so on any other loop."""
    assert _nagle_off_on_accepted(HttpToolsProtocol, "uvloop") == [1]


def test_trailql_serve_uses_it_on_uvloop_with_one_worker_or_several() -> None:
    arguments = argparse.Namespace(host="127.0.0.1", port=8000)
    options = uvicorn_options(arguments, ApiSettings())
    assert (options["http"], options["loop"]) == (ApiHttpProtocol, "auto")
    assert importlib.util.find_spec("uvloop") is not None  # what "auto" takes, where it builds


def _exchange(port: int, request: bytes) -> bytes:
    """Send ``request`` whole, then read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=GUARD_SECONDS) as client:
        client.sendall(request)
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
        return answer


def test_a_head_past_the_bound_is_refused_and_the_server_goes_on() -> None:
    for server, url in _serving(ApiHttpProtocol, "uvloop"):
        port = int(url.rsplit(":", 1)[1])
        past = MAX_HEAD_BYTES + 100
        # Heads that never end (a header, a URL) are refused once past the bound, and so
        # are complete ones, whatever the reads they arrive in (up to 256 KB each).
        for head in (
            b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * past,
            b"GET /?q=" + b"a" * past,
            b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * past + b"\r\n\r\n",
            b"GET /?q=" + b"a" * past + b" HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Many: a\r\n" * (past // 10) + b"\r\n",
        ):
            answer = _exchange(port, head)
            assert answer.startswith(b"HTTP/1.1 400 "), answer[:100]
            assert answer.endswith(HEAD_TOO_LARGE.encode())
        # Within the bound, and a large body after a small head: answered.
        within = b"a" * (MAX_HEAD_BYTES - 1000)
        answer = _exchange(
            port,
            b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: " + within + b"\r\n\r\n",
        )
        assert answer.startswith(b"HTTP/1.1 200 ")
        assert answer.endswith(b"hello 0")
        body = b"b" * 500_000
        head = b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n\r\n"
        answer = _exchange(port, head % len(body) + body)
        assert answer.startswith(b"HTTP/1.1 200 ")
        assert answer.endswith(b"hello 500000")
        assert server.started
