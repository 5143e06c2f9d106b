"""The GraphQL schema: every area's queries merged, and the SDL exported from it."""

from __future__ import annotations

import strawberry
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from api.events import EventQueries
from api.log_groups import LogGroupQueries
from api.stats import StatsQueries
from api.types import read_key

#: One type per area keeps each area's module self-contained.
Query = merge_types("Query", (EventQueries, StatsQueries, LogGroupQueries))

#: Checks, limits, error codes and metrics are the executor's (api/execution.py), not
#: schema extensions: they run once per request around graphql-core, in a fixed order.
schema = strawberry.Schema(query=Query, config=StrawberryConfig(default_resolver=read_key))


def sdl() -> str:
    """The schema as SDL, as exported to ``schema/schema.graphql``."""
    return schema.as_str() + "\n"
