"""API keys: minted, hashed, parsed from configuration, and found in constant time."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from api.app import create_app
from api.keys import KEY_PREFIX, ApiKeys, KeyConfigError, load_api_keys, parse_key_lines
from api.settings import ApiSettings
from api.tenancy import Tenant
from common.elastic import Connection
from tests.api.credentials import SIGMA, STRATUS

ROOT = Path(__file__).resolve().parents[2]
DIGEST = "a" * 64


def mint(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trailql", "keys", "mint", *arguments],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )


def test_minting_prints_the_key_then_a_line_that_lets_it_in():
    done = mint("sigma-team", STRATUS[1], STRATUS[0])
    assert done.returncode == 0, done.stderr
    key, line = done.stdout.splitlines()
    assert key.startswith(KEY_PREFIX)
    assert len(key) == len(KEY_PREFIX) + 43  # 32 random bytes, URL-safe base64
    digest = hashlib.sha256(key.encode()).hexdigest()
    assert line == f"sigma-team:{digest}:{STRATUS[0]},{STRATUS[1]}"
    assert "X-API-Key" in done.stderr
    assert key not in line

    settings = ApiSettings(auth_disabled=False, api_keys=line)
    app = create_app(Connection(url="http://127.0.0.1:9"), "trailql-events", settings)
    with TestClient(app) as client:
        query = {"query": "{ __typename }"}
        assert client.post("/graphql", json=query, headers={"X-API-Key": key}).status_code == 200
        assert client.post("/graphql", json=query).status_code == 401


def test_minting_with_an_expiry_and_for_every_account():
    done = mint("ops", "*", "--expires", "2030-01-31")
    assert done.returncode == 0, done.stderr
    key, line = done.stdout.splitlines()
    [stored] = parse_key_lines(line, "minted")
    assert stored.accounts is None
    assert stored.expires == datetime(2030, 1, 31, tzinfo=UTC)
    assert line.endswith(":*:2030-01-31T00:00:00Z")
    assert ApiKeys([stored]).find(key) == stored


def test_minting_refuses_what_the_server_would_refuse():
    done = mint("team", "12345")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "error: '12345' is not a 12-digit AWS account ID\n"
    done = mint("bad name", SIGMA)
    assert done.returncode == 2
    assert "'bad name' is not a key name" in done.stderr


def test_lines_from_the_environment_and_a_file_together(tmp_path):
    keys_file = tmp_path / "keys"
    keys_file.write_text(
        f"# the ops team\nops:{'b' * 64}:*\n\n"
        f"stratus:{'c' * 64}:{STRATUS[0]},{STRATUS[1]}  # two accounts\n",
        encoding="utf-8",
    )
    keys = load_api_keys(f"sigma:{DIGEST}:{SIGMA}:2030-01-01T12:00:00+02:00", keys_file)
    assert len(keys) == 3
    [sigma] = parse_key_lines(f"sigma:{DIGEST}:{SIGMA}:2030-01-01T12:00:00+02:00", "env")
    assert sigma.expires == datetime(2030, 1, 1, 10, tzinfo=UTC)
    assert sigma.tenant() == Tenant(
        name="sigma", accounts=frozenset({SIGMA}), expires=datetime(2030, 1, 1, 10, tzinfo=UTC)
    )
    assert sigma.expired(datetime(2030, 1, 1, 10, tzinfo=UTC))
    assert not sigma.expired(datetime(2030, 1, 1, 9, 59, tzinfo=UTC))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sigma", "TRAILQL_API_KEYS, line 1: expected NAME:SHA256:ACCOUNTS[:SCOPES][:EXPIRES]"),
        (
            f"sigma:{DIGEST.upper()}:{SIGMA}",
            "TRAILQL_API_KEYS, line 1: the hash must be 64 lowercase hex digits (SHA-256)",
        ),
        (f"sigma:{DIGEST}:", "TRAILQL_API_KEYS, line 1: '' is not a 12-digit AWS account ID"),
        (
            f"sigma:{DIGEST}:{SIGMA},*",
            "TRAILQL_API_KEYS, line 1: '*' is not a 12-digit AWS account ID",
        ),
        (
            f"sigma:{DIGEST}:{SIGMA}:soon",
            "TRAILQL_API_KEYS, line 1: 'soon' is not a scope (read, triage)",
        ),
        (
            f"ops:{'b' * 64}:*;sigma:{DIGEST}:{SIGMA};sigma:{'c' * 64}:{SIGMA}",
            "API key names must be unique: sigma",
        ),
        (f"a:{DIGEST}:*\nb:{DIGEST}:{SIGMA}", "the same API key hash is configured twice"),
    ],
)
def test_a_bad_line_is_named_with_its_reason(text, message):
    with pytest.raises(KeyConfigError) as raised:
        load_api_keys(text, None)
    assert str(raised.value) == message


def test_a_missing_keys_file_is_named(tmp_path):
    with pytest.raises(KeyConfigError) as raised:
        load_api_keys("", tmp_path / "absent")
    assert (
        str(raised.value)
        == f"TRAILQL_API_KEYS_FILE {tmp_path / 'absent'}: No such file or directory"
    )
