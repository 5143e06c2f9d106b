"""Prometheus metrics of the API: served on ``/metrics``, counted by a GraphQL extension.

The metric objects are defined once in :mod:`trailql.metrics`; the indexer's, when it runs
in the same process, show on the same page. Elasticsearch request latency is measured where
every search is made, in ``api.context.Context.search``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from strawberry.extensions import SchemaExtension

from api.operations import error_codes, operation_of
from trailql.metrics import GRAPHQL_ERRORS, GRAPHQL_REQUEST_SECONDS, GRAPHQL_REQUESTS


class GraphQLMetrics(SchemaExtension):
    """Counts and times each operation by name, and counts its errors by code.

    Listed before the extension that attaches error codes, so it sees them attached.
    """

    def on_operation(self) -> Iterator[None]:
        """Time the whole operation: parsing, validation, limits and execution."""
        started = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - started
            operation = operation_of(self.execution_context)
            GRAPHQL_REQUESTS.labels(operation=operation).inc()
            GRAPHQL_REQUEST_SECONDS.labels(operation=operation).observe(elapsed)
            for code in error_codes(self.execution_context):
                GRAPHQL_ERRORS.labels(code=code).inc()


async def metrics(_: Request) -> Response:
    """Every metric of the process, in Prometheus' text format."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
