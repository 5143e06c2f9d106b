"""The guides' screenshots: GraphiQL answering each guide's query over the guides' data.

Debian's Chromium, driven by playwright-core (tests/browser/screenshots.mjs), types each query
and its variables into GraphiQL served by uvicorn, runs it and saves the page; the answer on
screen must be the API's own answer. Every run takes them (into a temporary folder: GraphiQL
shows each answer's timing, so no two runs give the same bytes, and a test run must leave the
tree as it found it); with ``TRAILQL_UPDATE_SCREENSHOTS=1`` they are written where the docs
show them (docs/pages/images/screenshots/), to be committed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from api import graphiql
from common.elastic import Connection
from tests.docs.conftest import GuideData
from tests.docs.test_guides import PAGES, documented_variables, query
from tests.live import CHROMIUM, INSTALL, ROOT, require_node_package, serving

SHOTS = PAGES / "images" / "screenshots"
#: Each screenshot: the query file it shows (docs/queries/NAME.graphql, with NAME.json).
NAMES = [
    "who-deleted-or-shortened",
    "log-group-history",
    "where-logs-are-sent",
    "who-reads-log-contents",
    "what-changed",
]
_PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def guides_url(es_connection: Connection, guide_data: GuideData) -> Iterator[str]:
    with serving(es_connection, guide_data.alias) as url:
        yield url


def test_every_screenshot_the_docs_show_is_taken_here_and_is_there():
    shown = set()
    for page in PAGES.rglob("*.md"):
        text = page.read_text(encoding="utf-8")
        shown |= set(re.findall(r"\]\([./]*images/screenshots/([^)/]+)\.png\)", text))
    assert shown == set(NAMES)
    for name in NAMES:
        assert (SHOTS / f"{name}.png").read_bytes().startswith(_PNG), name


def test_graphiql_answers_each_guide_query_and_the_screenshots_are_saved(
    guides_url: str, guides_api: TestClient, tmp_path: Path
):
    require_node_package("playwright-core")
    assert not graphiql.missing_assets(), INSTALL
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: {INSTALL}, or apt-get install chromium")
    folder = SHOTS if os.environ.get("TRAILQL_UPDATE_SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    shots = [
        {
            "name": name,
            "query": query(name),
            "variables": json.dumps(documented_variables(name), indent=2),
            "path": str(folder / f"{name}.png"),
        }
        for name in NAMES
    ]
    for shot in shots:
        Path(shot["path"]).unlink(missing_ok=True)

    done = subprocess.run(
        ["node", str(ROOT / "tests" / "browser" / "screenshots.mjs"), guides_url],
        input=json.dumps(shots),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,  # a guard against a hang, not a measurement
        check=False,
    )
    assert done.returncode == 0, f"screenshots.mjs failed:\n{done.stderr}"

    taken = json.loads(done.stdout)
    assert [shot["name"] for shot in taken] == NAMES
    for shot in taken:
        direct = guides_api.post(
            "/graphql",
            json={"query": query(shot["name"]), "variables": documented_variables(shot["name"])},
        ).json()
        assert "errors" not in direct, direct
        assert direct["data"], shot["name"]
        assert json.loads(shot["result"])["data"] == direct["data"], shot["name"]
        assert (folder / f"{shot['name']}.png").read_bytes().startswith(_PNG)
