"""Every connection the API accepts sends its answers at once (TCP_NODELAY), also when the
listening socket was bound as uvicorn binds it for ``--workers N``: protocol 0, on which
asyncio leaves Nagle's algorithm on, and a small answer waits for the client's delayed ACK."""

from __future__ import annotations

import argparse
import http.client
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from api.settings import ApiSettings
from api.tcp import NoDelayHttpToolsProtocol
from trailql.commands.serve import uvicorn_options

GUARD_SECONDS = 30  # a guard against a hang, not a measurement


async def _hello(scope: dict[str, Any], _receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello"})


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
            assert client.getresponse().read() == b"hello"
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
    assert _nagle_off_on_accepted(NoDelayHttpToolsProtocol, loop) == [1]


def test_uvicorn_s_own_leaves_it_on_there_on_asyncio_s_loop() -> None:
    """Why api/tcp.py exists: should this fail, asyncio or uvicorn now does it alone."""
    assert _nagle_off_on_accepted(HttpToolsProtocol, "asyncio") == [0]


def test_uvloop_turns_it_off_alone() -> None:
    """What ``trailql serve`` runs on; the protocol keeps it so on any other loop."""
    assert _nagle_off_on_accepted(HttpToolsProtocol, "uvloop") == [1]


def test_trailql_serve_uses_it_on_uvloop_with_one_worker_or_several() -> None:
    arguments = argparse.Namespace(host="127.0.0.1", port=8000)
    options = uvicorn_options(arguments, ApiSettings())
    assert (options["http"], options["loop"]) == (NoDelayHttpToolsProtocol, "uvloop")
