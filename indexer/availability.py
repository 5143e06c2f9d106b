"""Waiting for Elasticsearch: at start, and whenever it stops answering mid-load.

A continuous loader must outlive an Elasticsearch restart or a rolling upgrade: it waits,
backing off, rather than dropping what it holds or exiting.
"""

from __future__ import annotations

import threading
from itertools import count

from elasticsearch import ApiError, Elasticsearch, TransportError

from common.metrics import INDEXER_RETRIES
from common.retry import Backoff, transient
from indexer.indices import install_template
from indexer.report import Report
from indexer.state import StateIndex
from schema import IndexLayout

_ANSWERING_TIMEOUT = "5s"


def prepare_indices(
    client: Elasticsearch,
    alias: str,
    state: StateIndex,
    *,
    stop: threading.Event,
    report: Report,
    backoff: Backoff,
    layout: IndexLayout | None = None,
) -> bool:
    """Install the events template and create the state index, waiting for Elasticsearch.

    A worker may start before Elasticsearch does (containers come up in any order), so this
    waits too. False when asked to stop first.
    """
    for attempt in count():
        try:
            install_template(client, alias, layout)
            state.ensure()
        except (TransportError, ApiError) as exc:
            if not transient(exc):
                raise
            report.log("warning", "Elasticsearch is unavailable; waiting for it", error=str(exc))
        else:
            return True
        if not backoff.wait(attempt, stop):
            return False
        INDEXER_RETRIES.labels(reason="unavailable").inc()
    raise AssertionError  # pragma: no cover  count() has no end


def wait_for_elasticsearch(
    client: Elasticsearch,
    state: StateIndex,
    *,
    stop: threading.Event,
    report: Report,
    backoff: Backoff,
) -> bool:
    """Back off until the state index answers again; False when asked to stop meanwhile."""
    for attempt in count():
        if not backoff.wait(attempt, stop):
            return False
        INDEXER_RETRIES.labels(reason="unavailable").inc()
        if _answers(client, state):
            report.log("info", "Elasticsearch answers again; going on")
            return True
    raise AssertionError  # pragma: no cover  count() has no end


def _answers(client: Elasticsearch, state: StateIndex) -> bool:
    """Whether the state index is usable again (its primary is back, at least)."""
    try:
        health = client.options(request_timeout=10, max_retries=0).cluster.health(
            index=state.name, wait_for_status="yellow", timeout=_ANSWERING_TIMEOUT
        )
    except ApiError as exc:
        # Answering, but perhaps not with this user's privilege to ask: go and see.
        return not transient(exc)
    except TransportError:
        return False
    return not health.get("timed_out", False)
