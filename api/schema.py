"""The GraphQL schema: every area's queries and subscriptions merged, and the SDL exported."""

from __future__ import annotations

import strawberry
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from api import events, findings, integrity, live_events, live_findings, log_groups, stats
from api.limits import FieldCost
from api.types import read_key

#: One type per area keeps each area's module self-contained.
Query = merge_types(
    "Query",
    (
        events.EventQueries,
        stats.StatsQueries,
        log_groups.LogGroupQueries,
        findings.FindingQueries,
        integrity.IntegrityQueries,
    ),
)
#: The one mutation: triage of findings (POST only, see api/view.py).
Mutation = merge_types("Mutation", (findings.FindingMutations,))
#: Pushed over WebSocket (api/websocket.py): new events, new findings.
Subscription = merge_types(
    "Subscription", (live_events.EventSubscriptions, live_findings.FindingSubscriptions)
)


def _gathered(*areas: dict[str, FieldCost]) -> dict[str, FieldCost]:
    costs: dict[str, FieldCost] = {}
    for area in areas:
        for name, cost in area.items():
            if costs.setdefault(name, cost) != cost:
                raise ValueError(f"the field {name!r} is charged differently by two areas")
    return costs


#: What every field costs, as each area declares it.
FIELD_COSTS = _gathered(
    events.FIELD_COSTS,
    stats.FIELD_COSTS,
    log_groups.FIELD_COSTS,
    findings.FIELD_COSTS,
    integrity.FIELD_COSTS,
    live_events.FIELD_COSTS,
    live_findings.FIELD_COSTS,
)

#: Checks, limits, error codes and metrics are the executor's (api/execution.py), not
#: schema extensions: they run once per request around graphql-core, in a fixed order.
schema = strawberry.Schema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    config=StrawberryConfig(default_resolver=read_key),
)


def sdl() -> str:
    """The schema as SDL, as exported to ``schema/schema.graphql``."""
    return schema.as_str() + "\n"
