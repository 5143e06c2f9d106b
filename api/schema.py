"""The GraphQL schema: every area's queries merged, and the SDL exported from it."""

from __future__ import annotations

import strawberry
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from api.errors import ElasticsearchUsage, ErrorCodes
from api.events import EventQueries
from api.limits import Limits, query_limits
from api.log_groups import LogGroupQueries
from api.metrics import GraphQLMetrics
from api.request_log import RecordOperation
from api.stats import StatsQueries
from api.types import read_key
from trailql.settings import ApiSettings

#: One type per area keeps each area's module self-contained.
Query = merge_types("Query", (EventQueries, StatsQueries, LogGroupQueries))


def limits_from(settings: ApiSettings) -> Limits:
    """The query limits the settings ask for."""
    return Limits(
        max_cost=settings.max_query_cost,
        max_depth=settings.max_query_depth,
        max_aliases=settings.max_query_aliases,
        max_tokens=settings.max_query_tokens,
    )


def build_schema(limits: Limits) -> strawberry.Schema:
    """The schema, with these limits on every query."""
    return strawberry.Schema(
        query=Query,
        config=StrawberryConfig(default_resolver=read_key),
        # Metrics and the request log first: they finish last, when every error has its code.
        # Then limits: a refused query must not reach the others.
        extensions=[
            GraphQLMetrics,
            RecordOperation,
            query_limits(limits),
            ErrorCodes,
            ElasticsearchUsage,
        ],
    )


schema = build_schema(limits_from(ApiSettings()))


def sdl() -> str:
    """The schema as SDL, as exported to ``schema/schema.graphql``."""
    return schema.as_str() + "\n"
