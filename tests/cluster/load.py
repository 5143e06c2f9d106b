"""What the cluster tests share: a steady query load that checks every answer, and nodes.

Expected answers come from the trail files (see conftest.questions), never from the API.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Self

import urllib3
from elasticsearch import Elasticsearch

from tests.indexer.continuous import wait_until
from trailql.local_elasticsearch import LocalNode

#: Codes the README documents as "try again": the only errors a client may see while nodes
#: come and go.
RETRYABLE = frozenset({"UPSTREAM_UNAVAILABLE"})


@dataclass(frozen=True)
class Question:
    """A GraphQL query and the ``data`` it must answer."""

    name: str
    query: str
    expected: dict[str, Any]


@dataclass(frozen=True)
class Answer:
    """One answer of the load: when it was asked, and what came back."""

    asked_at: float  # time.monotonic()
    question: str
    #: "right", "wrong", or the error's extensions.code (or "HTTP <status>").
    outcome: str
    detail: str = ""


@dataclass
class QueryLoad:
    """Asks the questions in turn, one at a time, until stopped; keeps every answer."""

    url: str
    questions: list[Question]
    pause: float = 0.1
    answers: list[Answer] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._pool = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(total=60.0))
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=120)
        assert not self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            for question in self.questions:
                self.answers.append(self.ask(question))
                if self._stop.wait(self.pause):
                    return

    def ask(self, question: Question) -> Answer:
        """One question, its answer judged against the expected data."""
        asked_at = time.monotonic()
        try:
            response = self._pool.request(
                "POST",
                f"{self.url}/graphql",
                body=json.dumps({"query": question.query}).encode(),
                headers={"content-type": "application/json"},
            )
        except urllib3.exceptions.HTTPError as exc:  # the API itself did not answer
            return Answer(asked_at, question.name, "no answer", str(exc))
        body = json.loads(response.data) if response.data else {}
        errors = body.get("errors") if isinstance(body, dict) else None
        if errors:
            code = str(errors[0].get("extensions", {}).get("code", "no code"))
            return Answer(asked_at, question.name, code, str(errors[0].get("message")))
        if response.status != 200:
            return Answer(asked_at, question.name, f"HTTP {response.status}")
        if body.get("data") != question.expected:
            return Answer(asked_at, question.name, "wrong", json.dumps(body.get("data")))
        return Answer(asked_at, question.name, "right")

    def outcomes(self, start: float = 0.0, end: float = float("inf")) -> Counter[str]:
        """How many answers of each outcome were asked between ``start`` and ``end``."""
        return Counter(
            answer.outcome for answer in list(self.answers) if start <= answer.asked_at < end
        )


def kill(node: LocalNode) -> None:
    """SIGKILL: no goodbye to the cluster, no flush; as a machine that loses power."""
    os.kill(node.pid, signal.SIGKILL)
    wait_until(lambda: not _alive(node.pid), timeout=30, what=f"pid {node.pid} to die")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:  # noqa: PTH123
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for_health(
    es: Elasticsearch,
    status: str,
    *,
    nodes: int,
    index: str | None = None,
    settled: bool = False,
    timeout: float = 300,
) -> None:
    """Until the cluster (or ``index``) is at least ``status`` with ``nodes`` nodes joined.

    ``settled``: and no shard is moving from one node to another.
    """

    def reached() -> bool:
        health = es.options(ignore_status=(408, 503), request_timeout=15).cluster.health(
            index=index,
            wait_for_status=status,
            wait_for_nodes=str(nodes),
            wait_for_no_relocating_shards=settled or None,
            timeout="5s",
        )
        return not health.get("timed_out", True) and health.get("number_of_nodes") == nodes

    wait_until(reached, timeout=timeout, what=f"{status} with {nodes} nodes")


def primary_node(es: Elasticsearch, index: str) -> str:
    """The name of the node holding the primary of shard 0 of ``index``."""
    shards: list[dict[str, str]] = es.cat.shards(
        index=index, format="json", h="shard,prirep,state,node"
    ).body  # type: ignore[assignment]
    return next(
        shard["node"]
        for shard in shards
        if shard["shard"] == "0" and shard["prirep"] == "p" and shard["state"] == "STARTED"
    )
