"""``--peer``: TrailQL beside graphql-compose-elasticsearch, the off-the-shelf peer.

graphql-compose-elasticsearch (npm) builds a GraphQL schema from an index's mapping. It runs
on Node, started here from ``bench/peer/server.mjs`` (which says how it is configured), over
the alias TrailQL serves: the large query data set. The three questions
(:mod:`bench.peer_questions`) are asked of TrailQL, of the peer and of Elasticsearch
directly. The three answers to each must agree, or the run stops. Then latency, sampled
interleaved as in measure 3 (one keep-alive connection per target), and throughput with
many clients for Q1 and Q2, as in measure 4.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import urllib3

from bench.api_server import Served, free_port, served_by
from bench.client import Request, connection_pool, elasticsearch_headers
from bench.latency import QueryLatency, Variant, graphql_sender, sample
from bench.peak_rss import connection_environment
from bench.peer_questions import SIDES, Question, check_agreement, questions, timeline_bounds
from bench.stats import median
from bench.throughput import Burst, burst
from common.elastic import Connection

PEER_PACKAGE = "graphql-compose-elasticsearch"
_ROOT = Path(__file__).resolve().parent.parent
_SERVER = Path(__file__).resolve().parent / "peer" / "server.mjs"


def _installed_version() -> str:
    package = _ROOT / "node_modules" / PEER_PACKAGE / "package.json"
    if not package.is_file():
        raise RuntimeError(
            f"the npm package {PEER_PACKAGE} is not installed in node_modules: "
            "run scripts/install (npm ci), or leave out --peer"
        )
    version: str = json.loads(package.read_text())["version"]
    return version


def _node() -> tuple[str, str]:
    """The node executable and its version."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is not on PATH: the peer runs on Node.js (18 or newer)")
    version = subprocess.run(
        [node, "--version"], check=True, capture_output=True, text=True
    ).stdout.strip()
    return node, version


@contextmanager
def peer_serving(connection: Connection, alias: str, node: str) -> Iterator[Served]:
    """The peer on Node over ``alias``, on a loopback port, until the block ends."""
    port = free_port()
    env = {**connection_environment(connection, alias), "PEER_PORT": str(port), "PEER_ALIAS": alias}
    env["ELASTICSEARCH_URL"] = connection.hosts[0]  # the peer takes one node
    with served_by([node, str(_SERVER)], env, port, f"the peer ({_SERVER.name})", _ROOT) as served:
        yield served


@dataclass
class QuestionFigures:
    """One question's agreement, latencies by side, and bursts by side (Q1 and Q2)."""

    question: Question
    agreement: dict[str, Any]
    latency: QueryLatency
    bursts: dict[str, list[Burst]]

    def p50_ratio(self, numerator: str, denominator: str) -> float:
        """The median over rounds of one side's p50 ÷ another's."""
        return self.latency.ratio(numerator, denominator)

    def per_second(self, side: str) -> float:
        """Answers per second with many clients, median over rounds."""
        return median([one.per_second for one in self.bursts[side]])

    def throughput_ratio(self, numerator: str, denominator: str) -> float:
        """The median over rounds of one side's answers per second ÷ another's."""
        return median(
            [
                mine.per_second / theirs.per_second
                for mine, theirs in zip(
                    self.bursts[numerator], self.bursts[denominator], strict=True
                )
            ]
        )

    def as_dict(self) -> dict[str, Any]:
        """For results.json."""
        record: dict[str, Any] = {
            "label": self.question.label,
            "agreement": self.agreement,
            **{side: self.latency.latency(side).as_dict() for side in SIDES},
            "p50_ratio": {
                "trailql_peer": round(self.p50_ratio("trailql", "peer"), 3),
                "trailql_raw": round(self.p50_ratio("trailql", "raw"), 3),
                "peer_raw": round(self.p50_ratio("peer", "raw"), 3),
            },
        }
        if self.bursts:
            record["throughput"] = {
                **{
                    f"{side}_requests_per_second": round(self.per_second(side), 1) for side in SIDES
                },
                **{
                    f"{side}_p50_ms_under_load": round(
                        median([one.p50_ms for one in self.bursts[side]]), 3
                    )
                    for side in SIDES
                },
                "trailql_peer_ratio": round(self.throughput_ratio("trailql", "peer"), 3),
                "trailql_raw_ratio": round(self.throughput_ratio("trailql", "raw"), 3),
            }
        return record


def _sender(request: Request) -> Callable[[urllib3.HTTPConnectionPool], None]:
    def send(pool: urllib3.HTTPConnectionPool) -> None:
        request.send(pool)

    return send


def _bursts(
    question: Question,
    urls: dict[str, str],
    *,
    clients: int,
    requests: int,
    seconds: float,
    rounds: int,
) -> dict[str, list[Burst]]:
    """Each side's bursts, the sides in an order that rotates from round to round."""
    bursts: dict[str, list[Burst]] = {side: [] for side in SIDES}
    for number in range(rounds):
        shift = number % len(SIDES)
        for side in SIDES[shift:] + SIDES[:shift]:
            bursts[side].append(
                burst(
                    _sender(question.requests[side]),
                    urls[side],
                    clients=clients,
                    requests=requests,
                    seconds=seconds,
                )
            )
    return bursts


@dataclass(frozen=True)
class PeerSettings:
    """How much to sample: the run's latency and throughput sizes."""

    warmup: int
    rounds: int
    per_round: int
    clients: int
    throughput_requests: int
    throughput_seconds: float
    throughput_rounds: int


#: The headline keys measure_peer returns, also set at the top of results.json.
HEADLINE_KEYS = (
    "peer_q1_p50_ratio",
    "peer_q2_p50_ratio",
    "peer_q3_p50_ratio",
    "peer_q1_throughput_ratio",
    "peer_q2_throughput_ratio",
)


def _measure(
    question: Question,
    agreement: dict[str, Any],
    urls: dict[str, str],
    pools: dict[str, urllib3.HTTPConnectionPool],
    settings: PeerSettings,
) -> QuestionFigures:
    """One question's latencies on every side, interleaved, then its bursts (Q1 and Q2)."""
    variants = [
        Variant(side, graphql_sender(question.requests[side], pools[side])) for side in SIDES
    ]
    latency = QueryLatency(
        question.key,
        question.label,
        sample(variants, settings.warmup, settings.rounds, settings.per_round),
    )
    bursts = (
        _bursts(
            question,
            urls,
            clients=settings.clients,
            requests=settings.throughput_requests,
            seconds=settings.throughput_seconds,
            rounds=settings.throughput_rounds,
        )
        if question.throughput
        else {}
    )
    return QuestionFigures(question, agreement, latency, bursts)


def measure_peer(
    connection: Connection,
    *,
    alias: str,
    events: int,
    trailql_url: str,
    trailql_headers: dict[str, str],
    settings: PeerSettings,
) -> dict[str, Any]:
    """The peer measure on ``alias`` (``events`` events), TrailQL served at ``trailql_url``.

    Every question's answers are checked first (the run stops if any disagree), then each
    is measured. Returns the figures for results.json, the headline ratios among them.
    """
    started = time.perf_counter()
    version = _installed_version()
    node, node_version = _node()
    raw_headers = elasticsearch_headers(connection)
    bounds = timeline_bounds(alias, raw_headers, connection_pool(connection.hosts[0]))
    asked = questions(alias, trailql_headers, raw_headers, bounds)
    with peer_serving(connection, alias, node) as peer:
        urls = {"trailql": trailql_url, "peer": peer.url, "raw": connection.hosts[0]}
        pools = {side: connection_pool(url) for side, url in urls.items()}
        agreements = [check_agreement(question, pools) for question in asked]
        measured = []
        for question, agreement in zip(asked, agreements, strict=True):
            one = _measure(question, agreement, urls, pools, settings)
            _print(one, settings.clients)
            measured.append(one)
    by_key = {one.question.key: one for one in measured}
    results: dict[str, Any] = {
        "peer": f"{PEER_PACKAGE} {version}",
        "node": node_version,
        "events": events,
        "timeline_bounds": bounds,
        "questions": {one.question.key: one.as_dict() for one in measured},
        "seconds": round(time.perf_counter() - started, 1),
    }
    for key in ("q1", "q2", "q3"):
        results[f"peer_{key}_p50_ratio"] = round(by_key[key].p50_ratio("trailql", "peer"), 3)
    for key in ("q1", "q2"):
        results[f"peer_{key}_throughput_ratio"] = round(
            by_key[key].throughput_ratio("trailql", "peer"), 3
        )
    return results


def _print(one: QuestionFigures, clients: int) -> None:
    p50 = {side: one.latency.latency(side).p50 for side in SIDES}
    line = (
        f"  {one.question.label}: agree ({one.agreement['total']:,} events); p50 TrailQL "
        f"{p50['trailql']:.2f} ms, peer {p50['peer']:.2f}, raw {p50['raw']:.2f} "
        f"(TrailQL ÷ peer x{one.p50_ratio('trailql', 'peer'):.2f})"
    )
    if one.bursts:
        line += (
            f"; {clients} clients: TrailQL {one.per_second('trailql'):,.0f} req/s, "
            f"peer {one.per_second('peer'):,.0f}, raw {one.per_second('raw'):,.0f}"
        )
    print(line, flush=True)
