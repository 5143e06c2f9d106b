"""X-Request-ID on every response, and one JSON log line per request carrying the same ID."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from api.logs import JsonFormatter, configure_logging
from api.request_log import RequestLog, current_request_id

GENERATED = re.compile(r"[0-9a-f]{32}")
LINE_KEYS = {
    "time",
    "level",
    "logger",
    "message",
    "request_id",
    "method",
    "path",
    "status",
    "duration_ms",
    "operation",
    "error_codes",
    "principal",
}


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """What the JSON handler writes, as ``trailql serve`` sets it up, into a string."""
    stream = io.StringIO()
    root, transport = logging.getLogger(), logging.getLogger("elastic_transport")
    levels = root.level, transport.level
    handler = configure_logging(stream)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(levels[0])
        transport.setLevel(levels[1])


def lines_of(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def request_line(stream: io.StringIO, request_id: str) -> dict[str, Any]:
    [line] = [
        line
        for line in lines_of(stream)
        if line.get("request_id") == request_id and line["logger"] == "trailql.api.requests"
    ]
    return line


def test_every_response_carries_a_request_id(secured_api, keys):
    answers = [
        secured_api.get("/healthz"),
        secured_api.get("/metrics"),
        secured_api.get("/nowhere", headers={"X-API-Key": keys.sigma}),
        secured_api.post("/graphql", json={"query": "{ __typename }"}),  # 401
        secured_api.post(
            "/graphql", json={"query": "{ __typename }"}, headers={"X-API-Key": keys.sigma}
        ),
    ]
    assert [a.status_code for a in answers] == [200, 200, 404, 401, 200]
    ids = [a.headers["x-request-id"] for a in answers]
    assert all(GENERATED.fullmatch(i) for i in ids)
    assert len(set(ids)) == len(ids)


def test_a_sane_request_id_is_echoed_and_any_other_replaced(secured_api):
    for sent in ("req-42", "0a1b2c3d-4e5f-6789-abcd-ef0123456789", "trace:1.2_3", "x" * 128):
        response = secured_api.get("/healthz", headers={"X-Request-ID": sent})
        assert response.headers["x-request-id"] == sent
    insane: tuple[str | bytes, ...] = ("x" * 129, "a b", "id;drop", "é".encode(), "")
    for value in insane:
        response = secured_api.get("/healthz", headers={"X-Request-ID": value})
        assert GENERATED.fullmatch(response.headers["x-request-id"]), value


def test_the_log_line_has_the_request_id_and_what_was_asked(secured_api, keys, log_lines):
    headers = {"X-API-Key": keys.sigma, "X-Request-ID": "req-log-1"}
    query = "query CountAll { events { totalCount } }"
    response = secured_api.post("/graphql", json={"query": query}, headers=headers)
    assert response.headers["x-request-id"] == "req-log-1"

    line = request_line(log_lines, "req-log-1")
    assert set(line) == LINE_KEYS
    assert line["level"] == "INFO"
    assert line["message"] == "POST /graphql 200"
    assert (line["method"], line["path"], line["status"]) == ("POST", "/graphql", 200)
    assert (line["operation"], line["error_codes"]) == ("CountAll", [])
    assert line["principal"] == "sigma-team"
    assert isinstance(line["duration_ms"], float)
    assert line["duration_ms"] >= 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", line["time"])


def test_the_log_line_names_the_error_codes_and_refusals(secured_api, keys, log_lines):
    headers = {"X-API-Key": keys.sigma, "X-Request-ID": "req-log-2"}
    secured_api.post(
        "/graphql", json={"query": "{ events(first: 501) { totalCount } nope }"}, headers=headers
    )
    line = request_line(log_lines, "req-log-2")
    assert (line["status"], line["operation"]) == (200, "anonymous")
    assert line["error_codes"] == ["GRAPHQL_VALIDATION_FAILED"]

    secured_api.post(
        "/graphql",
        json={"query": "{ events(first: 501) { totalCount } }"},
        headers=headers | {"X-Request-ID": "req-log-3"},
    )
    assert request_line(log_lines, "req-log-3")["error_codes"] == ["BAD_USER_INPUT"]

    secured_api.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"X-Request-ID": "req-log-4"}
    )
    refused = request_line(log_lines, "req-log-4")
    assert (refused["status"], refused["principal"], refused["operation"]) == (401, None, None)


async def _boom(_: Request) -> Response:
    logging.getLogger("trailql.api").warning("about to fail")
    raise RuntimeError("secret detail")


def test_an_unhandled_error_is_500_with_the_id_and_logged_with_its_traceback(log_lines):
    app = Starlette(routes=[Route("/boom", _boom)], middleware=[Middleware(RequestLog)])
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom", headers={"X-Request-ID": "req-boom"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "req-boom"
    assert response.json() == {
        "errors": [
            {"message": "Internal error; it has been logged.", "extensions": {"code": "INTERNAL"}}
        ]
    }
    during = [line for line in lines_of(log_lines) if line.get("request_id") == "req-boom"]
    assert [(line["logger"], line["message"]) for line in during] == [
        ("trailql.api", "about to fail"),
        ("trailql.api.requests", "unhandled error"),
        ("trailql.api.requests", "GET /boom 500"),
    ]
    assert "RuntimeError: secret detail" in during[1]["exception"]
    assert during[2]["level"] == "ERROR"
    assert current_request_id.get() is None


def test_the_formatter_writes_one_json_object_per_line():
    record = logging.LogRecord(
        "trailql.test", logging.WARNING, __file__, 1, "a\nb %s", ("c",), None
    )
    record.created = 0.0
    line = JsonFormatter().format(record)
    assert "\n" not in line
    assert json.loads(line) == {
        "time": "1970-01-01T00:00:00.000+00:00",
        "level": "WARNING",
        "logger": "trailql.test",
        "message": "a\nb c",
    }
