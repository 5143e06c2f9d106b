"""The indices the indexer writes to, created or updated before anything is sent to them."""

from __future__ import annotations

from typing import Any

from elasticsearch import ApiError, Elasticsearch

from indexer.quarantine import quarantine_index, quarantine_mapping
from schema import IndexLayout, added_mapping, index_template, without_index, without_index_body

#: The indices beside the months that hold little: one shard, a replica where there is room.
SMALL_INDEX = {"index.number_of_shards": 1, "index.auto_expand_replicas": "0-1"}


def install_template(client: Elasticsearch, alias: str, layout: IndexLayout | None = None) -> None:
    """Install (or update) the template every monthly index is created from.

    ``layout`` (shards, replicas) applies to months created from now on; existing ones keep
    theirs. Indices made from an older template get the fields added since (the current
    month's index goes on taking events, which must be searchable by them).
    """
    client.indices.put_index_template(name=alias, **index_template(alias, layout))
    if client.indices.exists_alias(name=alias):
        client.indices.put_mapping(index=alias, **added_mapping())


def create_index(client: Elasticsearch, name: str, **body: Any) -> None:
    """Create an index unless it exists; several workers may race to do it."""
    if client.indices.exists(index=name):
        return
    try:
        client.indices.create(index=name, **body)
    except ApiError as exc:
        if exc.error != "resource_already_exists_exception":
            raise


class Indices:
    """Creates, once per process and only when first needed, the indices beside the months."""

    def __init__(
        self, client: Elasticsearch, alias: str, layout: IndexLayout | None = None
    ) -> None:
        self._client = client
        self._alias = alias
        self._layout = layout
        self._ready: set[str] = set()

    def ensure_quarantine(self) -> None:
        """The quarantine index, with its strict mapping."""
        name = quarantine_index(self._alias)
        if name not in self._ready:
            create_index(self._client, name, settings=SMALL_INDEX, mappings=quarantine_mapping())
            self._ready.add(name)

    def ensure_without(self, unindexed: str) -> None:
        """The index for events whose ``unindexed`` field is left unindexed."""
        name = without_index(self._alias, unindexed)
        if name not in self._ready:
            body = without_index_body(self._alias, unindexed, self._layout)
            create_index(self._client, name, **body)
            self._ready.add(name)
