"""Configuration from the environment shared by the indexer and the API.

What only the API reads (limits, authentication, CORS) is in ``api.settings``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ElasticsearchSettings(BaseSettings):
    """Where Elasticsearch is and how to authenticate (``ELASTICSEARCH_*``).

    ``url`` is optional so that a node started by ``trailql elasticsearch up`` is found
    without exporting anything; see :func:`trailql.elastic.resolve_connection`.
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


class IndexerSettings(BaseSettings):
    """Which eventTimes the indexer believes (``TRAILQL_EARLIEST_EVENT_TIME``, ``_MAX_FUTURE``).

    A record outside the window is quarantined rather than given a monthly index of its own.
    """

    model_config = SettingsConfigDict(env_prefix="TRAILQL_", extra="ignore")

    #: Nothing older is real: CloudTrail began in November 2013. A time without a zone is UTC.
    earliest_event_time: datetime = datetime(2013, 11, 1, tzinfo=UTC)
    #: How far ahead of the clock an eventTime may be (clocks differ a little): an ISO 8601
    #: duration such as ``P1D`` or ``PT6H``.
    max_future: timedelta = timedelta(days=1)

    @field_validator("earliest_event_time")
    @classmethod
    def _utc_unless_said(cls, value: datetime) -> datetime:
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
