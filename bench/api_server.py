"""The API as it is deployed: ``trailql serve`` in a process of its own, on a loopback port.

Its own process, so its Python work is not mixed with the benchmark's client threads (one
GIL each); its log lines go to a file, shown if it fails to start.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import urllib3
import uvicorn
from starlette.types import ASGIApp

from bench.peak_rss import connection_environment
from common.elastic import Connection

_START_TIMEOUT = 60.0


@dataclass(frozen=True)
class Served:
    """A running API: its base URL and the process serving it."""

    url: str  # http://127.0.0.1:PORT
    pid: int


def free_port() -> int:
    """A loopback port free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def in_thread(app: ASGIApp) -> Iterator[str]:
    """``app`` under uvicorn in a thread of this process, on a free loopback port.

    Yields its base URL. For tests and captures that must reach into the served app; the
    benchmark's own measures serve it in a process of its own (:func:`serving`).
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + _START_TIMEOUT  # a guard against a hang
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start the API")
            time.sleep(0.02)
        host, port = sock.getsockname()
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join()
        sock.close()


def wait_until_healthy(url: str, child: subprocess.Popen[bytes]) -> bool:
    """Whether ``child`` answers /healthz at ``url`` before it exits or a minute passes."""
    pool = urllib3.connection_from_url(url, retries=False, timeout=2.0)
    deadline = time.monotonic() + _START_TIMEOUT  # a guard against a hang, not a measurement
    while time.monotonic() < deadline and child.poll() is None:
        try:
            if pool.urlopen("GET", "/healthz", retries=False).status == 200:
                return True
        except urllib3.exceptions.HTTPError:
            pass
        time.sleep(0.1)
    return False


@contextmanager
def serving(
    connection: Connection,
    alias: str,
    environment: Mapping[str, str],
    *,
    workers: int | None = None,
) -> Iterator[Served]:
    """``trailql serve`` over ``alias`` until the block ends: as deployed, one worker per core,
    unless ``workers`` says how many.
    """
    port = free_port()
    command = [sys.executable, "-m", "trailql", "serve", "--host", "127.0.0.1", "--port", str(port)]
    if workers is not None:
        command += ["--workers", str(workers)]
    env = {**connection_environment(connection, alias), **environment}
    with served_by(command, env, port, "trailql serve") as served:
        yield served


@contextmanager
def served_by(
    command: list[str], env: Mapping[str, str], port: int, what: str, cwd: Path | None = None
) -> Iterator[Served]:
    """``command`` in a process of its own, serving on ``port``, until the block ends.

    Its output goes to a file, shown if it does not answer /healthz.
    """
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:
        child = subprocess.Popen(
            command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log
        )
        try:
            if not wait_until_healthy(url, child):
                log.seek(0)
                output = log.read().decode(errors="replace")[-4000:]
                raise RuntimeError(f"{what} did not start:\n{output}")
            yield Served(url, child.pid)
        finally:
            child.terminate()
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
