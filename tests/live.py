"""The API served for real (uvicorn on a loopback port) and the Node scripts that drive it.

Shared by the browser test and the GraphQL-over-HTTP audit.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from api import graphiql
from api.app import create_app
from bench.api_server import in_thread
from common.elastic import Connection

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
INSTALL = "run scripts/install --with-browser (npm ci, and Debian's chromium)"


@contextmanager
def serving(connection: Connection, alias: str) -> Iterator[str]:
    """The API under uvicorn on a free loopback port, in a thread; yields its /graphql URL."""
    with in_thread(create_app(connection, alias)) as url:
        yield f"{url}/graphql"


def require_node_package(name: str) -> None:
    """Fail, never skip, when the npm packages are not installed: CI must run these."""
    if shutil.which("node") is None:
        pytest.fail(f"node is not installed: install Node.js 18 or newer, then {INSTALL}")
    if not (ROOT / "node_modules" / name / "package.json").is_file():
        pytest.fail(f"the npm package {name} is not installed in node_modules: {INSTALL}")


def run_node(script: str, url: str) -> Any:
    """Run one of tests/browser's scripts against the URL; its JSON output."""
    done = subprocess.run(
        ["node", str(ROOT / "tests" / "browser" / script), url],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=180,  # a guard against a hang, not a measurement
        check=False,
    )
    assert done.returncode == 0, f"{script} failed:\n{done.stderr}"
    return json.loads(done.stdout)


def _time_and_id(record: dict[str, Any]) -> tuple[datetime, str]:
    return datetime.fromisoformat(record["eventTime"]), record["eventID"]


def check_graphiql_session(seen: dict[str, Any], graphql_url: str, expected: list[Any]) -> None:
    """What tests/browser/graphiql.mjs saw: the example query run, nothing fetched elsewhere."""
    assert seen["status"] == 200
    assert seen["title"] == "TrailQL · GraphiQL"
    assert seen["query"] == graphiql.EXAMPLE_QUERY
    assert seen["answered"] is True, seen["resultShown"]
    assert f'"totalCount": {len(expected)}' in seen["resultShown"]
    events = json.loads(seen["result"])["data"]["events"]
    assert events["totalCount"] == len(expected)
    assert events["pageInfo"]["hasNextPage"] is False
    newest_first = sorted(expected, key=_time_and_id, reverse=True)
    assert [n["eventName"] for n in events["nodes"]] == [r["eventName"] for r in newest_first]
    assert [n["requestParameters"] for n in events["nodes"]] == [
        r.get("requestParameters") for r in newest_first
    ]
    origin = graphql_url.removesuffix("/graphql")
    assets = {f"{origin}/graphiql/{name}" for name in [*graphiql.ASSETS, graphiql.START_SCRIPT]}
    assert assets <= set(seen["requests"])
    assert seen["external"] == []
    assert all(url.startswith(f"{origin}/") for url in seen["requests"]), seen["requests"]
    assert seen["consoleErrors"] == []
