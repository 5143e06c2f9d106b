"""Each data set made ready for the query measures: indexed, its facts found, requests captured.

For every query of the set this holds the GraphQL request a client sends and the exact
Elasticsearch requests the resolvers make for it (see :mod:`bench.capture`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from bench.capture import Capture, capturing
from bench.client import Request, graphql_request
from bench.cluster import Aliases
from bench.datasets import TrailFolder
from bench.query_set import (
    BUSIEST_LOG_GROUP,
    CURSOR_PAGE,
    DEEP_PAGE,
    NEWEST_EVENT,
    QUERY_FIELDS,
    THROUGHPUT_QUERIES,
    BenchQuery,
    DataSetFacts,
    query_set,
)
from common.elastic import Connection
from indexer.run import index_sources

GRAPHQL_PATH = "/graphql"


@dataclass(frozen=True)
class CapturedQuery:
    """One query on one data set: the GraphQL request, and the raw requests behind it."""

    graphql: Request
    raw: list[Request]

    @property
    def searches(self) -> int:
        """How many searches the raw requests make (what the API reports it made).

        An ``_msearch`` makes one per pair of lines (a header, a body) of its NDJSON body.
        """
        return sum(_searches_in(request) for request in self.raw)


def _searches_in(request: Request) -> int:
    path = request.target.split("?", 1)[0]
    if path.endswith("/_msearch"):
        return (request.body or b"").count(b"\n") // 2
    return 1 if "/_search" in path else 0


@dataclass
class PreparedDataSet:
    """One data set, indexed behind its alias, with every query captured."""

    name: str  # "small" or "large"
    events: int
    alias: str
    facts: DataSetFacts
    has_log_group: bool
    queries: dict[str, CapturedQuery] = field(default_factory=dict)


def index_data_set(aliases: Aliases, name: str, trail: TrailFolder, *, request_cache: bool) -> str:
    """Index a generated trail behind a fresh alias (not a measure; its rate is printed)."""
    alias = aliases.new(f"q-{name}")
    started = time.perf_counter()
    summary = index_sources([str(trail.root)], client=aliases.client, alias=alias)
    if not summary.clean or summary.indexed != trail.events:
        raise RuntimeError(f"the {name} data set did not index cleanly: {summary}")
    seconds = time.perf_counter() - started
    print(f"  indexed the {name} data set: {trail.events:,} events in {seconds:.0f} s", flush=True)
    if not request_cache:
        # Measure each query's work, not the shard request cache answering a repeat: on the
        # months and on every index beside them (hourly counts answer statistics too).
        aliases.client.indices.put_settings(
            index=f"{alias}-*,{alias}_*", settings={"index.requests.cache.enable": False}
        )
    return alias


def _run(capture: Capture, query: str, headers: dict[str, str], **variables: Any) -> dict[str, Any]:
    data, _ = capture.requests_of(graphql_request(GRAPHQL_PATH, query, variables, headers))
    return data


def has_log_group_query(capture: Capture, headers: dict[str, str]) -> bool:
    """Whether the schema being measured has ``logGroup`` (another area adds it)."""
    fields = _run(capture, QUERY_FIELDS, headers)["__schema"]["queryType"]["fields"]
    return any(field["name"] == "logGroup" for field in fields)


def _facts(
    capture: Capture, headers: dict[str, str], *, events: int, log_group: bool
) -> DataSetFacts:
    pages = max(1, min(DEEP_PAGE, events // 100 - 1))
    cursor: str | None = None
    for _ in range(pages):
        page = _run(capture, CURSOR_PAGE, headers, after=cursor)["events"]["pageInfo"]
        cursor = page["endCursor"]
    busiest = None
    if log_group:
        terms = _run(capture, BUSIEST_LOG_GROUP, headers)["eventStats"]["terms"]
        busiest = terms[0]["key"] if terms else None
    newest = _run(capture, NEWEST_EVENT, headers)["events"]["nodes"]
    return DataSetFacts(
        deep_cursor=cursor,
        deep_page=pages,
        busiest_log_group=busiest,
        newest_event_time=newest[0]["eventTime"] if newest else None,
    )


def prepare_data_set(
    connection: Connection, name: str, events: int, alias: str, headers: dict[str, str]
) -> PreparedDataSet:
    """Find the data set's facts and capture every query's requests, through the real app."""
    with capturing(connection, alias) as capture:
        log_group = has_log_group_query(capture, headers)
        facts = _facts(capture, headers, events=events, log_group=log_group)
        prepared = PreparedDataSet(name, events, alias, facts, log_group)
        measured: list[BenchQuery] = [*query_set(with_log_group=log_group), *THROUGHPUT_QUERIES]
        for query in measured:
            graphql = graphql_request(GRAPHQL_PATH, query.text, query.variables(facts), headers)
            _, raw = capture.requests_of(graphql)
            prepared.queries[query.key] = CapturedQuery(graphql, raw)
    return prepared
