"""How the API serves (``TRAILQL_*``): limits, authentication, CORS.

Every limit has a default that real questions never meet (``api.limits.Limits`` holds the
numbers); each is refused with a code that names it (README, "Limits").
"""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from api.limits import Limits
from api.logs import LogFormat


class ApiSettings(BaseSettings):
    """The API's settings, read from ``TRAILQL_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="TRAILQL_", extra="ignore")

    #: Origins a browser app may call the API from, comma-separated; empty: same origin only.
    cors_origins: str = ""

    #: Ceilings on one query document (see api/limits.py for how cost is counted).
    max_query_cost: int = Limits.max_cost
    max_query_depth: int = Limits.max_depth
    max_query_aliases: int = Limits.max_aliases
    max_query_tokens: int = Limits.max_tokens
    #: Work validation may spend comparing fields that must merge (graphql-core's units).
    max_validation_complexity: int = Limits.max_validation_complexity

    #: Ceilings on one request's inputs, checked before any work.
    max_body_bytes: int = 1024 * 1024
    max_input_depth: int = Limits.max_input_depth
    #: Input objects (filters, parameter conditions) in one request's variables, and in its
    #: document: each is converted for its resolver one by one, which is slow in bulk.
    max_input_objects: int = Limits.max_input_objects
    max_list_length: int = Limits.max_list_length
    #: The longest value indexed for exact match (schema.mapping's keyword ignore_above).
    max_string_length: int = Limits.max_string_length
    #: Text matched as a pattern (userAgent contains, search): Elasticsearch builds an
    #: automaton from it, whose cost grows with its length.
    max_pattern_length: int = Limits.max_pattern_length
    max_filter_clauses: int = Limits.max_filter_clauses

    #: How ``trailql serve`` logs: ``auto`` (text at a terminal, JSON lines elsewhere),
    #: ``json`` or ``text``.
    log_format: LogFormat = "auto"

    #: Persisted queries: accept only the manifest's operations (api/persisted.py) ...
    persisted_queries_only: bool = False
    #: ... listed in this file, Apollo's or Relay's manifest (also pre-registers them).
    persisted_queries_manifest: Path | None = None
    #: Bytes of documents registered by automatic persisted queries, per process.
    persisted_query_cache_bytes: int = 16 * 1024 * 1024
    #: Seconds a cache may keep a successful GET answer (``Cache-Control: max-age``); 0: none.
    cache_max_age: int = 60

    #: Seconds one request may run: its searches carry it as Elasticsearch's own timeout.
    request_timeout: float = 20.0
    #: Seconds ``trailql serve`` lets requests in flight finish after SIGTERM.
    shutdown_timeout: int = 10

    #: Requests per second each credential may make on average, and in a burst (0: no limit).
    rate_limit: float = 100.0
    rate_burst: int = 200
    #: Requests of each credential answered at once (0: no limit); more wait their turn,
    #: and past eight waiting per slot they are refused.
    max_concurrent_requests: int = 8
    #: Per-credential exceptions, ``NAME=RATE/BURST`` separated by ``;`` (``ci=5/10``).
    rate_limits: str = ""

    #: Live subscriptions (WebSocket on /graphql): how often the process looks for new
    #: events, and how far behind its clock it stays (the clock difference between the
    #: indexer's hosts and this one; indexers say themselves what is still on its way).
    live_poll_interval: float = 0.25
    live_settle: float = 1.0
    #: Events one subscription may have waiting unread, and how long a burst waits for a
    #: full queue to have room: past either, its client is cut off (api/live.py).
    live_queue: int = 1_000
    live_slow_grace: float = 5.0
    #: Subscriptions open at once on one connection, and for one credential (0: no limit).
    live_max_subscriptions_per_connection: int = 20
    live_max_subscriptions_per_credential: int = 100
    #: Seconds of silence from a client before it is pinged, and for its pong.
    live_ping_interval: float = 20.0
    live_ping_timeout: float = 10.0
    #: Seconds a new connection has to send connection_init (with its credential).
    live_init_timeout: float = 10.0

    #: Authentication off: every request sees every account. For local development only.
    auth_disabled: bool = False
    #: API key hash lines (``NAME:SHA256:ACCOUNTS[:EXPIRES]``), separated by ``;`` or new lines.
    api_keys: str = ""
    #: A file of the same lines, one per line (``#`` starts a comment).
    api_keys_file: Path | None = None
    #: JWT bearer tokens: the issuer (``iss``) and audience (``aud``) they must carry.
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    #: Where the issuer publishes its signing keys (RS/PS/ES/EdDSA tokens) ...
    jwt_jwks_url: str | None = None
    #: ... or a shared secret of at least 32 bytes (HS256/384/512 tokens): one, not both.
    jwt_secret: SecretStr | None = None
    #: The claim that lists the AWS account IDs a token may see.
    jwt_accounts_claim: str = "trailql_accounts"
    #: The JWT claim listing what a token may do (``read``, ``triage``); none: ``read``.
    jwt_scopes_claim: str = "trailql_scopes"

    def cors_origin_list(self) -> list[str]:
        """The origins as a list, blanks dropped."""
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]
