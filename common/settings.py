"""Configuration from the environment shared by the indexer and the API.

What only the API reads (limits, authentication, CORS) is in ``api.settings``; what only the
indexer reads (which event times to believe), in ``indexer.settings``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from common.engine import ENGINE_NAMES

#: More node URLs than any client needs: list a few, or put a load balancer in front.
MAX_NODE_URLS = 64


class ElasticsearchSettings(BaseSettings):
    """Where Elasticsearch is and how to authenticate (``ELASTICSEARCH_*``).

    ``url`` is optional so that a node started by ``trailql elasticsearch up`` is found
    without exporting anything; see :func:`trailql.connection.resolve_connection`. It may
    list several nodes of one cluster, comma-separated: a request a node cannot answer is
    sent to another.
    """

    # A URL may carry a password (https://user:secret@host): errors never echo the input.
    model_config = SettingsConfigDict(
        env_prefix="ELASTICSEARCH_", extra="ignore", hide_input_in_errors=True
    )

    url: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    api_key: SecretStr | None = None
    ca_certs: Path | None = None
    request_timeout: float = 30.0
    #: ``auto``: ask the server which engine it is. Name one (``elasticsearch-8``,
    #: ``elasticsearch-9``, ``opensearch-2``) when the credentials may not read node information.
    engine: str = "auto"
    #: Sign every request with AWS SigV4 for this region (Amazon OpenSearch Service domains
    #: behind IAM), from boto3's usual credentials.
    aws_region: str | None = None

    @field_validator("engine")
    @classmethod
    def _engine(cls, value: str) -> str:
        """``auto`` or a name :data:`common.engine.ENGINE_NAMES` holds."""
        value = value.strip().lower()
        if value != "auto" and value not in ENGINE_NAMES:
            raise ValueError(f"use auto or one of {', '.join(ENGINE_NAMES)}")
        return value

    @field_validator("url")
    @classmethod
    def _node_urls(cls, value: str | None) -> str | None:
        """Each URL checked, spaces around commas dropped; the same text otherwise."""
        if value is None or not value.strip():
            return None
        return ",".join(node_urls(value))


def node_urls(text: str) -> list[str]:
    """The node URLs in ``ELASTICSEARCH_URL``; ValueError saying which one is unusable."""
    urls = [part.strip() for part in text.split(",")]
    if len(urls) > MAX_NODE_URLS:
        raise ValueError(f"lists {len(urls)} URLs; list at most {MAX_NODE_URLS} nodes")
    for position, url in enumerate(urls, start=1):
        if not url:
            raise ValueError(f"URL {position} of {len(urls)} is empty (a stray comma?)")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise ValueError(f"URL {position} ({_shown(url)}) is not a URL: {exc}") from None
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError(
                f"URL {position} ({_shown(url)}) is not an http:// or https:// URL with a host"
            )
        if port is None and parts.scheme == "http":
            raise ValueError(
                f"URL {position} ({_shown(url)}) has no port (Elasticsearch listens on 9200)"
            )
        if urls.index(url) != position - 1:
            raise ValueError(f"URL {position} ({_shown(url)}) is listed twice")
    return urls


def _shown(url: str) -> str:
    """A URL fit for an error message: no user or password, and not too long."""
    shown = url.rsplit("@", 1)[-1] if "@" in url else url
    return repr(shown[:100] + ("…" if len(shown) > 100 else ""))  # noqa: PLR2004


class IndexSettings(BaseSettings):
    """Which alias holds the events (``TRAILQL_INDEX``), and its monthly indices' layout.

    ``TRAILQL_SHARDS`` and ``TRAILQL_REPLICAS`` are read by the indexer when it installs the
    index template, so they apply to months created from then on.
    """

    model_config = SettingsConfigDict(env_prefix="TRAILQL_", extra="ignore")

    index: str = "trailql-events"
    #: Primary shards of each monthly index (read when the indexer installs the template).
    shards: int = Field(default=1, ge=1, le=1024)
    #: Copies of each shard beyond the primary; ``auto``: one wherever a second node exists.
    replicas: int | Literal["auto"] = "auto"

    @field_validator("replicas", mode="before")
    @classmethod
    def _replicas(cls, value: object) -> int | str:
        text = str(value).strip().lower()
        if text == "auto":
            return "auto"
        digits = text.isascii() and text.isdigit() and len(text) <= len(str(MAX_REPLICAS))
        if not digits or int(text) > MAX_REPLICAS:
            raise ValueError(f"must be auto or a whole number from 0 to {MAX_REPLICAS}")
        return int(text)


#: Far more copies than any cluster keeps; a bound on a typo.
MAX_REPLICAS = 32
