"""Which cluster a command talks to: the one configured, or the local development node.

Only the command line (and the tests and benchmarks) may fall back on the local node that
``trailql elasticsearch up`` runs; the API and the indexer take the cluster they are given.
"""

from __future__ import annotations

from common.elastic import NO_CLUSTER, Connection, NoElasticsearchError, connection_from_settings
from common.settings import ElasticsearchSettings
from trailql import local_elasticsearch


def resolve_connection(settings: ElasticsearchSettings | None = None) -> Connection:
    """``ELASTICSEARCH_*`` when set; otherwise the node ``trailql elasticsearch up`` started."""
    settings = settings or ElasticsearchSettings()
    if settings.url:
        return connection_from_settings(settings)
    node = local_elasticsearch.running_node()
    if node is None:
        raise NoElasticsearchError(NO_CLUSTER)
    return local_connection(node, request_timeout=settings.request_timeout)


def local_connection(
    node: local_elasticsearch.LocalNode | local_elasticsearch.LocalCluster,
    *,
    request_timeout: float = 30.0,
) -> Connection:
    """How to reach a local node or cluster; without credentials when it has no users."""
    return Connection(
        url=node.url,
        username=node.username or None,
        password=node.password or None,
        request_timeout=request_timeout,
    )
