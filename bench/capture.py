"""The exact Elasticsearch requests a GraphQL query makes, captured at the wire.

The API is started in this process (``api.app.create_app``, under uvicorn on a loopback port,
the same application ``trailql serve`` runs) and every node of the Elasticsearch client its
lifespan creates is wrapped: each request the resolvers make is recorded as the transport
hands it to the HTTP connection (method, path and query string, headers, and the body as
bytes, already serialised). Replaying those records sends byte for byte what the resolver
sent. Requests depend only on the query, its variables and the indices behind the alias,
all fixed during a run; the measured API (a separate ``trailql serve``) makes the same, and
the search count it reports for each query is checked against the capture.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from elastic_transport import BaseAsyncNode, HttpHeaders
from elastic_transport._node import NodeApiResponse
from elastic_transport.client_utils import DEFAULT, DefaultType

from api.app import create_app
from bench.api_server import in_thread
from bench.client import Request, connection_pool, graphql_data
from common.elastic import Connection

_START_TIMEOUT = 60.0


class RequestRecorder:
    """Records what the wrapped nodes send while :attr:`recording` is on."""

    def __init__(self) -> None:
        self.recording = False
        self.requests: list[Request] = []

    def wrap(self, node: BaseAsyncNode) -> None:
        """Record every request this node sends from now on."""
        original = node.perform_request

        async def perform_request(
            method: str,
            target: str,
            body: bytes | None = None,
            headers: HttpHeaders | None = None,
            request_timeout: DefaultType | float | None = DEFAULT,
        ) -> NodeApiResponse:
            if self.recording:
                sent = {str(name): str(value) for name, value in (headers or {}).items()}
                self.requests.append(Request(method, target, body, sent))
            return await original(
                method, target, body=body, headers=headers, request_timeout=request_timeout
            )

        node.perform_request = perform_request  # type: ignore[method-assign]

    def take(self) -> list[Request]:
        """The requests recorded since the last call."""
        taken, self.requests = self.requests, []
        return taken


class Capture:
    """The API in this process, with its Elasticsearch requests recorded."""

    def __init__(self, url: str, recorder: RequestRecorder) -> None:
        self._pool = connection_pool(url)
        self._recorder = recorder

    def requests_of(self, graphql: Request) -> tuple[dict[str, Any], list[Request]]:
        """Run one GraphQL request; its data, and the Elasticsearch requests it made."""
        self._recorder.take()
        self._recorder.recording = True
        try:
            data = graphql_data(graphql.send(self._pool))
        finally:
            self._recorder.recording = False
        return data, self._recorder.take()


@contextmanager
def capturing(connection: Connection, alias: str) -> Iterator[Capture]:
    """The API over ``alias`` in this process, ready to capture queries' requests.

    The environment must already hold the API's settings (authentication): they are read
    exactly as ``trailql serve`` reads them.
    """
    app = create_app(connection, alias)
    recorder = RequestRecorder()
    with in_thread(app) as url:
        for node in app.state.elasticsearch.transport.node_pool.all():
            recorder.wrap(node)
        yield Capture(url, recorder)
