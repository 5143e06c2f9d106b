"""Configuration from the environment shared by the indexer and the API.

What only the API reads (limits, authentication, CORS) is in ``api.settings``; what only the
indexer reads (which event times to believe), in ``indexer.settings``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ElasticsearchSettings(BaseSettings):
    """Where Elasticsearch is and how to authenticate (``ELASTICSEARCH_*``).

    ``url`` is optional so that a node started by ``trailql elasticsearch up`` is found
    without exporting anything; see :func:`trailql.connection.resolve_connection`.
    """

    model_config = SettingsConfigDict(env_prefix="ELASTICSEARCH_", extra="ignore")

    url: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    api_key: SecretStr | None = None
    ca_certs: Path | None = None
    request_timeout: float = 30.0


class IndexSettings(BaseSettings):
    """Which alias holds the events (``TRAILQL_INDEX``)."""

    model_config = SettingsConfigDict(env_prefix="TRAILQL_", extra="ignore")

    index: str = "trailql-events"
