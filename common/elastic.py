"""Connecting to Elasticsearch: one place that turns settings into clients."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from elasticsearch import AsyncElasticsearch, Elasticsearch
from elasticsearch.serializer import NdjsonSerializer, OrjsonSerializer

from common.engine import AsyncEngineTransport, EngineTransport, Server, transport_classes
from common.settings import ElasticsearchSettings, node_urls


class _NdjsonBytes(NdjsonSerializer):
    """NDJSON bodies already written (``_bulk``'s) sent as they are, not copied line by line.

    The client's own serializer copies every body into a new buffer before sending it: 8 MiB
    per ``_bulk`` request of the indexer.
    """

    def dumps(self, data: Any) -> bytes:
        if isinstance(data, bytes) and data.endswith(b"\n"):
            return data
        return super().dumps(data)


class NoElasticsearchError(Exception):
    """No cluster is configured and no local node is running."""


#: What to do when no cluster is configured.
NO_CLUSTER = (
    "no Elasticsearch configured: set ELASTICSEARCH_URL (and ELASTICSEARCH_USERNAME/"
    "ELASTICSEARCH_PASSWORD or ELASTICSEARCH_API_KEY), or start a local node with "
    '`eval "$(trailql elasticsearch up)"`'
)


@dataclass(frozen=True)
class Connection:
    """Everything needed to reach one cluster.

    ``url`` may list several of its nodes, comma-separated (as ``ELASTICSEARCH_URL`` does):
    the client spreads requests over them, and sends a request one cannot answer to another.
    """

    url: str
    username: str | None = None
    password: str | None = None
    api_key: str | None = None
    ca_certs: str | None = None
    request_timeout: float = 30.0
    #: ``auto`` (ask the server) or an engine and major version, such as ``opensearch-2``.
    engine: str = "auto"
    #: Requests are signed with AWS SigV4 for this region when set.
    aws_region: str | None = None

    def environment(self) -> dict[str, str]:
        """The ``ELASTICSEARCH_*`` variables that name this cluster to another process."""
        variables = {
            "ELASTICSEARCH_URL": self.url,
            "ELASTICSEARCH_REQUEST_TIMEOUT": str(self.request_timeout),
        }
        if self.api_key:
            variables["ELASTICSEARCH_API_KEY"] = self.api_key
        elif self.username:
            variables["ELASTICSEARCH_USERNAME"] = self.username
            variables["ELASTICSEARCH_PASSWORD"] = self.password or ""
        if self.ca_certs:
            variables["ELASTICSEARCH_CA_CERTS"] = self.ca_certs
        if self.engine != "auto":
            variables["ELASTICSEARCH_ENGINE"] = self.engine
        if self.aws_region:
            variables["ELASTICSEARCH_AWS_REGION"] = self.aws_region
        return variables

    @property
    def hosts(self) -> list[str]:
        """Each node's URL."""
        return node_urls(self.url)

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments shared by the sync and async clients."""
        options: dict[str, Any] = {
            "request_timeout": self.request_timeout,
            "serializers": {
                "application/json": OrjsonSerializer(),
                "application/x-ndjson": _NdjsonBytes(),
            },
        }
        if self.api_key:
            options["api_key"] = self.api_key
        elif self.username:
            options["basic_auth"] = (self.username, self.password or "")
        if self.ca_certs:
            options["ca_certs"] = self.ca_certs
        return options


def connection_from_settings(settings: ElasticsearchSettings | None = None) -> Connection:
    """The cluster ``ELASTICSEARCH_*`` names; :class:`NoElasticsearchError` when none is."""
    settings = settings or ElasticsearchSettings()
    if not settings.url:
        raise NoElasticsearchError(NO_CLUSTER)
    return Connection(
        url=settings.url,
        username=settings.username,
        password=settings.password.get_secret_value() if settings.password else None,
        api_key=settings.api_key.get_secret_value() if settings.api_key else None,
        ca_certs=str(settings.ca_certs) if settings.ca_certs else None,
        request_timeout=settings.request_timeout,
        engine=settings.engine,
        aws_region=settings.aws_region,
    )


def _transports(
    connection: Connection,
) -> tuple[type[EngineTransport], type[AsyncEngineTransport]]:
    named = None if connection.engine == "auto" else Server.named(connection.engine)
    if not connection.aws_region:
        return transport_classes(named)
    if len(connection.hosts) > 1:
        raise NoElasticsearchError(
            "ELASTICSEARCH_AWS_REGION signs requests for one endpoint: give ELASTICSEARCH_URL "
            "one URL (the domain's)"
        )
    from common.aws_signing import AwsSigner  # noqa: PLC0415  boto3 only when signing

    signer = AwsSigner.from_environment(connection.aws_region)
    return transport_classes(named, signer, connection.hosts[0])


def sync_client(connection: Connection) -> Elasticsearch:
    """A client for the indexer and the command line, in the dialect of the engine behind it."""
    transport, _ = _transports(connection)
    return Elasticsearch(connection.hosts, transport_class=transport, **connection.client_options())


def async_client(connection: Connection) -> AsyncElasticsearch:
    """A client for the API, which serves many requests on one event loop."""
    _, transport = _transports(connection)
    return AsyncElasticsearch(
        connection.hosts, transport_class=transport, **connection.client_options()
    )
