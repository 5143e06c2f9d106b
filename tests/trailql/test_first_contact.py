"""First contact: every failure a person can cause is a line or two and an exit code of its own.

Each runs ``trailql`` as a person would, in a process of its own, and checks what it says,
how it exits, and that no traceback is printed (``--debug`` prints one).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
from elasticsearch import NotFoundError

from bench.api_server import free_port
from common.elastic import Connection
from tests.helpers import ELASTICSEARCH_7
from trailql.failures import explain
from trailql.output import (
    EXIT_ERROR,
    EXIT_NOT_FOUND,
    EXIT_PORT_BUSY,
    EXIT_REFUSED,
    EXIT_UNREACHABLE,
)

GUARD_SECONDS = 120  # a guard against a hang, not a measurement


def trailql(*arguments: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("ELASTICSEARCH_", "TRAILQL_"))}
    return subprocess.run(
        [sys.executable, "-m", "trailql", *arguments],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=GUARD_SECONDS,
        check=False,
    )


def _no_traceback(done: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) <= 3, done.stderr


def test_refused_credentials_say_which_settings_to_check(es_connection: Connection, tmp_path):
    env = {**es_connection.environment(), "ELASTICSEARCH_PASSWORD": "not-the-password"}
    (tmp_path / "empty.json").write_text('{"Records": []}')
    done = trailql("index", str(tmp_path), env=env)
    assert done.returncode == EXIT_REFUSED
    assert "refused the credentials (401)" in done.stderr
    assert "ELASTICSEARCH_USERNAME/ELASTICSEARCH_PASSWORD" in done.stderr
    _no_traceback(done)
    debugged = trailql("--debug", "index", str(tmp_path), env=env)
    assert debugged.returncode == EXIT_REFUSED
    assert "Traceback" in debugged.stderr


def test_an_unreachable_cluster_says_so(tmp_path):
    closed = free_port()  # nothing listens there
    env = {"ELASTICSEARCH_URL": f"http://127.0.0.1:{closed}", "ELASTICSEARCH_REQUEST_TIMEOUT": "2"}
    (tmp_path / "empty.json").write_text('{"Records": []}')
    done = trailql("index", str(tmp_path), env=env)
    assert done.returncode == EXIT_UNREACHABLE
    assert "cannot reach Elasticsearch" in done.stderr
    _no_traceback(done)


def test_an_alias_with_nothing_in_it_is_no_failure(es_connection: Connection):
    env = {**es_connection.environment(), "TRAILQL_INDEX": "trailql-no-such-alias"}
    done = trailql("quarantine", "list", env=env)
    assert (done.returncode, done.stdout) == (0, "")
    assert "0 records in quarantine" in done.stderr


def test_a_missing_index_is_told_as_not_found(es):
    with pytest.raises(NotFoundError) as missing:
        es.indices.get(index="trailql-no-such-index")
    failure = explain(missing.value)
    assert failure is not None
    assert failure.exit_code == EXIT_NOT_FOUND
    assert failure.message.startswith("not found in Elasticsearch: no such index")
    assert "run `trailql index`" in failure.message


def test_bad_arguments_are_usage_errors():
    done = trailql("index", "--since", "yesterday", env={})
    assert done.returncode == EXIT_ERROR
    assert "is not a day (YYYY-MM-DD)" in done.stderr
    _no_traceback(done)
    done = trailql("serve", "--workers", "0", env={"TRAILQL_AUTH_DISABLED": "true"})
    assert done.returncode == EXIT_ERROR
    assert "--workers must be 1 or more" in done.stderr


def test_a_busy_port_is_named(es_connection: Connection):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**es_connection.environment(), "TRAILQL_AUTH_DISABLED": "true"}
        done = trailql("serve", "--port", str(port), "--workers", "1", env=env)
    assert done.returncode == EXIT_PORT_BUSY
    assert f"port {port} on 127.0.0.1 is in use" in done.stderr
    _no_traceback(done)


def test_no_cluster_configured_says_how_to_configure_one():
    done = trailql("index", "/nowhere", env={"TRAILQL_CACHE_DIR": "/nonexistent/cache"})
    assert done.returncode == EXIT_ERROR
    assert "set ELASTICSEARCH_URL" in done.stderr
    _no_traceback(done)


def test_the_version_is_printed():
    done = trailql("--version", env={})
    assert done.returncode == 0
    assert done.stdout.startswith("trailql ")


def test_an_engine_too_old_is_named_with_what_is_supported(elasticsearch_7: Connection, tmp_path):
    done = trailql("index", str(tmp_path), env=elasticsearch_7.environment())
    assert done.returncode == EXIT_ERROR, done.stderr
    assert (
        f"Elasticsearch {ELASTICSEARCH_7.split('-')[1]} is not supported: TrailQL runs on "
        "Elasticsearch 8, 9 and OpenSearch 2" in done.stderr
    )
    _no_traceback(done)
