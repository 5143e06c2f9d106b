"""Requests a hostile or careless caller sends, each with the answer it must get.

Shared by the hostile-request tests (which check each answer's status and codes) and the
benchmark (which times each and the health probe beside it). Every expected status and code
is written here by hand from what the request is, not from what the server answered.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

OK = frozenset[str]()
COSTLY = frozenset({"QUERY_TOO_COSTLY"})
INVALID = frozenset({"GRAPHQL_VALIDATION_FAILED"})
BAD_INPUT = frozenset({"BAD_USER_INPUT"})
BAD_REQUEST = frozenset({"BAD_REQUEST"})

PAGE = "events(first: 1) { nodes { ...F%d } }"


@dataclass(frozen=True)
class HostileRequest:
    """One request and the answer it must get: an HTTP status and the error codes allowed.

    Every error of the answer has one of ``codes``; with no codes, the answer has no error.
    """

    name: str
    kind: str
    status: int
    codes: frozenset[str]
    query: str | None = None
    variables: dict[str, Any] | None = None
    operation_name: Any = None
    #: Sent as the body instead of a JSON object of query/variables/operationName.
    raw_body: bytes | None = None
    method: str = "POST"
    chunked: bool = False
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> bytes:
        """What is sent as the POST body."""
        if self.raw_body is not None:
            return self.raw_body
        payload: dict[str, Any] = {"query": self.query}
        if self.variables is not None:
            payload["variables"] = self.variables
        if self.operation_name is not None:
            payload["operationName"] = self.operation_name
        return json.dumps(payload).encode()  # the standard library writes any integer


def doubling(levels: int, root: str = "events(first: 1) { nodes { ...F%d } }") -> str:
    """Fragment i spreads fragment i-1 twice: 2**levels copies of eventID when expanded."""
    fragments = ["fragment F0 on Event { eventID }"] + [
        f"fragment F{i} on Event {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, levels + 1)
    ]
    return "{ " + (root % levels) + " }\n" + "\n".join(fragments)


def _nested_filter(levels: int) -> dict[str, Any]:
    nested: dict[str, Any] = {"eventName": ["DeleteLogGroup"]}
    for _ in range(levels):
        nested = {"not": nested}
    return nested


def _filter_query(condition: str) -> str:
    return "{ events(first: 1, filter: %s) { totalCount } }" % condition


FILTERED = "query($f: EventFilter) { events(first: 1, filter: $f) { totalCount } }"
STATS = "query($f: EventFilter) { eventStats(filter: $f) { count } }"


def _cases() -> Iterator[HostileRequest]:  # noqa: PLR0915  one statement per case
    # Fragment explosion: every expansion is charged, so each is refused before it runs.
    for levels in (20, 39):
        yield HostileRequest(
            f"doubling fragments, {levels} levels", "explosion", 200, COSTLY, doubling(levels)
        )
    yield HostileRequest(
        "doubling fragments under a 500-event page",
        "explosion",
        200,
        COSTLY,
        doubling(12, "events(first: 500) { nodes { ...F%d } }"),
    )
    yield HostileRequest(
        "one fragment spread 1,500 times",
        "explosion",
        200,
        COSTLY,
        "{ events { nodes { " + "...F " * 1500 + "} } } fragment F on Event { eventID eventName }",
    )
    yield HostileRequest(
        "doubling fragments under 40 aliases",
        "explosion",
        200,
        COSTLY,
        "{ "
        + " ".join(f"a{i}: events(first: 1) {{ nodes {{ ...F16 }} }}" for i in range(40))
        + " }\n"
        + doubling(16).split("\n", 1)[1],
    )
    yield HostileRequest(
        "doubling through inline fragments",
        "explosion",
        200,
        COSTLY,
        "{ events(first: 1) { nodes { ... on Event { ...F30 ... on Event { ...F30 } } } } }\n"
        + doubling(30).split("\n", 1)[1],
    )
    # Fragment cycles: validation's to refuse; no limit walks them.
    yield HostileRequest(
        "two fragments spreading each other",
        "cycle",
        200,
        INVALID,
        "query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }",
    )
    yield HostileRequest(
        "a fragment spreading itself",
        "cycle",
        200,
        INVALID,
        "{ events { nodes { ...A } } } fragment A on Event { eventID ...A }",
    )
    yield HostileRequest(
        "a cycle through 50 fragments",
        "cycle",
        200,
        INVALID,
        "{ ...C0 } "
        + " ".join(f"fragment C{i} on Query {{ ...C{(i + 1) % 50} }}" for i in range(50)),
    )
    # Deeper than validation follows fragments (200 levels): refused as too complex.
    yield HostileRequest(
        "a cycle through 300 fragments",
        "cycle",
        200,
        COSTLY,
        "{ ...C0 } "
        + " ".join(f"fragment C{i} on Query {{ ...C{(i + 1) % 300} }}" for i in range(300)),
    )
    yield HostileRequest(
        "a spread of an unknown fragment",
        "cycle",
        200,
        INVALID,
        "{ events { nodes { ...Missing } } }",
    )
    # Depth through fragments.
    stats_level = "terms(field: EVENT_NAME, size: 1) { stats { %s } }"
    deep = "count"
    for _ in range(10):
        deep = stats_level % deep
    yield HostileRequest(
        "statistics 21 levels deep through fragments",
        "depth",
        200,
        COSTLY,
        "{ eventStats { ...S } } fragment S on EventStats { %s }" % deep,
    )
    yield HostileRequest(
        "selections nested 300 levels",
        "depth",
        200,
        COSTLY,
        "{ "
        + "eventStats { terms(field: EVENT_NAME) { stats { " * 100
        + "count"
        + " } } }" * 100
        + " }",
    )
    # Alias floods through fragments.
    yield HostileRequest(
        "an aliased fragment doubled 10 times",
        "aliases",
        200,
        COSTLY,
        "{ eventStats { ...A10 } } fragment A0 on EventStats { n: count } "
        + " ".join(
            f"fragment A{i} on EventStats {{ ...A{i - 1} ...A{i - 1} }}" for i in range(1, 11)
        ),
    )
    yield HostileRequest(
        "a fragment of 30 aliases under 3 aliases",
        "aliases",
        200,
        COSTLY,
        "{ x: eventStats { ...M } y: eventStats { ...M } z: eventStats { ...M } } "
        "fragment M on EventStats { " + " ".join(f"c{i}: count" for i in range(30)) + " }",
    )
    yield HostileRequest(
        "800 aliased searches",
        "aliases",
        200,
        COSTLY,
        "{ " + " ".join(f"a{i}: eventStats {{ count }}" for i in range(800)) + " }",
    )
    # Input nesting, in variables and in the document.
    yield HostileRequest(
        "a filter nested 3,000 levels in the body",
        "nesting",
        400,
        BAD_REQUEST,
        raw_body=b'{"query": "'
        + FILTERED.encode()
        + b'", "variables": {"f": '
        + b'{"not": ' * 3000
        + b"{}"
        + b"}" * 3000
        + b"}}",
    )
    yield HostileRequest(
        "a filter nested 40 levels in variables",
        "nesting",
        200,
        BAD_INPUT,
        FILTERED,
        {"f": _nested_filter(40)},
    )
    yield HostileRequest(
        "a filter nested 12 levels in variables",
        "nesting",
        200,
        BAD_INPUT,
        FILTERED,
        {"f": _nested_filter(12)},
    )
    yield HostileRequest(
        "a filter nested 300 levels in the document",
        "nesting",
        200,
        COSTLY,
        _filter_query("{not: " * 300 + "{}" + "}" * 300),
    )
    yield HostileRequest(
        "a filter nested 20 levels in the document",
        "nesting",
        200,
        BAD_INPUT,
        _filter_query("{not: " * 20 + "{}" + "}" * 20),
    )
    # Huge lists and strings.
    addresses = [f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}" for i in range(50_000)]
    yield HostileRequest(
        "50,000 source addresses",
        "size",
        200,
        BAD_INPUT,
        FILTERED,
        {"f": {"sourceIPAddress": addresses}},
    )
    yield HostileRequest(
        "1,001 event names",
        "size",
        200,
        BAD_INPUT,
        FILTERED,
        {"f": {"eventName": [f"Call{i}" for i in range(1001)]}},
    )
    yield HostileRequest(
        "a userAgent of 100,000 characters",
        "size",
        200,
        BAD_INPUT,
        FILTERED,
        {"f": {"userAgent": "Mozilla/5.0 " * 8334}},
    )
    yield HostileRequest(
        "a userAgent of 1,000 characters (a pattern)",
        "size",
        200,
        BAD_INPUT,
        FILTERED,
        {"f": {"userAgent": "a" * 1000}},
    )
    yield HostileRequest(
        "a 300 KB string literal in the document",
        "size",
        200,
        BAD_INPUT,
        _filter_query('{eventName: ["%s"]}' % ("x" * 300_000)),
    )
    yield HostileRequest(
        "a search text of 600 characters",
        "size",
        200,
        BAD_INPUT,
        FILTERED,
        {"f": {"search": "word " * 120}},
    )
    # Many clauses.
    yield HostileRequest(
        "or of 20,000 branches",
        "clauses",
        200,
        BAD_INPUT,
        FILTERED,
        {"f": {"or": [{"eventName": [f"C{i}"]} for i in range(20_000)]}},
    )
    yield HostileRequest(
        "or of 900 branches of 3 values",
        "clauses",
        200,
        BAD_INPUT,
        FILTERED,
        {"f": {"or": [{"eventName": [f"A{i}", f"B{i}", f"C{i}"]} for i in range(900)]}},
    )
    yield HostileRequest(
        "1,001 parameter conditions",
        "clauses",
        200,
        BAD_INPUT,
        FILTERED,
        {"f": {"requestParameters": [{"path": f"p{i}", "exists": True} for i in range(1001)]}},
    )
    yield HostileRequest(
        "or of 150 filters in variables",
        "clauses",
        200,
        BAD_INPUT,
        FILTERED,
        {"f": {"or": [{"eventName": [f"C{i}"]} for i in range(150)]}},
    )
    yield HostileRequest(
        "or of 150 filters in the document",
        "clauses",
        200,
        BAD_INPUT,
        _filter_query("{or: [%s]}" % ", ".join(f'{{eventName: ["C{i}"]}}' for i in range(150))),
    )
    # Long parameter paths.
    yield HostileRequest(
        "a parameter path of 100,000 characters",
        "paths",
        200,
        BAD_INPUT,
        FILTERED,
        {"f": {"requestParameters": [{"path": "a" * 100_000, "exists": True}]}},
    )
    yield HostileRequest(
        "a parameter path of 60 parts",
        "paths",
        200,
        BAD_INPUT,
        FILTERED,
        {"f": {"requestParameters": [{"path": ".".join(["a"] * 60), "exists": True}]}},
    )
    yield HostileRequest(
        "a parameter path with a wildcard",
        "paths",
        200,
        BAD_INPUT,
        FILTERED,
        {"f": {"requestParameters": [{"path": "tags.*", "exists": True}]}},
    )
    # Names OpenSearch's flat_object keeps for itself (every leaf's value; path=value pairs).
    for reserved in ("_value", "_valueAndPath"):
        yield HostileRequest(
            f"a parameter path named {reserved}",
            "paths",
            200,
            BAD_INPUT,
            FILTERED,
            {"f": {"responseElements": [{"path": reserved, "equals": "x"}]}},
        )
    # Wildcard-looking text is matched as text.
    yield HostileRequest(
        "a userAgent of wildcards",
        "wildcards",
        200,
        OK,
        FILTERED,
        {"f": {"userAgent": "*?" * 100}},
    )
    yield HostileRequest(
        "an event name of *",
        "wildcards",
        200,
        OK,
        FILTERED,
        {"f": {"eventName": ["*"]}},
    )
    yield HostileRequest(
        "a search of 60 prefixes",
        "wildcards",
        200,
        OK,
        FILTERED,
        {"f": {"search": " ".join(f"{chr(97 + i % 26)}*" for i in range(60))}},
    )
    # Huge integers.
    yield HostileRequest(
        "first: 10^20 in the document",
        "integers",
        200,
        INVALID,
        "{ events(first: 100000000000000000000) { totalCount } }",
    )
    yield HostileRequest(
        "first: 10^30 in variables",
        "integers",
        200,
        BAD_INPUT,
        "query($n: Int) { events(first: $n) { totalCount } }",
        {"n": 10**30},
    )
    yield HostileRequest(
        "first: -1",
        "integers",
        200,
        BAD_INPUT,
        "{ events(first: -1) { totalCount } }",
    )
    yield HostileRequest(
        "terms size 2^31-1",
        "integers",
        200,
        COSTLY,
        "{ eventStats { terms(field: EVENT_NAME, size: 2147483647) { key } } }",
    )
    yield HostileRequest(
        "a number past a double's range",
        "integers",
        400,
        BAD_REQUEST,
        raw_body=b'{"query": "query($n: Int) { events(first: $n) { totalCount } }", '
        b'"variables": {"n": 1e400}}',
    )
    # NUL and invalid UTF-8.
    yield HostileRequest(
        "invalid UTF-8 in the body",
        "encoding",
        400,
        BAD_REQUEST,
        raw_body=b'{"query": "{ events { totalCount } }", "x": "\xff\xfe"}',
    )
    yield HostileRequest(
        "a lone surrogate in a variable",
        "encoding",
        400,
        BAD_REQUEST,
        raw_body=b'{"query": "'
        + STATS.encode()
        + b'", "variables": {"f": {"eventName": ["\\ud800"]}}}',
    )
    yield HostileRequest(
        "NUL in the document",
        "encoding",
        200,
        INVALID,
        "{ events { totalCount } }\x00",
    )
    yield HostileRequest(
        "NUL in a filter value",
        "encoding",
        200,
        OK,
        STATS,
        {"f": {"eventName": ["a\x00b"]}},
    )
    # Batching.
    yield HostileRequest(
        "a batch of two operations",
        "batching",
        400,
        BAD_REQUEST,
        raw_body=orjson.dumps([{"query": "{ __typename }"}] * 2),
    )
    yield HostileRequest(
        "a batch of 10,000 operations",
        "batching",
        400,
        BAD_REQUEST,
        raw_body=orjson.dumps([{"query": "{ eventStats { count } }"}] * 10_000),
    )
    # Oversized bodies.
    yield HostileRequest(
        "a 2 MB body",
        "body",
        413,
        frozenset({"PAYLOAD_TOO_LARGE"}),
        raw_body=b'{"query": "{ __typename }", "pad": "' + b"x" * 2_000_000 + b'"}',
    )
    yield HostileRequest(
        "a 2 MB body without a length",
        "body",
        413,
        frozenset({"PAYLOAD_TOO_LARGE"}),
        raw_body=b'{"query": "{ __typename }", "pad": "' + b"x" * 2_000_000 + b'"}',
        chunked=True,
    )
    # Unknown or duplicate operations.
    yield HostileRequest(
        "an unknown operation name",
        "operations",
        200,
        BAD_INPUT,
        "query A { eventStats { count } }",
        operation_name="B",
    )
    yield HostileRequest(
        "two anonymous operations",
        "operations",
        200,
        INVALID,
        "{ eventStats { count } } { events { totalCount } }",
    )
    yield HostileRequest(
        "two operations of one name",
        "operations",
        200,
        INVALID,
        "query A { eventStats { count } } query A { events { totalCount } }",
        operation_name="A",
    )
    yield HostileRequest(
        "two operations and no name chosen",
        "operations",
        200,
        BAD_INPUT,
        "query A { eventStats { count } } query B { events { totalCount } }",
    )
    yield HostileRequest(
        "an operation name that is an object",
        "operations",
        400,
        BAD_REQUEST,
        "query A { eventStats { count } }",
        operation_name={"A": 1},
    )
    # Documents whose validation would take long.
    yield HostileRequest(
        "one field 4,990 times",
        "validation",
        200,
        COSTLY,
        "{ events { nodes { " + "eventID " * 4990 + "} } }",
    )
    yield HostileRequest(
        "550 fields of one name with different arguments",
        "validation",
        200,
        INVALID | COSTLY,
        "{ " + " ".join(f"events(first: {i}) {{ totalCount }}" for i in range(550)) + " }",
    )
    yield HostileRequest(
        "450 copies of a nested selection",
        "validation",
        200,
        COSTLY,
        "{ events { nodes { "
        + "userIdentity { sessionContext { sessionIssuer { arn } } } " * 450
        + "} } }",
    )
    yield HostileRequest(
        "400 overlapping fragments",
        "validation",
        200,
        COSTLY,
        "{ events { "
        + " ".join(f"...G{i}" for i in range(400))
        + " } } "
        + " ".join(
            f"fragment G{i} on EventConnection {{ nodes {{ eventID }} }}" for i in range(400)
        ),
    )
    yield HostileRequest(
        "6,000 tokens",
        "validation",
        200,
        COSTLY,
        "{ events { nodes { " + "eventID " * 6000 + "} } }",
    )


HOSTILE_REQUESTS: tuple[HostileRequest, ...] = tuple(_cases())
