"""Every search is confined to the tenant's accounts, and nothing can reach past that."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from api.context import Context
from api.tenancy import (
    EVERY_ACCOUNT,
    NO_ACCOUNT,
    Tenant,
    UnconfinedSearchError,
    check_confined,
)
from common.elastic import Connection, async_client
from indexer.run import IndexSummary
from tests.api.credentials import SIGMA


def test_the_tenants_accounts_filter_wraps_the_query():
    tenant = Tenant(name="t", accounts=frozenset({"222222222222", "111111111111"}))
    query = {"term": {"eventName": "CreateLogGroup"}}
    assert tenant.restrict(query) == {
        "bool": {
            "must": [query],
            "filter": [{"terms": {"recipientAccountId": ["111111111111", "222222222222"]}}],
        }
    }
    assert tenant.restrict(None)["bool"]["must"] == [{"match_all": {}}]
    assert EVERY_ACCOUNT.restrict(query) is query


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        ({"body": {}}, "searches may not set ['body']"),
        ({"retriever": {}}, "searches may not set ['retriever']"),
        ({"aggs": {"all": {"global": {}}}}, "aggregation 'all' uses ['global']"),
        (
            {"aggs": {"a": {"terms": {"field": "x"}, "aggs": {"b": {"significant_terms": {}}}}}},
            "aggregation 'b' uses ['significant_terms']",
        ),
        (
            {"aggs": {"a": {"filter": {}, "aggregations": {"c": {"terms": {"min_doc_count": 0}}}}}},
            "aggregation 'c' lists unmatched values",
        ),
    ],
)
def test_searches_that_could_reach_past_their_query_are_refused(request_, message):
    with pytest.raises(UnconfinedSearchError) as raised:
        check_confined(request_)
    assert str(raised.value) == message


def test_the_resolvers_searches_are_all_confined():
    check_confined(
        {
            "query": {},
            "aggs": {"a": {"terms": {"field": "x"}, "aggs": {"b": {"date_histogram": {}}}}},
            "size": 0,
            "sort": [],
            "search_after": [1, "x"],
            "track_total_hits": True,
            "source": False,
        }
    )


async def _count(connection: Connection, alias: str, tenant: Tenant) -> Any:
    client = async_client(connection)
    try:
        context = Context(elasticsearch=client, alias=alias, tenant=tenant)
        response = await context.search(query=None, size=0, track_total_hits=True)
        return response["hits"]["total"]["value"]
    finally:
        await client.close()


@pytest.mark.parametrize(
    ("tenant", "expected"),
    [
        (EVERY_ACCOUNT, 3210),
        (Tenant(name="sigma", accounts=frozenset({SIGMA})), 2900),
        (NO_ACCOUNT, 0),
    ],
)
def test_a_context_searches_only_its_tenants_events(
    es_connection: Connection, samples_alias: tuple[str, IndexSummary], tenant, expected
):
    assert asyncio.run(_count(es_connection, samples_alias[0], tenant)) == expected
