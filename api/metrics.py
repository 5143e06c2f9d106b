"""Prometheus metrics of the API, served on ``/metrics``.

The metric objects are defined once in :mod:`common.metrics`; the indexer's, when it runs
in the same process, show on the same page. Operations are counted by the executor
(``api.execution``), Elasticsearch's latency where every search is made
(``api.context.Context.search``).
"""

from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from starlette.requests import Request
from starlette.responses import Response


async def metrics(_: Request) -> Response:
    """Every metric of the process (of every worker, when several serve), in Prometheus' text.

    With ``trailql serve --workers N``, each worker writes its figures to files under
    ``PROMETHEUS_MULTIPROC_DIR`` and any of them sums them all up here, so a scrape that
    reaches one worker still counts every request.
    """
    if MULTIPROCESS_DIRECTORY in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


#: Where prometheus-client's workers keep their figures when several processes serve.
MULTIPROCESS_DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"
