"""The one Elasticsearch a run measures against, and the aliases it makes there.

The same choice as the tests' fixture: ``ELASTICSEARCH_URL`` when set, otherwise the local
node on the given port (started if need be, and stopped at the end only if started here).
Every alias is ``trailql-bench-<what>-<random>`` and is dropped with its indices and
template at the end, whatever happens.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from elasticsearch import Elasticsearch

from common.elastic import Connection, sync_client
from trailql import local_elasticsearch
from trailql.connection import local_connection, resolve_connection

ALIAS_PREFIX = "trailql-bench-"


@contextmanager
def elasticsearch_connection(port: int, engine: str | None = None) -> Iterator[Connection]:
    """The cluster for the run; a local node started here is stopped on the way out.

    ``engine`` (``opensearch-2.19.6``): that engine's local node instead of Elasticsearch 9.
    """
    if os.environ.get("ELASTICSEARCH_URL"):
        if engine is not None:
            raise SystemExit(
                "--engine starts a local node; ELASTICSEARCH_URL names a cluster already: "
                "unset one of them"
            )
        yield resolve_connection()
        return
    distribution = local_elasticsearch.Distribution()
    if engine is not None:
        distribution = local_elasticsearch.Distribution.named(engine)
        if port == local_elasticsearch.default_port(local_elasticsearch.DEFAULT_DISTRIBUTION):
            port = local_elasticsearch.default_port(distribution)  # not --es-port: its own
    before = local_elasticsearch.status(port=port)
    node = local_elasticsearch.up(port=port, distribution=distribution)
    try:
        yield local_connection(node)
    finally:
        if before is None:
            local_elasticsearch.down(port=port)


def local_node_pid(connection: Connection) -> int | None:
    """The process of the local node at ``connection``'s URL, when it is one of ours."""
    url = urlsplit(connection.url.split(",")[0])
    if url.hostname not in {"127.0.0.1", "localhost"} or url.port is None:
        return None
    node = local_elasticsearch.status(port=url.port)
    return node.pid if node is not None else None


def new_alias(purpose: str) -> str:
    """A fresh alias name no other run or test uses."""
    return f"{ALIAS_PREFIX}{purpose}-{uuid.uuid4().hex[:8]}"


def drop_alias(client: Elasticsearch, alias: str) -> None:
    """Remove an alias's indices and its template (by name, never by wildcard).

    Its monthly indices, and those beside them: state, quarantine, events without a field.
    """
    indices = list(client.indices.get(index=f"{alias}-*,{alias}_*", allow_no_indices=True))
    if indices:
        client.indices.delete(index=indices)
    client.options(ignore_status=404).indices.delete_index_template(name=alias)


@dataclass
class Aliases:
    """Every alias a run made, so all of them go at the end even after a failure."""

    client: Elasticsearch
    made: list[str] = field(default_factory=list)

    def new(self, purpose: str) -> str:
        """A fresh alias, remembered for :meth:`drop_all`."""
        alias = new_alias(purpose)
        self.made.append(alias)
        return alias

    def drop(self, alias: str) -> None:
        """Drop one alias now."""
        drop_alias(self.client, alias)
        if alias in self.made:
            self.made.remove(alias)

    def drop_all(self) -> None:
        """Drop whatever is left."""
        for alias in list(self.made):
            self.drop(alias)


@contextmanager
def bench_cluster(connection: Connection) -> Iterator[Aliases]:
    """A client for the run's own requests, and the aliases it made, dropped at the end."""
    client = sync_client(connection)
    aliases = Aliases(client)
    try:
        yield aliases
    finally:
        try:
            aliases.drop_all()
        finally:
            client.close()
