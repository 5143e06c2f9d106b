"""Requests to an Amazon OpenSearch Service domain carry a SigV4 signature botocore agrees with.

A real HTTP server on loopback stands in for the domain and records what arrives; each
signature is then computed again with botocore's own signer from what was recorded.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from elasticsearch import AuthenticationException

from common.elastic import Connection, NoElasticsearchError, async_client, sync_client
from common.engine import UnsupportedEngineError

KEY, SECRET, TOKEN = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token"
REGION = "eu-west-1"


class Domain(BaseHTTPRequestHandler):
    """Answers as OpenSearch 2.19.6 would, and keeps every request it was sent."""

    received: list[dict[str, Any]] = []  # noqa: RUF012  one list per server, reset by the fixture
    #: What ``GET /_nodes`` answers: 200 with OpenSearch's version, or this status.
    probe_status = 200

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        self.received.append(
            {
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body,
            }
        )
        status = 200
        if self.path.startswith("/_nodes"):
            answer: dict[str, Any] = {"nodes": {"n": {"version": "2.19.6"}}}
            status = self.probe_status
        else:
            answer = {"took": 1, "hits": {"total": {"value": 0, "relation": "eq"}, "hits": []}}
        payload = json.dumps(answer if status == 200 else {"error": "no"}).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _answer  # noqa: N815  http.server's names

    def log_message(self, *_: Any) -> None:
        """Quiet."""


@pytest.fixture
def domain(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
    Domain.received = []
    Domain.probe_status = 200
    server = ThreadingHTTPServer(("127.0.0.1", 0), Domain)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def as_aws_reads_it(request: dict[str, Any], url: str) -> AWSRequest:
    """What arrived, as AWS reads it to check a signature: the query decoded into parameters,
    each then encoded again as SigV4 canonicalises them (``*`` as ``%2A``)."""
    headers = request["headers"]
    signed = headers["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    path, _, query = request["path"].partition("?")
    return AWSRequest(
        method=request["method"],
        url=url + path,
        params=dict(parse_qsl(query, keep_blank_values=True)),
        data=request["body"],
        headers={name: headers[name] for name in signed},
    )


def botocore_signature(request: dict[str, Any], url: str) -> str:
    """The Authorization header botocore computes for what arrived, at the time it names."""
    headers = request["headers"]
    signed = headers["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    again = as_aws_reads_it(request, url)
    again.context["timestamp"] = headers["x-amz-date"]
    auth = SigV4Auth(Credentials(KEY, SECRET, TOKEN), "es", REGION)
    string_to_sign = auth.string_to_sign(again, auth.canonical_request(again))
    scope = f"{KEY}/{headers['x-amz-date'][:8]}/{REGION}/es/aws4_request"
    return (
        f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders={';'.join(signed)}, "
        f"Signature={auth.signature(string_to_sign, again)}"
    )


def test_every_request_is_signed_as_botocore_signs_it(domain: str) -> None:
    dropped = "dropped when signing"
    connection = Connection(url=domain, aws_region=REGION, username="basic", password=dropped)
    client = sync_client(connection)
    client.search(
        index="trail@x",
        query={"term": {"eventName": "DeleteLogGroup"}},
        size=5,
        filter_path="hits.hits._id,hits.total",
    )
    client.close()
    probe, search = Domain.received
    assert probe["path"] == "/_nodes/_local?filter_path=nodes.*.version"
    assert search["path"].startswith("/trail%40x/_search?")
    # The query as AWS canonicalises it: every name and value encoded, '*' and ',' too.
    auth = SigV4Auth(Credentials(KEY, SECRET, TOKEN), "es", REGION)
    assert auth.canonical_query_string(as_aws_reads_it(probe, domain)) == (
        "filter_path=nodes.%2A.version"
    )
    assert "filter_path=hits.hits._id%2Chits.total" in auth.canonical_query_string(
        as_aws_reads_it(search, domain)
    )
    assert json.loads(search["body"]) == {
        "query": {"term": {"eventName": "DeleteLogGroup"}},
        "size": 5,
    }
    for request in (probe, search):
        headers = request["headers"]
        assert headers["authorization"] == botocore_signature(request, domain)
        assert headers["x-amz-security-token"] == TOKEN
        assert "host" in headers["authorization"].split("SignedHeaders=")[1]
    # OpenSearch is asked in plain JSON, the body's hash signed with it.
    assert search["headers"]["content-type"] == "application/json"
    assert "x-amz-content-sha256" in search["headers"]["authorization"]


def test_signing_needs_one_endpoint(domain: str) -> None:
    connection = Connection(url=f"{domain},http://127.0.0.1:1", aws_region=REGION)
    with pytest.raises(NoElasticsearchError, match="one URL"):
        sync_client(connection)


def test_a_probe_refused_for_credentials_is_the_request_s_answer(domain: str) -> None:
    """A 401 to the probe is raised as the client raises it: the usual error, the usual code."""
    Domain.probe_status = 401
    client = sync_client(Connection(url=domain, aws_region=REGION))
    with pytest.raises(AuthenticationException):
        client.search(index="trail")
    client.close()
    assert [request["path"].split("?")[0] for request in Domain.received] == ["/_nodes/_local"]


def test_an_engine_that_cannot_be_told_asks_for_the_setting(domain: str) -> None:
    """403 without X-Elastic-Product: OpenSearch without the right to read nodes, or not."""
    Domain.probe_status = 403
    client = sync_client(Connection(url=domain))
    with pytest.raises(UnsupportedEngineError, match="set ELASTICSEARCH_ENGINE"):
        client.search(index="trail")
    client.close()
    # Named, nothing is probed: the search goes out in OpenSearch's plain JSON.
    Domain.received = []
    client = sync_client(Connection(url=domain, engine="opensearch-2"))
    client.search(index="trail")
    client.close()
    [search] = Domain.received
    assert search["headers"]["accept"] == "application/json"


def test_the_async_client_probes_and_signs_alike(domain: str) -> None:
    async def search() -> None:
        client = async_client(Connection(url=domain, aws_region=REGION))
        await client.search(index="trail", query={"match_all": {}}, filter_path="hits.total")
        await client.close()

    asyncio.run(search())
    probe, answered = Domain.received
    assert probe["path"] == "/_nodes/_local?filter_path=nodes.*.version"
    for request in (probe, answered):
        assert request["headers"]["authorization"] == botocore_signature(request, domain)
    assert answered["headers"]["content-type"] == "application/json"
