"""Waiting for Elasticsearch: at start, and whenever it stops answering mid-load.

A continuous loader must outlive an Elasticsearch restart or a rolling upgrade: it waits,
backing off, rather than dropping what it holds or exiting.
"""

from __future__ import annotations

import threading

from elasticsearch import ApiError, Elasticsearch, TransportError

from indexer.report import Report
from indexer.run import install_template
from indexer.state import StateIndex
from trailql.metrics import INDEXER_RETRIES

_ANSWERING_TIMEOUT = "5s"


def passing(exc: ApiError) -> bool:
    """Whether an error answer means "not now" (overloaded, recovering) rather than "no"."""
    return exc.meta.status >= 500 or exc.meta.status in {408, 429}  # noqa: PLR2004


def prepare_indices(
    client: Elasticsearch,
    alias: str,
    state: StateIndex,
    *,
    stop: threading.Event,
    report: Report,
    backoff: tuple[float, float],
) -> bool:
    """Install the events template and create the state index, waiting for Elasticsearch.

    A worker may start before Elasticsearch does (containers come up in any order), so this
    waits too. ``backoff`` is the first and the longest wait. False when asked to stop first.
    """
    delay, longest = backoff
    while True:
        try:
            install_template(client, alias)
            state.ensure()
        except (TransportError, ApiError) as exc:
            if isinstance(exc, ApiError) and not passing(exc):
                raise
            report.log("warning", "Elasticsearch is unavailable; waiting for it", error=str(exc))
        else:
            return True
        if stop.wait(delay):
            return False
        INDEXER_RETRIES.labels(reason="unavailable").inc()
        delay = min(longest, delay * 2)


def wait_for_elasticsearch(
    client: Elasticsearch,
    state: StateIndex,
    *,
    stop: threading.Event,
    report: Report,
    backoff: tuple[float, float],
) -> bool:
    """Back off until the state index answers again; False when asked to stop meanwhile."""
    delay, longest = backoff
    while not stop.wait(delay):
        INDEXER_RETRIES.labels(reason="unavailable").inc()
        if _answers(client, state):
            report.log("info", "Elasticsearch answers again; going on")
            return True
        delay = min(longest, delay * 2)
    return False


def _answers(client: Elasticsearch, state: StateIndex) -> bool:
    """Whether the state index is usable again (its primary is back, at least)."""
    try:
        health = client.options(request_timeout=10, max_retries=0).cluster.health(
            index=state.name, wait_for_status="yellow", timeout=_ANSWERING_TIMEOUT
        )
    except ApiError as exc:
        # Answering, but perhaps not with this user's privilege to ask: go and see.
        return not passing(exc)
    except TransportError:
        return False
    return not health.get("timed_out", False)
