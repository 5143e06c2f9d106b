"""Elasticsearch's refusals of what a caller asked are the caller's errors, not INTERNAL;
a request past its time budget is stopped and says so.
"""

from __future__ import annotations

import pytest
from elasticsearch import ApiError
from graphql import GraphQLError
from starlette.testclient import TestClient

from api.app import create_app
from api.errors import with_code
from api.settings import ApiSettings


def _refused_by_elasticsearch(es, alias, query) -> ApiError:
    with pytest.raises(ApiError) as refused:
        es.search(index=alias, query=query, size=0)
    return refused.value


@pytest.mark.parametrize(
    ("query", "code"),
    [
        (  # the automaton of a long case-insensitive pattern
            {
                "wildcard": {
                    "userAgent": {"value": "*" + "ab" * 1500 + "*", "case_insensitive": True}
                }
            },
            "BAD_USER_INPUT",
        ),
        (  # more boolean clauses than Elasticsearch allows
            {"bool": {"should": [{"term": {"eventName": f"E{i}"}} for i in range(20_000)]}},
            "QUERY_TOO_COSTLY",
        ),
    ],
)
def test_elasticsearch_refusing_a_search_is_the_callers_error(es, samples_alias, query, code):
    refusal = _refused_by_elasticsearch(es, samples_alias[0], query)
    answered = with_code(GraphQLError("failed", original_error=refusal))
    assert answered.extensions == {"code": code}
    assert "Elasticsearch" in answered.message
    assert samples_alias[0] not in answered.message  # index names stay ours


def test_a_request_past_its_time_budget_is_stopped_with_timeout(es_connection, samples_alias):
    settings = ApiSettings(request_timeout=1e-6)  # no search fits in a microsecond
    with TestClient(create_app(es_connection, samples_alias[0], settings)) as client:
        body = client.post("/graphql", json={"query": "{ events { totalCount } }"}).json()
    assert body["data"] is None
    assert [error["extensions"]["code"] for error in body["errors"]] == ["TIMEOUT"]
    assert "time budget" in body["errors"][0]["message"]
