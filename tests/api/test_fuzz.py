"""schemathesis fuzzes every query field of the running API: no answer is a server error.

The API runs under uvicorn on a loopback port over the indexed samples, configured through
the environment as ``trailql serve`` is, with authentication on and a tenant's API key, so
the fuzzed queries pass the tenant filter too. The number of examples is bounded and the
generation derandomized (seeded from the test): the same queries on every run.

schemathesis' pytest loader (``schemathesis.pytest.from_fixture``) reads a node attribute
pytest 9 no longer has, so the cases come from its Python API instead: each operation's
Hypothesis strategy, run by Hypothesis' ``given`` inside the test. Its GraphQL check counts
an error as the client's only when its code is one Apollo uses, so ``INVALID_CURSOR`` would
count as the server's: the test checks the HTTP status and TrailQL's own codes instead.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Ok

from api.errors import ErrorCode
from common.elastic import Connection
from indexer.run import IndexSummary
from tests.live import serving

EXAMPLES_PER_FIELD = 30
#: What a fuzzed query may be answered with: the client's mistakes, never the server's.
CLIENT_CODES = {code.value for code in ErrorCode} - {"INTERNAL", "UPSTREAM_UNAVAILABLE"}


@pytest.fixture(scope="module")
def served(
    es_connection: Connection, samples_alias: tuple[str, IndexSummary], keys
) -> Iterator[str]:
    """The API as ``trailql serve`` runs it, configured through the environment.

    The environment is changed only while the server starts: the module's other tests get
    the suite's own (authentication off).
    """
    with ExitStack() as stack:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("TRAILQL_AUTH_DISABLED", "false")
            patch.setenv("TRAILQL_API_KEYS", keys.lines)
            url = stack.enter_context(serving(es_connection, samples_alias[0]))
        yield url


def _fuzz(operation: Any, headers: dict[str, str], statuses: Counter[int]) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_FIELD,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    def answers_without_a_server_error(case: Any) -> None:
        response = case.call(headers=headers, timeout=30)
        statuses[response.status_code] += 1
        assert response.status_code < 500, response.text
        body = response.json()
        assert "data" in body or "errors" in body, body
        for error in body.get("errors") or []:
            assert error["extensions"]["code"] in CLIENT_CODES, error

    answers_without_a_server_error()


def test_no_fuzzed_query_is_a_server_error(served, keys):
    headers = {"X-API-Key": keys.sigma}
    schema = schemathesis.graphql.from_url(served, headers=headers, timeout=30)
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operations.append(result.ok())
    labels = sorted(operation.label for operation in operations)
    assert labels == [
        "Mutation.updateFindingStatus",
        "Query.event",
        "Query.eventStats",
        "Query.events",
        "Query.finding",
        "Query.findingStats",
        "Query.findings",
        "Query.integrity",
        "Query.logGroup",
        "Query.logGroups",
        "Query.rules",
    ]
    statuses: Counter[int] = Counter()
    for operation in operations:
        _fuzz(operation, headers, statuses)
    assert set(statuses) == {200}
    assert statuses[200] >= len(operations)


def test_what_fuzzing_found_an_empty_event_id_is_null_not_an_internal_error(samples_api):
    # Elasticsearch refuses an ids query with an empty id; the API answered INTERNAL.
    response = samples_api.post("/graphql", json={"query": '{ event(id: "") { eventID } }'})
    assert response.json()["data"] == {"event": None}
    assert "errors" not in response.json()
