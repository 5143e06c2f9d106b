"""Plans complete results exactly as graphql-core does, byte for byte.

A seeded generator writes documents over the whole schema the plans cover: every Event field
(nested objects, lists, dates, booleans, JSON, principal, record), connections, edges and
page info, every statistic down several levels, with aliases (merging and not), named and
inline fragments, __typename, and @skip/@include on literals and on variables. Each document
is answered by the same executor with plans and without, over the samples and over a file of
records whose values are not what the schema expects (where a plan must give way), and the
two answers (data and errors, with their paths) must encode to the same bytes.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from graphql import OperationType

from api.app import limits_from
from api.context import Context
from api.execution import Executor
from api.schema import FIELD_COSTS, schema
from api.settings import ApiSettings
from api.tenancy import EVERY_ACCOUNT
from common.elastic import Connection, async_client
from indexer.run import IndexSummary, index_sources
from schema import EVENT_FIELDS, Field, Kind

DOCUMENTS = 600
SEED = 20261130

STAT_FIELDS = ["EVENT_SOURCE", "EVENT_NAME", "AWS_REGION", "READ_ONLY", "ERROR_CODE", "PRINCIPAL"]
FILTERS = [
    None,
    '{eventSource: ["logs.amazonaws.com"]}',
    "{readOnly: false}",
    "{hasError: true}",
    '{not: {eventSource: ["ec2.amazonaws.com"]}}',
    '{from: "2020-01-01T00:00:00Z", to: "2023-01-01T00:00:00Z"}',
]

#: Records whose values are not what the schema expects: a plan must give way to graphql-core.
ODD_RECORDS: list[dict[str, Any]] = [
    {
        "eventID": "odd-resource-object",
        "eventTime": "2024-05-01T10:00:00Z",
        "eventSource": "logs.amazonaws.com",
        "eventName": "DeleteLogGroup",
        "userIdentity": {"type": "IAMUser", "sessionContext": None},
        "resources": {"ARN": "not a list"},
    },
    {
        "eventID": "odd-values",
        "eventTime": "2024-05-01T10:01:00Z",
        "eventSource": "logs.amazonaws.com",
        "eventName": 42,
        "eventVersion": 1.5,
        "readOnly": "perhaps",
        "managementEvent": 1,
        "requestParameters": "a bare string",
        "resources": [None, {"ARN": 7}],
        "userIdentity": {"type": ["IAMUser"], "sessionContext": {"attributes": []}},
    },
    {
        "eventID": "odd-nulls",
        "eventTime": "2024-05-01T10:02:00Z",
        "eventSource": None,
        "awsRegion": "",
        "tlsDetails": None,
        "errorCode": "",
    },
]


class Documents:
    """Random documents over the planned part of the schema, from one seed."""

    def __init__(self, rng: random.Random, event_ids: list[str]) -> None:
        self.rng = rng
        self.event_ids = event_ids
        self.fragments: list[str] = []
        self.switches: dict[str, bool] = {}
        self.aliases = 0

    def document(self) -> tuple[str, dict[str, Any]]:
        self.fragments, self.switches = [], {}
        roots = self._parts(self._root, self.rng.randint(1, 3))
        definitions = ", ".join(f"${name}: Boolean!" for name in self.switches)
        head = f"query Generated({definitions})" if definitions else "query Generated"
        body = f"{head} {{ {roots} }}"
        return " ".join([body, *self.fragments]), dict(self.switches)

    def _alias(self, name: str) -> str:
        """A field without arguments: often its name, sometimes an alias (maybe repeated)."""
        roll = self.rng.random()
        if roll < 0.15:
            return f"a{self.rng.randint(0, 3)}_{name}: {name}"
        return name

    def _unique(self, name: str) -> str:
        """A field with arguments: an alias of its own, since same-named ones would conflict."""
        self.aliases += 1
        return f"{name}{self.aliases}: {name}"

    def _parts(self, make_part, count: int) -> str:
        """``count`` parts, sometimes one written twice (GraphQL merges the two)."""
        parts = [make_part() for _ in range(count)]
        if parts and self.rng.random() < 0.2:
            parts.append(self.rng.choice(parts))
        return " ".join(parts)

    def _directive(self) -> str:
        roll = self.rng.random()
        if roll < 0.06:
            return f" @skip(if: {self.rng.choice(['true', 'false'])})"
        if roll < 0.12:
            switch = f"s{self.rng.randint(0, 2)}"
            self.switches[switch] = self.rng.random() < 0.5
            kind = self.rng.choice(["include", "skip"])
            return f" @{kind}(if: ${switch})"
        return ""

    def _root(self) -> str:
        kind = self.rng.choice(["events", "events", "eventStats", "eventStats", "event"])
        name = self._unique(kind)
        if kind == "event":
            event_id = self.rng.choice([*self.event_ids, "no-such-event"])
            return f'{name}(id: "{event_id}") {{ {self._event(3)} }}'
        chosen = self.rng.choice(FILTERS)
        filter_argument = f"filter: {chosen}" if chosen else ""
        if kind == "events":
            first = self.rng.choice([0, 1, 3, 7, 20])
            order = self.rng.choice(["", "orderBy: {direction: ASC}"])
            arguments = ", ".join(a for a in (f"first: {first}", filter_argument, order) if a)
            return f"{name}({arguments}) {{ {self._connection()} }}"
        arguments = f"({filter_argument})" if filter_argument else ""
        return f"{name}{arguments} {{ {self._stats(3)} }}"

    def _connection(self) -> str:
        return self._maybe_fragment(
            self._parts(self._connection_part, self.rng.randint(1, 4)), "EventConnection"
        )

    def _connection_part(self) -> str:
        choice = self.rng.choice(["nodes", "edges", "pageInfo", "totalCount", "__typename"])
        if choice == "nodes":
            return f"{self._alias('nodes')}{self._directive()} {{ {self._event(3)} }}"
        if choice == "edges":
            edge = self.rng.choice(["cursor", "node", "__typename"])
            if edge == "node":
                edge = f"node {{ {self._event(3)} }}"
            return f"{self._alias('edges')} {{ cursor {edge} }}"
        if choice == "pageInfo":
            fields = self.rng.sample(
                ["hasNextPage", "hasPreviousPage", "startCursor", "endCursor", "__typename"],
                self.rng.randint(1, 3),
            )
            return f"pageInfo {{ {' '.join(fields)} }}"
        return f"{self._alias(choice)}{self._directive()}"

    def _event(self, depth: int) -> str:
        return self._object_fields(EVENT_FIELDS, "Event", depth, extra=["principal", "record"])

    def _object_fields(
        self, fields: tuple[Field, ...], type_name: str, depth: int, extra: list[str] | None = None
    ) -> str:
        names = [field.name for field in fields] + (extra or []) + ["__typename"]
        chosen = self.rng.sample(names, self.rng.randint(1, min(6, len(names))))
        parts = []
        for name in chosen:
            field = next((f for f in fields if f.name == name), None)
            if field is not None and field.kind is Kind.OBJECT:
                if depth <= 0:
                    continue
                inner = self._object_fields(field.children, field.type_name, depth - 1)
                parts.append(f"{self._alias(name)}{self._directive()} {{ {inner} }}")
            else:
                parts.append(f"{self._alias(name)}{self._directive()}")
        return self._maybe_fragment(" ".join(parts) or "__typename", type_name)

    def _stats(self, depth: int) -> str:
        return self._maybe_fragment(
            self._parts(lambda: self._statistic(depth), self.rng.randint(1, 4)), "EventStats"
        )

    def _statistic(self, depth: int) -> str:
        kind = self.rng.choice(["count", "errorRate", "distinct", "terms", "timeline"])
        field = self.rng.choice(STAT_FIELDS)
        if kind in ("count", "errorRate"):
            return f"{self._alias(kind)}{self._directive()}"
        if kind == "distinct":
            return f"{self._unique('distinct')}(field: {field})"
        if kind == "terms":
            size = self.rng.choice([1, 3, 10])
            drill = f" stats {{ {self._stats(depth - 1)} }}" if depth > 0 else ""
            return f"{self._unique('terms')}(field: {field}, size: {size}) {{ key count{drill} }}"
        interval = self.rng.choice(["AUTO", "MONTH", "WEEK"])
        split = self.rng.random() < 0.4
        by = f", field: {field}, size: 2" if split else ""
        groups = " groups { key count __typename }" if split else ""
        bucket = self.rng.choice(["start count", "count", "start", "__typename start"])
        return (
            f"{self._unique('timeline')}(interval: {interval}{by}) "
            f"{{ interval buckets {{ {bucket}{groups} }} }}"
        )

    def _maybe_fragment(self, selection: str, type_name: str) -> str:
        roll = self.rng.random()
        if roll < 0.15:
            name = f"F{len(self.fragments)}"
            self.fragments.append(f"fragment {name} on {type_name} {{ {selection} }}")
            return f"...{name}"
        if roll < 0.25:
            return f"... on {type_name} {{ {selection} }}"
        return selection


def _answers(connection: Connection, alias: str, documents: list[tuple[str, dict[str, Any]]]):
    async def run() -> list[tuple[bytes, bytes]]:
        client = async_client(connection)
        limits = limits_from(ApiSettings())
        planned = Executor(schema, limits, FIELD_COSTS, time_budget=60, use_plans=True)
        standard = Executor(schema, limits, FIELD_COSTS, time_budget=60, use_plans=False)
        pairs = []
        try:
            for query, variables in documents:
                answers = []
                for executor in (planned, standard):
                    context = Context(client, alias, EVERY_ACCOUNT, limits=limits)
                    result = await executor.execute(
                        query, variables, None, context, frozenset({OperationType.QUERY})
                    )
                    errors = [error.formatted for error in result.errors or []]
                    answers.append(orjson.dumps({"data": result.data, "errors": errors}))
                pairs.append((answers[0], answers[1]))
        finally:
            await client.close()
        return pairs

    return asyncio.run(run())


@pytest.fixture(scope="module")
def odd_alias(es, tmp_path_factory) -> Iterator[str]:
    folder: Path = tmp_path_factory.mktemp("odd")
    with gzip.open(folder / "odd.json.gz", "wt") as trail:
        json.dump({"Records": ODD_RECORDS}, trail)
    alias = "trailql-test-odd-values"
    summary = index_sources([str(folder)], client=es, alias=alias)
    assert summary.indexed == len(ODD_RECORDS)
    yield alias
    for index in es.indices.get(index=f"{alias}-*"):
        es.indices.delete(index=index)
    es.indices.delete_index_template(name=alias)


def test_plans_answer_generated_documents_as_graphql_core_does(
    es_connection: Connection,
    samples_alias: tuple[str, IndexSummary],
    sample_records: list[dict[str, Any]],
):
    rng = random.Random(SEED)  # noqa: S311  reproducible documents, not secrets
    event_ids = [record["eventID"] for record in rng.sample(sample_records, 20)]
    generator = Documents(rng, event_ids)
    documents = [generator.document() for _ in range(DOCUMENTS)]
    pairs = _answers(es_connection, samples_alias[0], documents)
    differing = [
        doc
        for doc, (planned, standard) in zip(documents, pairs, strict=True)
        if planned != standard
    ]
    assert differing == [], f"{len(differing)} of {DOCUMENTS} differ; the first: {differing[0]}"
    answered = [planned for planned, _ in pairs if b'"data":null' not in planned]
    assert len(answered) > DOCUMENTS * 0.9  # the generator writes documents that run


def test_plans_give_way_on_values_the_schema_does_not_expect(es_connection, odd_alias):
    rng = random.Random(SEED + 1)  # noqa: S311
    generator = Documents(rng, [record["eventID"] for record in ODD_RECORDS])
    documents = [generator.document() for _ in range(200)]
    pairs = _answers(es_connection, odd_alias, documents)
    assert [doc for doc, (a, b) in zip(documents, pairs, strict=True) if a != b] == []
    errors = [planned for planned, _ in pairs if b'"errors":[{' in planned]
    assert errors  # field errors, with their paths, were part of what was compared
