"""The benchmark's one HTTP client: urllib3 over loopback, keep-alive, nothing else.

GraphQL requests and raw Elasticsearch requests go through the same code, so whatever the
client costs is the same on both sides of a ratio.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import urllib3

from common.elastic import Connection

_TIMEOUT = urllib3.Timeout(connect=10.0, read=120.0)


def connection_pool(url: str, size: int = 1) -> urllib3.HTTPConnectionPool:
    """Keep-alive connections to ``url``'s host (loopback only: see bench/README.md)."""
    pool = urllib3.connection_from_url(
        url, maxsize=size, block=True, timeout=_TIMEOUT, retries=False
    )
    if not isinstance(pool, urllib3.HTTPConnectionPool):  # pragma: no cover
        raise TypeError(f"not an HTTP pool for {url}")
    return pool


def elasticsearch_headers(connection: Connection) -> dict[str, str]:
    """Authentication for requests sent to the cluster directly."""
    if connection.api_key:
        return {"authorization": f"ApiKey {connection.api_key}"}
    if connection.username:
        token = base64.b64encode(f"{connection.username}:{connection.password or ''}".encode())
        return {"authorization": f"Basic {token.decode()}"}
    return {}


@dataclass(frozen=True)
class Request:
    """One HTTP request, ready to send again and again."""

    method: str
    target: str  # path and query string
    body: bytes | None
    headers: Mapping[str, str]

    def send(self, pool: urllib3.HTTPConnectionPool) -> bytes:
        """Send it and read the whole answer; anything but 200 is an error."""
        response = pool.urlopen(
            self.method,
            self.target,
            body=self.body,
            headers=dict(self.headers),
            retries=False,
            preload_content=True,
            redirect=False,
        )
        if response.status != 200:
            text = response.data[:500].decode(errors="replace")
            raise RuntimeError(f"{self.method} {self.target} answered {response.status}: {text}")
        return bytes(response.data)


def graphql_request(
    path: str, query: str, variables: Mapping[str, Any], headers: Mapping[str, str]
) -> Request:
    """A GraphQL POST, as a client sends it."""
    body = orjson.dumps({"query": query, "variables": dict(variables)})
    return Request(
        "POST",
        path,
        body,
        {"content-type": "application/json", "accept": "application/json", **headers},
    )


def graphql_data(answer: bytes) -> dict[str, Any]:
    """The ``data`` of a GraphQL answer; its errors, if any, raised."""
    document = orjson.loads(answer)
    if document.get("errors"):
        raise RuntimeError(f"the query failed: {document['errors']}")
    data: dict[str, Any] = document["data"]
    return data
