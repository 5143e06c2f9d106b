"""The ``findingsAdded`` subscription: every finding newly raised that matches a filter.

The second stream on the live machinery (``api.live``), beside ``eventsAdded``: one findings
feed per process polls ``<alias>_findings`` in the order of creation, ``(createdAt, id)``,
and fans each new finding out to the subscriptions whose filter it matches, matched
in-process from the very query ``findings`` would run (``api.matching``, over the findings'
mapping), confined to the caller's accounts exactly as ``findings`` queries are
(``FINDING_ACCOUNT_FIELD``).

**New findings only.** A finding is pushed once, when it is created. Evaluating the same
events again (a backfill, a redelivered file) updates a finding's evidence but not its
``createdAt``, and a status change (``updateFindingStatus``) neither: neither is pushed
again. The finding pushed is the stored finding as the feed reads it, a moment after its
creation (its status is usually still ``OPEN``).

**No gaps, no repeats.** ``createdAt`` is stamped by whoever saves a finding, just before
the request that stores it; each save says it has findings on their way while it runs
(``detections.findings``: ``<alias>_findings_writers``), and the feed looks no further than
the earliest such stamp, nor than ``settle`` behind the clock: the same reasoning as the
events feed's, with saves of findings as the writers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Annotated, Any

import strawberry
from elasticsearch import AsyncElasticsearch

from api.context import FINDING_ACCOUNT_FIELD, Context
from api.findings import Finding, FindingFilter, finding_of, finding_query
from api.limits import FieldCost
from api.live import (
    Feed,
    FeedSettings,
    Item,
    Position,
    catch_up_page,
)
from api.live_events import live_stream, over_websocket, writers_pending
from api.matching import IndexedEvent, MappedFields, compile_query
from api.pagination import Edge, encode_cursor, resume_after
from api.tenancy import EVERY_ACCOUNT
from detections import findings_index
from detections.findings import FINDINGS_MAPPING

#: The stream's name, in metrics and logs.
STREAM = "findings"
#: The kind of cursor ``findingsAdded`` issues: positions in the order of creation.
CREATED_ORDER = "findings:added"
#: A finding's position: its createdAt (epoch milliseconds) and its id.
FINDING_POSITION = (int, str)
#: The fields of a finding, as the findings' mapping indexes them.
FINDING_FIELDS = MappedFields(FINDINGS_MAPPING["properties"])
_CREATED_AT = "createdAt"
_ID = "id"


def findings_feed(elasticsearch: AsyncElasticsearch, alias: str, settings: FeedSettings) -> Feed:
    """The feed of findings newly raised over the events behind ``alias``.

    Its searches see every account: each subscription is confined to its tenant's accounts
    as it is matched. It looks no further than the pending saves of findings allow.
    """
    once = elasticsearch.options(max_retries=0)

    async def search_every_account(**request: Any) -> Any:
        return await Context(once, alias, EVERY_ACCOUNT).search_findings(**request)

    def view(hit: dict[str, Any]) -> IndexedEvent:
        return IndexedEvent(hit["_source"])

    return Feed(
        STREAM,
        search_every_account,
        time_field=_CREATED_AT,
        id_field=_ID,
        view=view,
        settings=settings,
        pending=writers_pending(elasticsearch, findings_index(alias)),
    )


def _edge(item: Item) -> Edge[Finding]:
    """The payload of one finding.

    Not shared between subscriptions (no ``SHARED_RESULTS``): a finding's ``events`` are
    searched as its subscriber may see them.
    """
    return Edge(
        cursor=encode_cursor(CREATED_ORDER, list(item.position)), node=finding_of(item.source)
    )


async def _findings_added(
    info: strawberry.Info[Context, None],
    filter: Annotated[  # noqa: A002  GraphQL's own name
        FindingFilter | None,
        strawberry.argument(description="Which findings: the same filter as `findings`."),
    ] = None,
    after: Annotated[
        str | None,
        strawberry.argument(
            description=(
                "A cursor findingsAdded sent: first every matching finding raised since it, "
                "then the new ones. Without it: from now on."
            )
        ),
    ] = None,
) -> AsyncIterator[Edge[Finding]]:
    context = info.context
    live, connection = over_websocket(context)
    query = finding_query(filter, context.limits.max_list_length)
    predicate = compile_query(context.tenant.restrict(query, FINDING_ACCOUNT_FIELD), FINDING_FIELDS)
    # A long-lived context: no tally of searches; and retries are catch_up_page's.
    once = dataclasses.replace(
        context, elasticsearch=context.elasticsearch.options(max_retries=0), search_took_ms=[]
    )

    async def catch_up(last: Position, upto: Position) -> list[Item]:
        return await catch_up_page(
            once.search_findings, query, time_field=_CREATED_AT, id_field=_ID, after=last, upto=upto
        )

    return live_stream(
        context,
        live,
        connection,
        stream=STREAM,
        query=query,
        predicate=predicate,
        after=resume_after(after, CREATED_ORDER, FINDING_POSITION),
        catch_up=catch_up,
        render=_edge,
        waiting="findings",
    )


#: What the fields of this area cost (api/limits.py): catching up searches.
FIELD_COSTS = {"findingsAdded": FieldCost(searches=True)}


@strawberry.type
class FindingSubscriptions:
    """Findings as they are raised."""

    findings_added: AsyncIterator[Edge[Finding]] = strawberry.subscription(
        resolver=_findings_added,
        graphql_type=Edge[Finding],
        description=(
            "Every finding newly raised that matches `filter`, once, as it is created (a "
            "re-evaluation or a status change does not send it again), each with its cursor. "
            "Pass the last cursor received as `after` to get exactly what was raised since, "
            "then the new ones."
        ),
    )
