"""Who is asking, and which AWS accounts' events they may see.

Every credential (an API key or a JWT) names the accounts it may see. :meth:`Tenant.restrict`
wraps a search's query in a filter on ``recipientAccountId``, the account that received the
event; ``api.context.Context.search`` applies it to every search, so no resolver can forget.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schema.paths import ACCOUNT_ID

ACCOUNT_FIELD = ACCOUNT_ID
_ACCOUNT_ID = re.compile(r"\d{12}")


class InvalidAccountError(ValueError):
    """Not a 12-digit AWS account ID."""


def account_ids(values: Iterable[str]) -> frozenset[str]:
    """12-digit AWS account IDs, checked; :class:`InvalidAccountError` names a bad one."""
    accounts = frozenset(values)
    for account in sorted(accounts):
        if not _ACCOUNT_ID.fullmatch(account):
            raise InvalidAccountError(f"{account!r} is not a 12-digit AWS account ID")
    if not accounts:
        raise InvalidAccountError("no AWS account ID given")
    return accounts


#: What a credential may do: ``read`` (every query), ``triage`` (also change findings' status).
READ = "read"
TRIAGE = "triage"
SCOPES = (READ, TRIAGE)
READ_ONLY = frozenset({READ})


class InvalidScopeError(ValueError):
    """A scope this API does not know."""


def scopes_of(values: Iterable[str]) -> frozenset[str]:
    """Known scopes, checked; ``triage`` includes ``read``. None given: ``read``."""
    scopes = frozenset(values)
    for scope in sorted(scopes):
        if scope not in SCOPES:
            raise InvalidScopeError(f"{scope!r} is not a scope ({', '.join(SCOPES)})")
    return (scopes | READ_ONLY) if scopes else READ_ONLY


@dataclass(frozen=True)
class Tenant:
    """A caller: a name for logs, the accounts it may see (None: all), what it may do.

    ``expires`` is when its credential stops being accepted (a key's expiry, a token's
    ``exp``): a connection that outlives it is closed (``api.websocket``).
    """

    name: str
    accounts: frozenset[str] | None
    scopes: frozenset[str] = READ_ONLY
    expires: datetime | None = None

    def may(self, scope: str) -> bool:
        """Whether the credential carries ``scope``."""
        return scope in self.scopes

    def restrict(self, query: dict[str, Any] | None, field: str = ACCOUNT_FIELD) -> dict[str, Any]:
        """``query`` limited to this tenant's accounts (unchanged for every account).

        The original query stays in ``must``, so its scoring is untouched; the accounts are a
        ``filter``, which neither scores nor can be undone by anything inside ``query``.
        ``field`` holds the account (of an event by default; ``account`` in the state index).
        """
        query = query if query is not None else {"match_all": {}}
        if self.accounts is None:
            return query
        accounts = {"terms": {field: sorted(self.accounts)}}
        return {"bool": {"must": [query], "filter": [accounts]}}


#: Authentication disabled (local development): every account.
EVERY_ACCOUNT = Tenant(
    name="anonymous (authentication disabled)", accounts=None, scopes=frozenset(SCOPES)
)
#: A request on an open path (GraphiQL's page): no account at all, should it ever search.
NO_ACCOUNT = Tenant(name="unauthenticated", accounts=frozenset())


#: What a search may carry: none of these reaches past its ``query`` (``pit``, a point in
#: time, only holds the alias's indices as they were when it was opened).
SEARCH_KEYS = frozenset(
    {
        "query",
        "aggs",
        "size",
        "sort",
        "search_after",
        "track_total_hits",
        "source",
        "seq_no_primary_term",
        "pit",
        "docvalue_fields",
        "pre_filter_shard_size",  # only skips shards the query cannot match
    }
)
#: Aggregations that read documents outside the query: ``global`` ignores it, and the
#: significant ones compare against a background set, by default the whole index.
_ESCAPING_AGGREGATIONS = frozenset({"global", "significant_terms", "significant_text"})


class UnconfinedSearchError(ValueError):
    """A search that a tenant filter on its query would not confine: a bug in a resolver."""


def check_confined(request: dict[str, Any]) -> None:
    """Refuse a search that could read events outside its query, whatever the query says.

    Besides the aggregations above, a ``terms`` aggregation with ``min_doc_count: 0`` lists
    values of documents that did not match, so it is refused too.
    """
    unknown = set(request) - SEARCH_KEYS
    if unknown:
        raise UnconfinedSearchError(f"searches may not set {sorted(unknown)}")
    _check_aggregations(request.get("aggs") or {})


def _check_aggregations(aggregations: dict[str, Any]) -> None:
    for name, aggregation in aggregations.items():
        escaping = _ESCAPING_AGGREGATIONS & set(aggregation)
        if escaping:
            raise UnconfinedSearchError(f"aggregation {name!r} uses {sorted(escaping)}")
        if aggregation.get("terms", {}).get("min_doc_count", 1) == 0:
            raise UnconfinedSearchError(f"aggregation {name!r} lists unmatched values")
        for key in ("aggs", "aggregations"):
            _check_aggregations(aggregation.get(key) or {})
