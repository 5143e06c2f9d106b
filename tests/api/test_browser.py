"""GraphiQL in a real browser, from this server's own files, over the indexed samples.

The browser is Debian's Chromium driven by playwright-core (tests/browser/graphiql.mjs);
the API runs under uvicorn on a loopback port, exactly as ``trailql serve`` runs it.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from starlette.testclient import TestClient

from api import graphiql
from api.app import create_app
from bench.api_server import in_thread
from common.elastic import Connection
from indexer.run import IndexSummary, index_sources
from tests.live import (
    CHROMIUM,
    INSTALL,
    ROOT,
    check_graphiql_session,
    require_node_package,
    run_node,
    serving,
)
from tests.samples import read_sample_records


@pytest.fixture(scope="module")
def graphql_url(
    es_connection: Connection, samples_alias: tuple[str, IndexSummary]
) -> Iterator[str]:
    with serving(es_connection, samples_alias[0]) as url:
        yield url


def _logs_records() -> list[dict[str, Any]]:
    return [r for r in read_sample_records() if r["eventSource"] == "logs.amazonaws.com"]


def test_graphiql_runs_the_example_query_in_chromium_with_no_request_elsewhere(graphql_url):
    require_node_package("playwright-core")
    assert not graphiql.missing_assets(), INSTALL
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: {INSTALL}, or apt-get install chromium")
    expected = _logs_records()
    assert len(expected) == 6

    seen = run_node("graphiql.mjs", graphql_url)
    check_graphiql_session(seen, graphql_url, expected)


def test_graphiql_runs_eventsadded_and_shows_the_events_of_a_file_as_it_is_indexed(
    es: Elasticsearch, es_connection: Connection, alias: str, tmp_path: Path
):
    require_node_package("playwright-core")
    assert not graphiql.missing_assets(), INSTALL
    logs = _logs_records()
    others = [r for r in read_sample_records() if r["eventSource"] == "kms.amazonaws.com"][:3]
    fresh = [{**r, "eventID": f"live-{uuid.uuid4()}"} for r in logs + others]
    expected = [r["eventID"] for r in fresh[: len(logs)]]
    trail_file = tmp_path / "trail" / "live.json.gz"
    trail_file.parent.mkdir()
    with gzip.open(trail_file, "wt") as handle:
        json.dump({"Records": fresh}, handle)

    app = create_app(es_connection, alias)
    with in_thread(app) as base:
        script = ROOT / "tests" / "browser" / "graphiql.mjs"
        browser = subprocess.Popen(
            ["node", str(script), f"{base}/graphql", "--live", str(len(expected))],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            feed = app.state.live.feeds["events"]
            deadline = time.monotonic() + 300  # a hang guard (Chromium on a busy machine)
            while feed.subscribers < 1:
                assert browser.poll() is None, browser.stderr.read() if browser.stderr else ""
                assert time.monotonic() < deadline, "GraphiQL never subscribed"
                time.sleep(0.05)
            assert index_sources([str(trail_file.parent)], client=es, alias=alias).clean
            out, err = browser.communicate(timeout=300)  # a hang guard
        finally:
            if browser.poll() is None:
                browser.kill()
                browser.wait()
    assert browser.returncode == 0, err
    lines = out.strip().splitlines()
    assert lines[0] == "subscribed"
    seen = json.loads(lines[-1])
    assert sorted(seen["liveIds"]) == sorted(expected)
    assert seen["liveIds"][-1] in seen["liveShown"]
    assert seen["external"] == []
    assert seen["consoleErrors"] == []


def test_the_page_refers_only_to_this_server(samples_api: TestClient):
    assert not graphiql.missing_assets()
    response = samples_api.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self';" in policy
    assert "://" not in response.text
    for name in [*graphiql.ASSETS, graphiql.START_SCRIPT]:
        assert f'"graphiql/{name}"' in response.text


def test_the_assets_are_the_packaged_files(samples_api: TestClient):
    assert not graphiql.missing_assets()
    for name in graphiql.ASSETS:
        response = samples_api.get(f"/graphiql/{name}")
        assert response.status_code == 200, name
        assert response.content == (ROOT / "api" / "static" / "graphiql" / name).read_bytes()
        assert response.headers["cache-control"] == "no-cache"
        expected_type = "text/css" if name.endswith(".css") else "text/javascript"
        assert response.headers["content-type"].split(";")[0] == expected_type
    start = samples_api.get(f"/graphiql/{graphiql.START_SCRIPT}")
    assert start.status_code == 200
    assert json.dumps(graphiql.EXAMPLE_QUERY) in start.text


@pytest.mark.parametrize(
    "path",
    [
        "/graphiql/package.json",
        "/graphiql/LICENSE.react",
        "/graphiql/graphiql.min.js.map",
        "/graphiql/..%2Fpackage.json",
        "/graphiql/react%2Fpackage.json",
        "/graphiql/",
    ],
)
def test_nothing_else_is_served_from_the_asset_folder(samples_api: TestClient, path):
    assert samples_api.get(path).status_code == 404


def test_a_broken_installation_says_how_to_repair_it(
    samples_api: TestClient, tmp_path, monkeypatch
):
    monkeypatch.setattr(graphiql, "ASSET_DIRECTORY", tmp_path / "graphiql")
    response = samples_api.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 503
    assert "GraphiQL is not installed" in response.text
    assert "<code>pip install trailql</code>" in response.text
    assert "<code>scripts/vendor-graphiql</code>" in response.text
    assert str(tmp_path / "graphiql" / "graphiql.min.js") in response.text
    asset = samples_api.get("/graphiql/graphiql.min.js")
    assert asset.status_code == 404
    assert asset.text == "graphiql.min.js is missing from this installation: reinstall TrailQL"
    answer = samples_api.post("/graphql", json={"query": "{ __typename }"})
    assert answer.json()["data"] == {"__typename": "Query"}
