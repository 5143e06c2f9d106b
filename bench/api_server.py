"""The API as it is deployed: ``trailql serve`` in a process of its own, on a loopback port.

Its own process, so its Python work is not mixed with the benchmark's client threads (one
GIL each); its log lines go to a file, shown if it fails to start.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import urllib3

from bench.peak_rss import connection_environment
from trailql.elastic import Connection

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
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:
        child = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        try:
            if not wait_until_healthy(url, child):
                log.seek(0)
                output = log.read().decode(errors="replace")[-4000:]
                raise RuntimeError(f"trailql serve did not start:\n{output}")
            yield Served(url, child.pid)
        finally:
            child.terminate()
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
