"""The one definition of a transient Elasticsearch failure, and the one backoff."""

from __future__ import annotations

import threading

import pytest
from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
from elasticsearch import (
    ApiError,
    ConnectionError,  # noqa: A004
    ConnectionTimeout,
    SerializationError,
)

from common.retry import Backoff, transient, transient_status


def _api_error(status: int) -> ApiError:
    meta = ApiResponseMeta(
        status=status,
        http_version="1.1",
        headers=HttpHeaders(),
        duration=0.0,
        node=NodeConfig("http", "localhost", 9200),
    )
    return ApiError(f"status {status}", meta=meta, body={})


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (409, False),
        (413, False),
        (408, True),
        (429, True),
        (500, True),
        (502, True),
        (503, True),
        (504, True),
    ],
)
def test_only_overload_timeouts_and_server_errors_are_transient(status, expected):
    assert transient_status(status) is expected
    assert transient(_api_error(status)) is expected


def test_connection_failures_are_transient_and_unreadable_answers_are_not():
    assert transient(ConnectionError("refused"))
    assert transient(ConnectionTimeout("timed out"))
    assert not transient(SerializationError("not JSON"))
    assert not transient(ValueError("a bug"))
    assert not transient(None)


def test_backoff_doubles_up_to_its_longest_wait():
    backoff = Backoff(first=0.5, longest=4.0)
    assert [backoff.delay(attempt) for attempt in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert backoff.delay(10_000) == 4.0
    delays = backoff.delays(2)
    assert [next(delays) for _ in range(3)] == [2.0, 4.0, 4.0]


def test_a_wait_asked_to_stop_says_so():
    stop = threading.Event()
    stop.set()
    assert Backoff(first=60.0, longest=60.0).wait(0, stop) is False


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, True),
        (404, True),
        (409, True),
        (413, True),
        (401, False),
        (403, False),
        (408, False),
        (429, False),
        (500, False),
        (503, False),
        (200, False),
    ],
)
def test_a_request_is_at_fault_for_every_4xx_but_overload_and_credentials(status, expected):
    from common.retry import request_at_fault  # noqa: PLC0415

    assert request_at_fault(status) is expected
