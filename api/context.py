"""What every resolver gets: the cluster, the alias, the tenant, and a record of the searches.

Every search of events goes through :meth:`Context.search` (or
:meth:`Context.search_together`, several in one round trip), of findings through
:meth:`Context.search_findings`, and of the trail files' integrity (the indexer's state index)
through :meth:`Context.search_files`; each confines it to the tenant's accounts: no resolver
can forget, or search Elasticsearch another way.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import ApiError, AsyncElasticsearch

from api.errors import TimeBudgetExceededError
from api.limits import Limits
from api.live import LiveConnection, LiveHub
from api.request_log import RequestRecord
from api.slices import Months
from api.tenancy import ACCOUNT_FIELD as ACCOUNT_FIELD_OF_EVENTS
from api.tenancy import Tenant, UnconfinedSearchError, check_confined
from common.indices import state_index
from common.metrics import ELASTICSEARCH_REQUEST_SECONDS
from detections.findings import findings_index
from schema.hourly import hours_alias
from schema.mapping import holds_events_of

#: The field of a finding that says whose it is, as recipientAccountId says of an event.
FINDING_ACCOUNT_FIELD = "accountId"

#: The account a trail file belongs to, in the state index (indexer/state.py's mapping).
STATE_ACCOUNT = "account"

#: The key of a search of events that names the indices to search instead of the alias
#: (api/slices.py); every name must be one of the alias's own (:func:`_named_within`).
WITHIN = "within"

#: What a search sent with others may set: the rest (a point in time) goes alone.
_TOGETHER_KEYS = frozenset(
    {"query", "aggs", "size", "sort", "search_after", "track_total_hits", "source"}
    | {"pre_filter_shard_size", WITHIN}
)
#: Of those, what ``_msearch`` takes in its URL (or header) rather than in each search's body.
_URL_KEYS = frozenset({"pre_filter_shard_size", WITHIN})

_OUT_OF_TIME = (
    "the search ran past the request's time budget and was stopped; narrow the filter or "
    "ask for less."
)


@functools.lru_cache(maxsize=8)
def _aggregating(client: AsyncElasticsearch) -> AsyncElasticsearch:
    """The client, for a search with aggregations: a 503 is not sent again to another node.

    OpenSearch refuses a search that would return too many buckets with a 503, which the
    client would send three times more: the same costly aggregation run four times for one
    refusal. Searches without aggregations (pages, counts, exports) still send a 503 to
    another node. Kept per client: ``options()`` costs about 0.2 ms.
    """
    return client.options(retry_on_status=(429, 502, 504))


def _named_within(alias: str, within: object) -> str:
    """The indices a search of events names: the alias, or only indices of the alias.

    Raises:
        UnconfinedSearchError: a name that is not a month or an index of unindexed events
            of ``alias`` (a bug: the names come from api/slices.py).
    """
    if within is None:
        return alias
    named = str(within)
    for name in named.split(","):
        if not holds_events_of(alias, name):
            raise UnconfinedSearchError(f"a search may not name {name!r}")
    return named


def _without(key: str, request: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``request`` without ``key``."""
    return {name: value for name, value in request.items() if name != key}


def _count_searches(searches: int, started: float) -> None:
    """Each search in a request counted, with the request's time since ``started``."""
    elapsed = time.perf_counter() - started
    for _ in range(searches):
        ELASTICSEARCH_REQUEST_SECONDS.labels(kind="search").observe(elapsed)


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
    #: The months behind the alias, shared by every request of the process.
    months: Months = field(default_factory=Months)
    search_took_ms: list[int] = field(default_factory=list)
    #: The live feeds of this process (subscriptions read them).
    live: LiveHub | None = None
    #: The WebSocket connection a subscription runs on; None over HTTP.
    connection: LiveConnection | None = None
    #: What the client sent with connection_init (Strawberry sets it): its credential.
    connection_params: dict[str, Any] | None = None
    #: What resolvers batch within one request (api/integrity.py's data loaders), by name.
    loaders: dict[str, Any] = field(default_factory=dict)

    async def search(self, **request: Any) -> Any:
        """Search the events alias, confined to the tenant's accounts.

        A missing alias is an empty result, not an error; a missing shard is an error, never
        a partial answer. A request that could reach past its query (see
        :func:`api.tenancy.check_confined`) is refused as a bug. ``within`` (:data:`WITHIN`)
        names the alias's indices to search instead of the alias.
        """
        index = _named_within(self.alias, request.pop(WITHIN, None))
        if index == self.alias:
            return await self._search(index, ACCOUNT_FIELD_OF_EVENTS, request)
        response = await self._search(index, ACCOUNT_FIELD_OF_EVENTS, dict(request))
        if "aggs" in request and not response["_shards"]["total"]:
            # No index holds the months named: searched by name, nothing answers, and the
            # aggregations lack the shape the alias gives them (a timeline's empty buckets).
            return await self._search(self.alias, ACCOUNT_FIELD_OF_EVENTS, request)
        return response

    async def search_hours(self, **request: Any) -> Any:
        """Search the hourly counts of the events (schema/hourly.py), confined as events are."""
        return await self._search(hours_alias(self.alias), ACCOUNT_FIELD_OF_EVENTS, request)

    async def search_findings(self, **request: Any) -> Any:
        """Search the findings index, confined to the tenant's accounts as events are."""
        return await self._search(findings_index(self.alias), FINDING_ACCOUNT_FIELD, request)

    async def search_files(self, **request: Any) -> Any:
        """Search the trail files' integrity (the state index), confined to the tenant's accounts.

        A file of no known account (not in CloudTrail's layout) is no tenant's.
        """
        return await self._search(state_index(self.alias), STATE_ACCOUNT, request)

    async def search_together(
        self, *requests: dict[str, Any], errors_in_place: bool = False
    ) -> list[Any]:
        """Several searches of the events alias in one round trip (``_msearch``).

        Each is confined and answered as :meth:`search` would answer it alone; one that
        Elasticsearch refuses is sent again alone, so that its error is the one
        :meth:`search` raises. Sending them together spares a request's worth of the
        client's and the server's work (about 0.7 ms of the API's CPU for a page and its
        count, measured in process). ``errors_in_place``: a search that fails is answered
        by that error, in its place, and the others still by theirs (for a caller that
        raises each where it belongs); otherwise the first error is raised. What fails them
        all (the time budget spent, a search unconfined, the connection lost) is raised
        either way.
        """
        if (
            len(requests) <= 1
            or any(set(request) - _TOGETHER_KEYS for request in requests)
            or any(WITHIN in request and "aggs" in request for request in requests)  # see search
        ):
            return await self._one_at_a_time(requests, errors_in_place=errors_in_place)
        within = [_named_within(self.alias, request.get(WITHIN)) for request in requests]
        prepared = [
            self._confined(ACCOUNT_FIELD_OF_EVENTS, _without(WITHIN, request))
            for request in requests
        ]
        searches: list[dict[str, Any]] = []
        for request, index in zip(prepared, within, strict=True):
            header = {
                "index": index,
                "ignore_unavailable": True,
                "allow_no_indices": True,
                "allow_partial_search_results": False,
            }
            body = {key: value for key, value in request.items() if key not in _URL_KEYS}
            if "source" in body:
                body["_source"] = body.pop("source")
            searches += [header, body]
        # Only skips shards a query cannot match, so one search's setting is safe for all.
        skipping = [r["pre_filter_shard_size"] for r in prepared if "pre_filter_shard_size" in r]
        options = {"pre_filter_shard_size": min(skipping)} if skipping else {}
        started = time.perf_counter()
        try:
            answer = await self.elasticsearch.msearch(searches=searches, **options)
        except ApiError:  # refused whole (an engine that takes it otherwise): one by one
            return await self._one_at_a_time(requests, errors_in_place=errors_in_place)
        except BaseException:
            _count_searches(len(requests), started)
            raise
        _count_searches(len(requests), started)  # each search, with the round trip's time
        responses: list[Any] = []
        for request, response in zip(requests, answer["responses"], strict=True):
            if "error" in response:
                responses.append(await self._alone(request, errors_in_place=errors_in_place))
                continue
            try:
                responses.append(self._answered(response))
            except TimeBudgetExceededError as error:  # this one cut short by its timeout
                if not errors_in_place:
                    raise
                responses.append(error)
        return responses

    async def _one_at_a_time(
        self, requests: tuple[dict[str, Any], ...], *, errors_in_place: bool
    ) -> list[Any]:
        """The searches sent one after the other, each as :meth:`search` sends it."""
        return [await self._alone(request, errors_in_place=errors_in_place) for request in requests]

    async def _alone(self, request: dict[str, Any], *, errors_in_place: bool) -> Any:
        """One search, as :meth:`search` sends it; its error returned, if ``errors_in_place``."""
        try:
            return await self.search(**request)
        except Exception as error:
            if not errors_in_place:
                raise
            return error  # handed back, to be raised where it belongs

    def _confined(self, account_field: str, request: dict[str, Any]) -> dict[str, Any]:
        """The request confined to the tenant's accounts, and to what is left of the budget."""
        check_confined(request)
        request["query"] = self.tenant.restrict(request.get("query"), account_field)
        if self.deadline is not None:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise TimeBudgetExceededError(_OUT_OF_TIME)
            # Elasticsearch stops collecting at its own timeout and says so in timed_out.
            request["timeout"] = f"{max(1, int(remaining * 1000))}ms"
        return request

    def _answered(self, response: Any) -> Any:
        """A search's answer, its time recorded; one cut short by its timeout is no answer."""
        self.search_took_ms.append(int(response.get("took", 0)))
        if response.get("timed_out"):
            raise TimeBudgetExceededError(_OUT_OF_TIME)  # partial results are never answers
        return response

    async def _search(self, index: str, account_field: str, request: dict[str, Any]) -> Any:
        request = self._confined(account_field, request)
        # A point in time names its indices already (api/export.py opens it on the alias).
        target: dict[str, Any] = (
            {}
            if "pit" in request
            else {"index": index, "ignore_unavailable": True, "allow_no_indices": True}
        )
        started = time.perf_counter()
        try:
            # A shard with no copy left (a node lost, no replica) fails the whole search
            # (503, UPSTREAM_UNAVAILABLE): an answer from the other shards would be wrong.
            client = _aggregating(self.elasticsearch) if "aggs" in request else self.elasticsearch
            response = await client.search(**target, allow_partial_search_results=False, **request)
        finally:
            _count_searches(1, started)
        return self._answered(response)
