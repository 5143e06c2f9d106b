"""Searches sent together (``_msearch``) answer exactly as each would alone.

A page of events and its exact total go to Elasticsearch in one round trip
(:meth:`api.context.Context.search_together`). Each must stay confined to the tenant's
accounts, be counted, and fail as it would alone.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from elasticsearch import ApiError

from api.context import Context
from api.pagination import event_sort
from api.tenancy import EVERY_ACCOUNT, NO_ACCOUNT, Tenant, UnconfinedSearchError
from common.elastic import Connection, async_client
from indexer.run import IndexSummary
from tests.api.credentials import SIGMA

PAGE_SIZE = 25
PAGE = {
    "query": {"term": {"eventSource": "logs.amazonaws.com"}},
    "sort": event_sort("desc"),
    "size": PAGE_SIZE,
    "track_total_hits": False,
    "source": {"includes": ["eventID"]},
}
COUNT = {"query": None, "size": 0, "track_total_hits": True, "pre_filter_shard_size": 1}
#: A range Elasticsearch cannot read: it refuses the search.
REFUSED = {"query": {"range": {"eventTime": {"gte": "not a time"}}}, "size": 0}


async def _both_ways(
    connection: Connection, alias: str, tenant: Tenant, *requests: dict[str, Any]
) -> tuple[list[Any], list[Any], list[int]]:
    client = async_client(connection)
    try:
        together = Context(elasticsearch=client, alias=alias, tenant=tenant)
        answers = await together.search_together(*(dict(r) for r in requests))
        alone = Context(elasticsearch=client, alias=alias, tenant=tenant)
        singles = [await alone.search(**dict(r)) for r in requests]
        return answers, singles, together.search_took_ms
    finally:
        await client.close()


def _essence(answer: Any) -> tuple[Any, list[str]]:
    return answer["hits"].get("total"), [hit["_id"] for hit in answer["hits"]["hits"]]


@pytest.mark.parametrize(
    ("tenant", "total"),
    [
        (EVERY_ACCOUNT, 3210),
        (Tenant(name="sigma", accounts=frozenset({SIGMA})), 2900),
        (NO_ACCOUNT, 0),
    ],
)
def test_a_page_and_its_count_together_answer_as_each_alone(
    es_connection: Connection,
    samples_alias: tuple[str, IndexSummary],
    sample_records: list[dict[str, Any]],
    tenant: Tenant,
    total: int,
):
    answers, singles, took = asyncio.run(
        _both_ways(es_connection, samples_alias[0], tenant, PAGE, COUNT)
    )
    assert [_essence(a) for a in answers] == [_essence(s) for s in singles]
    assert answers[1]["hits"]["total"] == {"value": total, "relation": "eq"}
    accounts = tenant.accounts
    logs = [
        record
        for record in sample_records
        if record["eventSource"] == "logs.amazonaws.com"
        and (accounts is None or record.get("recipientAccountId") in accounts)
    ]
    assert len(answers[0]["hits"]["hits"]) == min(len(logs), PAGE_SIZE)
    assert len(took) == 2  # each search recorded, as the response's extensions report them


def test_a_refused_search_among_others_fails_as_it_would_alone(
    es_connection: Connection, samples_alias: tuple[str, IndexSummary]
):
    async def refusals() -> tuple[ApiError, ApiError]:
        client = async_client(es_connection)
        try:
            context = Context(elasticsearch=client, alias=samples_alias[0], tenant=EVERY_ACCOUNT)
            with pytest.raises(ApiError) as together:
                await context.search_together(dict(COUNT), dict(REFUSED))
            with pytest.raises(ApiError) as alone:
                await context.search(**dict(REFUSED))
            return together.value, alone.value
        finally:
            await client.close()

    together, alone = asyncio.run(refusals())
    assert (together.status_code, str(together)) == (alone.status_code, str(alone))
    assert together.status_code == 400


def test_errors_in_place_answer_each_search_with_its_own_outcome(
    es_connection: Connection, samples_alias: tuple[str, IndexSummary]
):
    """For a caller that raises each error where it belongs (logGroup and its history)."""

    async def outcomes() -> tuple[list[Any], ApiError]:
        client = async_client(es_connection)
        try:
            context = Context(elasticsearch=client, alias=samples_alias[0], tenant=EVERY_ACCOUNT)
            answers = await context.search_together(
                dict(COUNT), dict(REFUSED), errors_in_place=True
            )
            with pytest.raises(ApiError) as alone:
                await context.search(**dict(REFUSED))
            return answers, alone.value
        finally:
            await client.close()

    (count, refused), alone = asyncio.run(outcomes())
    assert count["hits"]["total"] == {"value": 3210, "relation": "eq"}
    assert isinstance(refused, ApiError)
    assert (refused.status_code, str(refused)) == (alone.status_code, str(alone))


def test_searches_sent_together_are_each_confined(
    es_connection: Connection, samples_alias: tuple[str, IndexSummary]
):
    async def unconfined() -> None:
        client = async_client(es_connection)
        try:
            context = Context(elasticsearch=client, alias=samples_alias[0], tenant=EVERY_ACCOUNT)
            await context.search_together(dict(COUNT), {"aggs": {"all": {"global": {}}}})
        finally:
            await client.close()

    with pytest.raises(UnconfinedSearchError):
        asyncio.run(unconfined())
