"""The peer measure's three questions: how each side is asked, and how its answers compare.

Each question is asked of TrailQL (its GraphQL), of the peer (graphql-compose-elasticsearch's
GraphQL, whose inputs are Elasticsearch's own query DSL) and of Elasticsearch directly (one
hand-written search, what a client without GraphQL would send):

- Q1: the newest 100 CloudWatch Logs events, with how many there are;
- Q2: how many, their ten most frequent eventNames, and an hourly timeline;
- Q3: the newest 100 writes in two regions by assumed roles, with how many there are.

Each answer is read down to what must agree: the total and the eventIDs in order; the count,
the terms buckets and the timeline buckets. Anything else may differ by design (the peer
answers ``_source`` as stored; TrailQL types and derives fields).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

import orjson
import urllib3

from bench.client import Request, graphql_data, graphql_request
from bench.prepared import GRAPHQL_PATH
from bench.query_set import EVENT_SELECTION, EVENTS_FILTER

#: The three targets, in the order they are sampled first.
SIDES = ("trailql", "peer", "raw")

PAGE_SIZE = 100
TERMS_SIZE = 10
#: Q1 and Q2's filter.
SOURCES_FILTER = {"eventSource": ["logs.amazonaws.com"]}
#: The Elasticsearch field each filter key of the questions names.
_FILTER_FIELDS = {
    "eventSource": "eventSource",
    "awsRegion": "awsRegion",
    "userIdentityType": "userIdentity.type",
    "readOnly": "readOnly",
}
#: EVENT_SELECTION less ``principal``: TrailQL works it out from userIdentity as it answers
#: and it is not in the stored ``_source``, so the peer has nothing to read it from.
PEER_SELECTION = " ".join(word for word in EVENT_SELECTION.split() if word != "principal")
#: What the peer asks Elasticsearch for when Q1 or Q3 selects PEER_SELECTION; the raw side
#: asks for the same.
_SOURCE_FIELDS = [
    "eventID",
    "eventTime",
    "eventName",
    "eventSource",
    "awsRegion",
    "sourceIPAddress",
    "userAgent",
    "errorCode",
    "readOnly",
    "userIdentity.type",
    "userIdentity.arn",
    "userIdentity.accountId",
    "requestParameters",
]

TRAILQL_PAGE = (
    """
query Page($first: Int!, $filter: EventFilter) {
  events(first: $first, filter: $filter) {
    totalCount
    nodes {"""
    + EVENT_SELECTION
    + """}
  }
}
"""
)
TRAILQL_STATS = f"""
query Stats($filter: EventFilter) {{
  eventStats(filter: $filter) {{
    count
    terms(field: EVENT_NAME, size: {TERMS_SIZE}) {{ key count }}
    timeline(interval: HOUR) {{ buckets {{ start count }} }}
  }}
}}
"""
PEER_PAGE = (
    """
query Page($query: EsQuery, $first: Int) {
  events(
    query: $query, sort: [eventTime__desc, eventID__desc], limit: $first,
    opts: { trackTotalHits: true }
  ) {
    count
    hits { _source {"""
    + PEER_SELECTION
    + """} }
  }
}
"""
)
PEER_STATS = """
query Stats($query: EsQuery, $aggs: [EsAggBlock]) {
  events(query: $query, aggs: $aggs, limit: 0, opts: { trackTotalHits: true }) {
    count
    aggregations
  }
}
"""
#: Newest first, eventID breaking ties: TrailQL's order for events.
_SORT = [{"eventTime": {"order": "desc"}}, {"eventID": {"order": "desc"}}]


@dataclass(frozen=True)
class Answer:
    """What must agree between the sides: a page's total and eventIDs, or the statistics."""

    total: int
    event_ids: tuple[str, ...] = ()
    terms: tuple[tuple[str, int], ...] = ()
    timeline: tuple[tuple[int, int], ...] = ()  # (start, epoch milliseconds; count)


Reader = Callable[[bytes], Answer]


@dataclass(frozen=True)
class Question:
    """One question, as each side is asked it, and how each side's answer is read."""

    key: str  # q1, q2, q3
    label: str
    requests: dict[str, Request]  # by side
    readers: dict[str, Reader]  # by side
    throughput: bool  # measured with many clients too


def _clauses(event_filter: dict[str, Any], *, peer: bool) -> list[dict[str, Any]]:
    """The filter as Elasticsearch filter clauses; the peer names ``a.b`` as ``a__b``."""
    clauses: list[dict[str, Any]] = []
    for key, value in event_filter.items():
        field = _FILTER_FIELDS[key].replace(".", "__") if peer else _FILTER_FIELDS[key]
        if isinstance(value, list):
            clauses.append({"terms": {field: value}})
        else:
            clauses.append({"term": {field: {"value": value}}})
    return clauses


def _query(event_filter: dict[str, Any], *, peer: bool) -> dict[str, Any]:
    return {"bool": {"filter": _clauses(event_filter, peer=peer)}}


def _aggregations(bounds: dict[str, int]) -> dict[str, Any]:
    """Q2's aggregations, asked as TrailQL asks them (same order, same shard_size)."""
    return {
        "names": {
            "terms": {
                "field": "eventName",
                "size": TERMS_SIZE,
                "shard_size": TERMS_SIZE * 5 + 100,
                "order": [{"_count": "desc"}, {"_key": "asc"}],
            }
        },
        "timeline": {
            "date_histogram": {
                "field": "eventTime",
                "fixed_interval": "1h",
                "min_doc_count": 0,
                "extended_bounds": bounds,
            }
        },
    }


def search_request(alias: str, body: dict[str, Any], headers: dict[str, str]) -> Request:
    """One search of ``alias``, sent to Elasticsearch as it is."""
    return Request(
        "POST",
        f"/{alias}/_search",
        orjson.dumps(body),
        {"content-type": "application/json", **headers},
    )


def timeline_bounds(
    alias: str, headers: dict[str, str], pool: urllib3.HTTPConnectionPool
) -> dict[str, int]:
    """The hourly timeline's range as TrailQL draws it without from/to.

    From the first to the last of the events Q2's filter matches (TrailQL closes an open
    range with their min and max), in epoch milliseconds (``max`` inclusive), as
    Elasticsearch's ``extended_bounds`` takes it.
    """
    edges = {"first": {"min": {"field": "eventTime"}}, "last": {"max": {"field": "eventTime"}}}
    body = {"size": 0, "query": _query(SOURCES_FILTER, peer=False), "aggs": edges}
    answer = orjson.loads(search_request(alias, body, headers).send(pool))["aggregations"]
    return {"min": int(answer["first"]["value"]), "max": int(answer["last"]["value"])}


def _epoch_ms(text: str) -> int:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


def _trailql_page(answer: bytes) -> Answer:
    events = graphql_data(answer)["events"]
    return Answer(events["totalCount"], tuple(node["eventID"] for node in events["nodes"]))


def _peer_page(answer: bytes) -> Answer:
    events = graphql_data(answer)["events"]
    return Answer(events["count"], tuple(hit["_source"]["eventID"] for hit in events["hits"]))


def _raw_page(answer: bytes) -> Answer:
    hits = orjson.loads(answer)["hits"]
    return Answer(hits["total"]["value"], tuple(hit["_source"]["eventID"] for hit in hits["hits"]))


def _trailql_stats(answer: bytes) -> Answer:
    stats = graphql_data(answer)["eventStats"]
    return Answer(
        stats["count"],
        terms=tuple((bucket["key"], bucket["count"]) for bucket in stats["terms"]),
        timeline=tuple(
            (_epoch_ms(bucket["start"]), bucket["count"]) for bucket in stats["timeline"]["buckets"]
        ),
    )


def _elasticsearch_stats(total: int, aggregations: dict[str, Any]) -> Answer:
    return Answer(
        total,
        terms=tuple(
            (bucket["key"], bucket["doc_count"]) for bucket in aggregations["names"]["buckets"]
        ),
        timeline=tuple(
            (bucket["key"], bucket["doc_count"]) for bucket in aggregations["timeline"]["buckets"]
        ),
    )


def _peer_stats(answer: bytes) -> Answer:
    events = graphql_data(answer)["events"]
    return _elasticsearch_stats(events["count"], events["aggregations"])


def _raw_stats(answer: bytes) -> Answer:
    document = orjson.loads(answer)
    return _elasticsearch_stats(document["hits"]["total"]["value"], document["aggregations"])


def questions(
    alias: str, trailql_headers: dict[str, str], raw_headers: dict[str, str], bounds: dict[str, int]
) -> list[Question]:
    """Q1, Q2 and Q3 as TrailQL, the peer and Elasticsearch are asked them."""

    def raw(body: dict[str, Any]) -> Request:
        return search_request(alias, body, raw_headers)

    def page(key: str, label: str, event_filter: dict[str, Any], *, throughput: bool) -> Question:
        return Question(
            key,
            label,
            {
                "trailql": graphql_request(
                    GRAPHQL_PATH,
                    TRAILQL_PAGE,
                    {"first": PAGE_SIZE, "filter": event_filter},
                    trailql_headers,
                ),
                "peer": graphql_request(
                    GRAPHQL_PATH,
                    PEER_PAGE,
                    {"first": PAGE_SIZE, "query": _query(event_filter, peer=True)},
                    {},
                ),
                "raw": raw(
                    {
                        "query": _query(event_filter, peer=False),
                        "sort": _SORT,
                        "size": PAGE_SIZE,
                        "track_total_hits": True,
                        "_source": _SOURCE_FIELDS,
                    }
                ),
            },
            {"trailql": _trailql_page, "peer": _peer_page, "raw": _raw_page},
            throughput=throughput,
        )

    aggregations = _aggregations(bounds)
    stats = Question(
        "q2",
        "Q2 eventStats (count, terms, hourly timeline)",
        {
            "trailql": graphql_request(
                GRAPHQL_PATH, TRAILQL_STATS, {"filter": SOURCES_FILTER}, trailql_headers
            ),
            "peer": graphql_request(
                GRAPHQL_PATH,
                PEER_STATS,
                {
                    "query": _query(SOURCES_FILTER, peer=True),
                    "aggs": [{"key": key, "value": value} for key, value in aggregations.items()],
                },
                {},
            ),
            "raw": raw(
                {
                    "query": _query(SOURCES_FILTER, peer=False),
                    "size": 0,
                    "track_total_hits": True,
                    "aggs": aggregations,
                }
            ),
        },
        {"trailql": _trailql_stats, "peer": _peer_stats, "raw": _raw_stats},
        throughput=True,
    )
    return [
        page("q1", "Q1 events(first: 100, eventSource)", SOURCES_FILTER, throughput=True),
        stats,
        page("q3", "Q3 events(first: 100, filter)", EVENTS_FILTER, throughput=False),
    ]


def difference(expected: Answer, found: Answer) -> str | None:
    """The first thing that differs between two answers, in words; None if they agree."""
    for part in fields(Answer):
        mine, theirs = getattr(expected, part.name), getattr(found, part.name)
        if mine == theirs:
            continue
        if isinstance(mine, tuple):
            at = next(
                (n for n, (a, b) in enumerate(zip(mine, theirs, strict=False)) if a != b),
                min(len(mine), len(theirs)),
            )
            return (
                f"{part.name} differ at item {at} of {len(mine)} and {len(theirs)}: "
                f"{mine[at] if at < len(mine) else 'none'} against "
                f"{theirs[at] if at < len(theirs) else 'none'}"
            )
        return f"{part.name} {mine} against {theirs}"
    return None


class DisagreementError(RuntimeError):
    """The sides answered one question differently: the run stops."""


def agreed(label: str, answers: dict[str, Answer]) -> Answer:
    """TrailQL's answer, once the peer's and the raw one are found to be the same."""
    trailql = answers["trailql"]
    for side in ("peer", "raw"):
        found = difference(trailql, answers[side])
        if found is not None:
            raise DisagreementError(
                f"{label}: the {side}'s answer does not agree with TrailQL's: {found} "
                f"(TrailQL's first, then the {side}'s)"
            )
    if trailql.total == 0:
        raise DisagreementError(
            f"{label} matches no event: agreeing on nothing would prove nothing"
        )
    return trailql


def check_agreement(
    question: Question, pools: dict[str, urllib3.HTTPConnectionPool]
) -> dict[str, Any]:
    """Ask each side once; stop the run unless the three answers agree."""
    answers = {
        side: question.readers[side](question.requests[side].send(pools[side])) for side in SIDES
    }
    answer = agreed(question.label, answers)
    return {
        "total": answer.total,
        "events": len(answer.event_ids),
        "terms_buckets": len(answer.terms),
        "timeline_buckets": len(answer.timeline),
    }
