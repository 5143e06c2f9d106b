"""A front door to the test's real engine, as an Amazon OpenSearch Service domain has one.

On AWS, a request meets the domain's front door before the engine: it checks the SigV4
signature (403 when it does not match), applies the access policy, and passes the request on.
This does the same on loopback in front of the engine every test talks to, so that what the
client sends is checked as AWS checks it and answered by the engine itself, never by canned
JSON. It also keeps every request it was sent, as it arrived.
"""

from __future__ import annotations

import base64
import http.client
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from common.elastic import Connection

#: Headers that describe one hop, not the request: never passed on.
_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "host", "content-length"})


@dataclass(frozen=True)
class Arrived:
    """One request as it reached the front door."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Signing:
    """The credentials and scope the front door checks signatures against."""

    key: str
    secret: str
    token: str | None
    region: str
    service: str = "es"

    def expected_authorization(self, request: Arrived, url: str) -> str:
        """The Authorization header botocore computes for what arrived, at the time it names."""
        signed = _signed_headers(request)
        again = as_aws_reads_it(request, url)
        again.context["timestamp"] = request.headers["x-amz-date"]
        auth = SigV4Auth(Credentials(self.key, self.secret, self.token), self.service, self.region)
        string_to_sign = auth.string_to_sign(again, auth.canonical_request(again))
        scope = (
            f"{self.key}/{request.headers['x-amz-date'][:8]}/{self.region}/"
            f"{self.service}/aws4_request"
        )
        return (
            f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders={';'.join(signed)}, "
            f"Signature={auth.signature(string_to_sign, again)}"
        )


def _signed_headers(request: Arrived) -> list[str]:
    authorization = request.headers.get("authorization", "")
    if "SignedHeaders=" not in authorization:
        return []
    return authorization.split("SignedHeaders=")[1].split(",")[0].split(";")


def as_aws_reads_it(request: Arrived, url: str) -> AWSRequest:
    """What arrived, as AWS reads it to check a signature: the query decoded into parameters,
    each then encoded again as SigV4 canonicalises them (``*`` as ``%2A``)."""
    path, _, query = request.path.partition("?")
    return AWSRequest(
        method=request.method,
        url=url + path,
        params=dict(parse_qsl(query, keep_blank_values=True)),
        data=request.body,
        headers={name: request.headers[name] for name in _signed_headers(request)},
    )


@dataclass
class FrontDoor:
    """What the door does, and what it saw."""

    url: str
    #: Checked as AWS checks them when set; the engine's own credentials then go in.
    signing: Signing | None = None
    #: Path prefixes the access policy refuses, with the status it answers.
    refused: dict[str, int] = field(default_factory=dict)
    arrived: list[Arrived] = field(default_factory=list)
    #: Requests whose signature did not match (answered 403, never passed on).
    forged: list[Arrived] = field(default_factory=list)


def _basic(connection: Connection) -> str | None:
    if connection.api_key:
        return f"ApiKey {connection.api_key}"
    if connection.username:
        pair = f"{connection.username}:{connection.password or ''}".encode()
        return f"Basic {base64.b64encode(pair).decode()}"
    return None


class _DoorServer(ThreadingHTTPServer):
    """The door's listening socket, holding what every request's handler needs."""

    def __init__(self, door: FrontDoor, engine: Connection) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.door = door
        self.upstream = urlsplit(engine.hosts[0])
        self.engine_authorization = _basic(engine)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _DoorServer

    def _handle(self) -> None:
        door = self.server.door
        length = int(self.headers.get("content-length") or 0)
        request = Arrived(
            method=self.command,
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=self.rfile.read(length) if length else b"",
        )
        door.arrived.append(request)
        headers = {k: v for k, v in request.headers.items() if k not in _HOP}
        if door.signing is not None:
            if request.headers.get("authorization") != door.signing.expected_authorization(
                request, door.url
            ):
                door.forged.append(request)
                self._reply(403, _SIGNATURE_MISMATCH)
                return
            headers = {
                k: v
                for k, v in headers.items()
                if k != "authorization" and not k.startswith("x-amz-")
            }
            if self.server.engine_authorization:
                headers["authorization"] = self.server.engine_authorization
        for prefix, status in door.refused.items():
            if request.path.startswith(prefix):
                self._reply(status, {"message": "refused by the access policy"})
                return
        self._pass_on(request, headers)

    def _pass_on(self, request: Arrived, headers: dict[str, str]) -> None:
        upstream = self.server.upstream
        connection = http.client.HTTPConnection(str(upstream.hostname), upstream.port, timeout=60)
        try:
            connection.request(request.method, request.path, body=request.body, headers=headers)
            answer = connection.getresponse()
            payload = answer.read()
            self.send_response(answer.status)
            for name, value in answer.getheaders():
                if name.lower() not in _HOP:
                    self.send_header(name, value)
        finally:
            connection.close()
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _reply(self, status: int, answer: dict[str, Any]) -> None:
        """An answer of the door's own: AWS's, without ``X-Elastic-Product``."""
        payload = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle  # noqa: N815  http.server's names

    def log_message(self, *_: Any) -> None:
        """Quiet."""


_SIGNATURE_MISMATCH = {
    "message": "The request signature we calculated does not match the signature you provided."
}


@contextmanager
def front_door(
    engine: Connection, *, signing: Signing | None = None, refused: dict[str, int] | None = None
) -> Iterator[FrontDoor]:
    """A front door on loopback to ``engine`` (one node) for the duration of the block."""
    door = FrontDoor(url="", signing=signing, refused=dict(refused or {}))
    server = _DoorServer(door, engine)
    door.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield door
    finally:
        server.shutdown()
        server.server_close()
