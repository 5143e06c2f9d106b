"""Requests to an Amazon OpenSearch Service domain carry a SigV4 signature botocore agrees with.

A real HTTP server on loopback stands in for the domain and records what arrives; each
signature is then computed again with botocore's own signer from what was recorded.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from common.elastic import Connection, NoElasticsearchError, sync_client

KEY, SECRET, TOKEN = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token"
REGION = "eu-west-1"


class Domain(BaseHTTPRequestHandler):
    """Answers as OpenSearch 2.19.6 would, and keeps every request it was sent."""

    received: list[dict[str, Any]] = []  # noqa: RUF012  one list per server, reset by the fixture

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
        if self.path.startswith("/_nodes"):
            answer: dict[str, Any] = {"nodes": {"n": {"version": "2.19.6"}}}
        else:
            answer = {"took": 1, "hits": {"total": {"value": 0, "relation": "eq"}, "hits": []}}
        payload = json.dumps(answer).encode()
        self.send_response(200)
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
    server = ThreadingHTTPServer(("127.0.0.1", 0), Domain)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def botocore_signature(request: dict[str, Any], url: str) -> str:
    """The Authorization header botocore computes for what arrived, at the time it names."""
    headers = request["headers"]
    signed = headers["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    again = AWSRequest(
        method=request["method"],
        url=url + request["path"],
        data=request["body"],
        headers={name: headers[name] for name in signed},
    )
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
    client.search(index="trail", query={"term": {"eventName": "DeleteLogGroup"}}, size=5)
    client.close()
    probe, search = Domain.received
    assert probe["path"] == "/_nodes/_local?filter_path=nodes.*.version"
    assert search["path"].startswith("/trail/_search")
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
