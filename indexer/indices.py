"""The indices the indexer writes to, created or updated before anything is sent."""

from __future__ import annotations

from elasticsearch import Elasticsearch

from schema import index_template


def install_template(client: Elasticsearch, alias: str) -> None:
    """Install (or update) the template every monthly index is created from."""
    client.indices.put_index_template(name=alias, **index_template(alias))
