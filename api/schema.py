"""The GraphQL schema: the queries, and the SDL exported to ``schema/schema.graphql``."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.schema.config import StrawberryConfig

from api.errors import ErrorCodes
from api.events import Context, EventConnection, find_event, find_events
from api.filters import EventFilter
from api.types import Event, read_key


async def _event(info: strawberry.Info[Context, None], id: strawberry.ID) -> Any:  # noqa: A002  GraphQL's own name
    return await find_event(info.context, str(id))


async def _events(
    info: strawberry.Info[Context, None],
    filter: EventFilter | None = None,  # noqa: A002  GraphQL's own name
    first: int = 50,
    after: str | None = None,
) -> EventConnection:
    return await find_events(info.context, info, filter, first, after)


@strawberry.type
class Query:
    """Who did what to your CloudWatch Logs, from where, and when."""

    event: Any = strawberry.field(
        resolver=_event, graphql_type=Event | None, description="One event by its eventID, or null."
    )
    events: EventConnection = strawberry.field(
        resolver=_events,
        description=(
            "Events matching `filter`, newest first (eventTime, then eventID): `first` of them "
            "(at most 500) after the cursor `after`."
        ),
    )


schema = strawberry.Schema(
    query=Query,
    config=StrawberryConfig(default_resolver=read_key),
    extensions=[ErrorCodes],
)


def sdl() -> str:
    """The schema as SDL, as exported to ``schema/schema.graphql``."""
    return schema.as_str() + "\n"
