"""``trailql serve`` logs readable lines at a terminal, JSON lines elsewhere or when asked.

The terminal is a real pseudo-terminal (``pty``), so the server decides as it would for a
person: by asking whether its standard error is a terminal.
"""

from __future__ import annotations

import json
import logging
import os
import pty
import re
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import urllib3

from api.logs import JsonFormatter, TextFormatter, formatter_for
from bench.api_server import free_port
from common.elastic import Connection

GUARD_SECONDS = 60.0  # a guard against a hang, not a measurement
TEXT_REQUEST_LINE = re.compile(
    r"\d\d:\d\d:\d\d\.\d{3} INFO    GET /healthz 200 \d+\.\d ms "
    r"by=anonymous \(authentication disabled\) id=req-pty-1"
)


@contextmanager
def _serve(env: dict[str, str], *arguments: str, terminal: bool) -> Iterator[tuple[int, int]]:
    """``trailql serve`` with stderr on a pseudo-terminal or a pipe; yields (port, fd)."""
    port = free_port()
    command = [sys.executable, "-m", "trailql", "serve", "--workers", "1", "--port", str(port)]
    if terminal:
        reader, writer = pty.openpty()
    else:
        reader, writer = os.pipe()
    child = subprocess.Popen(
        [*command, *arguments], env=env, stdin=subprocess.DEVNULL, stdout=writer, stderr=writer
    )
    os.close(writer)
    try:
        yield port, reader
    finally:
        child.terminate()
        child.wait(timeout=GUARD_SECONDS)
        os.close(reader)


def _read_until(fd: int, pattern: str) -> str:
    """What ``fd`` gives until ``pattern`` appears in it."""
    seen = b""
    deadline = time.monotonic() + GUARD_SECONDS
    while pattern.encode() not in seen:
        assert time.monotonic() < deadline, seen.decode(errors="replace")
        ready, _, _ = select.select([fd], [], [], 1.0)
        if ready:
            chunk = os.read(fd, 65536)
            assert chunk, seen.decode(errors="replace")  # the server exited
            seen += chunk
    return seen.decode(errors="replace")


def _environment(connection: Connection, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("TRAILQL_LOG")}
    return {**base, **connection.environment(), "NO_COLOR": "1", **extra}


def _get_healthz(port: int) -> None:
    answer = urllib3.request(
        "GET",
        f"http://127.0.0.1:{port}/healthz",
        headers={"X-Request-ID": "req-pty-1"},
        timeout=GUARD_SECONDS,
    )
    assert answer.status == 200


def test_at_a_terminal_serve_writes_readable_lines(es_connection: Connection):
    with _serve(_environment(es_connection), terminal=True) as (port, fd):
        started = _read_until(fd, "Uvicorn running on")
        _get_healthz(port)
        logged = _read_until(fd, "req-pty-1")
    assert "{" not in started, started
    assert re.search(rf"INFO    trailql.api: GraphiQL: http://127.0.0.1:{port}/graphql", started)
    assert TEXT_REQUEST_LINE.search(logged), logged


def test_elsewhere_serve_writes_json_lines(es_connection: Connection):
    with _serve(_environment(es_connection), terminal=False) as (port, fd):
        _read_until(fd, "Uvicorn running on")
        _get_healthz(port)
        logged = _read_until(fd, "req-pty-1")
    lines = [json.loads(line) for line in logged.splitlines() if line]
    [request] = [line for line in lines if line.get("request_id") == "req-pty-1"]
    assert (request["message"], request["status"]) == ("GET /healthz 200", 200)


@pytest.mark.parametrize(
    ("arguments", "env"),
    [(("--log-format", "json"), {}), ((), {"TRAILQL_LOG_FORMAT": "json"})],
)
def test_json_at_a_terminal_when_asked(es_connection: Connection, arguments, env):
    with _serve(_environment(es_connection, **env), *arguments, terminal=True) as (port, fd):
        _read_until(fd, "Uvicorn running on")
        _get_healthz(port)
        logged = _read_until(fd, "req-pty-1")
    # A terminal turns \n into \r\n; each line is still one JSON object.
    lines = [json.loads(line) for line in logged.splitlines() if line.strip()]
    assert {"GET /healthz 200"} <= {line["message"] for line in lines}


def _record(**extra: object) -> logging.LogRecord:
    record = logging.LogRecord(
        "trailql.api.requests", logging.ERROR, __file__, 1, "POST /graphql %s", (200,), None
    )
    for name, value in extra.items():
        setattr(record, name, value)
    return record


def test_the_text_line_says_what_a_person_needs_and_nothing_empty():
    full = _record(
        duration_ms=12.345,
        operation="CountAll",
        principal="sigma-team",
        error_codes=["BAD_USER_INPUT", "TIMEOUT"],
        request_id="req-1",
    )
    text = TextFormatter().format(full)
    assert text.split(" ", 1)[1] == (
        "ERROR   POST /graphql 200 12.3 ms op=CountAll by=sigma-team "
        "errors=BAD_USER_INPUT,TIMEOUT id=req-1"
    )
    bare = _record(duration_ms=0.0, operation=None, principal=None, error_codes=[])
    assert TextFormatter().format(bare).split(" ", 1)[1] == "ERROR   POST /graphql 200 0.0 ms"
    coloured = TextFormatter(colour=True).format(bare)
    assert "\x1b[31mERROR  \x1b[0m" in coloured


def test_a_pipe_gets_json_and_a_terminal_text_unless_told():
    reader, writer = pty.openpty()
    with os.fdopen(writer, "w") as terminal, os.fdopen(os.pipe()[1], "w") as pipe:
        assert isinstance(formatter_for("auto", terminal), TextFormatter)
        assert isinstance(formatter_for("auto", pipe), JsonFormatter)
        assert isinstance(formatter_for("json", terminal), JsonFormatter)
        assert isinstance(formatter_for("text", pipe), TextFormatter)
    os.close(reader)
