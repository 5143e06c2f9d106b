"""A wheel built from this tree, installed with pip into a fresh virtual environment, serves
GraphiQL with no Node.js and no node_modules anywhere near it.

The wheel is built (uv build), installed with pip (the runtime lock, then the wheel, in a
fresh venv outside the repository), and ``trailql serve`` runs from that venv in a folder
of its own; the browser check is the same as tests/api/test_browser.py's. Only the browser
driver (playwright-core) comes from the repository's node_modules: the server never does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.api_server import free_port, served_by
from common.elastic import Connection
from indexer.run import IndexSummary
from tests.live import (
    CHROMIUM,
    INSTALL,
    ROOT,
    check_graphiql_session,
    require_node_package,
    run_node,
)

GUARD_SECONDS = 600  # a guard against a hang, not a measurement


def _run(*command: str | Path, cwd: Path) -> str:
    done = subprocess.run(
        [str(part) for part in command],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=GUARD_SECONDS,
        check=False,
        env={k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}},
    )
    assert done.returncode == 0, f"{command} failed:\n{done.stdout[-2000:]}{done.stderr[-4000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The bin folder of a fresh venv holding the built wheel and its locked dependencies."""
    folder: Path = tmp_path_factory.mktemp("wheel")
    _run(
        Path(sys.executable).parent / "uv",
        "build",
        "--wheel",
        "--out-dir",
        folder,
        ROOT,
        cwd=folder,
    )
    [wheel] = folder.glob("trailql-*.whl")
    _run(sys.executable, "-m", "venv", folder / "venv", cwd=folder)
    python = folder / "venv" / "bin" / "python"
    runtime = ROOT / "requirements" / "runtime.txt"
    _run(python, "-m", "pip", "install", "--quiet", "--require-hashes", "-r", runtime, cwd=folder)
    _run(python, "-m", "pip", "install", "--quiet", "--no-deps", wheel, cwd=folder)
    return folder / "venv" / "bin"


def test_the_installed_package_carries_graphiql_and_no_node_modules_is_in_reach(installed):
    where = _run(
        installed / "python",
        "-c",
        "import api.graphiql as g; print(g.ASSET_DIRECTORY)",
        cwd=installed,
    ).strip()
    assets = Path(where)
    assert assets.is_relative_to(installed.parent)  # the venv's copy, not the repository's
    assert sorted(p.name for p in assets.glob("*.min.*")) == [
        "graphiql.min.css",
        "graphiql.min.js",
        "graphql-ws.min.js",
        "react-dom.production.min.js",
        "react.production.min.js",
    ]
    assert not any((parent / "node_modules").exists() for parent in assets.parents)


@pytest.fixture(scope="module")
def served_from_the_wheel(
    installed: Path, es_connection: Connection, samples_alias: tuple[str, IndexSummary]
) -> Iterator[str]:
    port = free_port()
    command = [str(installed / "trailql"), "serve", "--workers", "1", "--port", str(port)]
    base = {k: v for k, v in os.environ.items() if not k.startswith(("ELASTICSEARCH_", "TRAILQL_"))}
    base.pop("PYTHONPATH", None)
    env = {
        **base,
        **es_connection.environment(),
        "TRAILQL_INDEX": samples_alias[0],
        "TRAILQL_AUTH_DISABLED": "true",
    }
    with served_by(
        command, env, port, "trailql serve from the wheel", cwd=installed.parent
    ) as served:
        yield f"{served.url}/graphql"


def test_graphiql_from_the_wheel_runs_the_example_query_in_chromium(
    served_from_the_wheel, sample_records
):
    require_node_package("playwright-core")
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: {INSTALL}, or apt-get install chromium")
    expected = [r for r in sample_records if r["eventSource"] == "logs.amazonaws.com"]
    seen = run_node("graphiql.mjs", served_from_the_wheel)
    check_graphiql_session(seen, served_from_the_wheel, expected)
