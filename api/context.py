"""What every resolver gets: the cluster, the alias, the tenant, and a record of the searches.

Every search of events goes through :meth:`Context.search`, which confines it to the tenant's
accounts: no resolver can forget, or search Elasticsearch another way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import AsyncElasticsearch

from api.errors import TimeBudgetExceededError
from api.limits import Limits
from api.live import LiveConnection, LiveHub
from api.request_log import RequestRecord
from api.tenancy import Tenant, check_confined
from common.metrics import ELASTICSEARCH_REQUEST_SECONDS

_OUT_OF_TIME = (
    "the search ran past the request's time budget and was stopped; narrow the filter or "
    "ask for less."
)


@dataclass
class Context:
    """Per GraphQL request; resolvers search through :meth:`search` so every call is counted."""

    elasticsearch: AsyncElasticsearch
    alias: str
    tenant: Tenant
    #: The request's log line, which the executor completes (operation, errors).
    request_record: RequestRecord | None = None
    #: The ceilings on inputs (filters read theirs from here).
    limits: Limits = field(default_factory=Limits)
    #: When the request's time budget runs out (``time.monotonic``); None: no budget.
    deadline: float | None = None
    search_took_ms: list[int] = field(default_factory=list)
    #: The live feeds of this process (subscriptions read them).
    live: LiveHub | None = None
    #: The WebSocket connection a subscription runs on; None over HTTP.
    connection: LiveConnection | None = None
    #: What the client sent with connection_init (Strawberry sets it): its credential.
    connection_params: dict[str, Any] | None = None

    async def search(self, **request: Any) -> Any:
        """Search the events alias, confined to the tenant's accounts.

        A missing alias is an empty result, not an error. A request that could reach past
        its query (see :func:`api.tenancy.check_confined`) is refused as a bug.
        """
        check_confined(request)
        request["query"] = self.tenant.restrict(request.get("query"))
        if self.deadline is not None:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise TimeBudgetExceededError(_OUT_OF_TIME)
            # Elasticsearch stops collecting at its own timeout and says so in timed_out.
            request["timeout"] = f"{max(1, int(remaining * 1000))}ms"
        started = time.perf_counter()
        try:
            # A shard that failed (one index still starting, say) fails the search: partial
            # results are never answers.
            response = await self.elasticsearch.search(
                index=self.alias,
                ignore_unavailable=True,
                allow_no_indices=True,
                allow_partial_search_results=False,
                **request,
            )
        finally:
            elapsed = time.perf_counter() - started
            ELASTICSEARCH_REQUEST_SECONDS.labels(kind="search").observe(elapsed)
        self.search_took_ms.append(int(response.get("took", 0)))
        if response.get("timed_out"):
            raise TimeBudgetExceededError(_OUT_OF_TIME)  # partial results are never answers
        return response
