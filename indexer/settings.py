"""What only the indexer reads from the environment (``TRAILQL_*``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from common.times import utc


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
        return utc(value)
