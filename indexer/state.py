"""Which trail files are loaded, kept in Elasticsearch itself.

A worker on a new machine needs no local state to pick up where the last one stopped: it asks
this index. One document per object, ``_id`` the SHA-256 of its ``s3://`` URI (keys may be
longer than an ``_id`` may be), written only once every record of the file is acknowledged.

The index is ``<alias>_state``: the events template matches ``<alias>-*``, so a name with a
hyphen there would be created with the events mapping and joined to the read alias.
"""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from elasticsearch import ApiError, Elasticsearch

from indexer.bulk import ElasticsearchUnavailableError
from indexer.notifications import S3Object, normalise_etag

_NDJSON = {"accept": "application/json", "content-type": "application/x-ndjson"}
_MGET_CHUNK = 500


def state_index(alias: str) -> str:
    """The state index of an alias; deliberately outside the ``<alias>-*`` template."""
    return f"{alias}_state"


def state_mapping() -> dict[str, Any]:
    """Strict: a document with a field not listed here is a bug, and is refused."""
    count = {"type": "long"}
    return {
        "dynamic": "strict",
        "properties": {
            "object": {"type": "keyword"},
            "bucket": {"type": "keyword"},
            "key": {"type": "keyword"},
            "etag": {"type": "keyword"},
            "size": count,
            "records": count,
            "indexed": count,
            "already_present": count,
            "rejected": count,
            "problem": {"type": "keyword", "index": False, "doc_values": False},
            "done_at": {"type": "date"},
            "worker": {"type": "keyword"},
        },
    }


@dataclass(frozen=True, slots=True)
class LoadedFile:
    """What the state index records of one file once it is done."""

    object: S3Object
    etag: str | None
    size: int | None
    records: int
    indexed: int
    already_present: int
    rejected: int
    problem: str | None = None


class StateIndex:
    """Reads and writes the state index of one alias."""

    def __init__(self, client: Elasticsearch, alias: str) -> None:
        self._client = client
        self.name = state_index(alias)
        self._worker = f"{socket.gethostname()}:{os.getpid()}"

    def ensure(self) -> None:
        """Create the index if it is missing; several workers may race to do it."""
        if self._client.indices.exists(index=self.name):
            return
        try:
            self._client.indices.create(
                index=self.name,
                settings={"index.number_of_shards": 1, "index.auto_expand_replicas": "0-1"},
                mappings=state_mapping(),
            )
        except ApiError as exc:
            if exc.error != "resource_already_exists_exception":
                raise

    def loaded(self, objects: Sequence[S3Object]) -> set[str]:
        """The URIs among ``objects`` already loaded (with the same ETag, when one is known)."""
        found: set[str] = set()
        for start in range(0, len(objects), _MGET_CHUNK):
            chunk = objects[start : start + _MGET_CHUNK]
            response = self._client.mget(
                index=self.name, ids=[state_document_id(o) for o in chunk], source_includes=["etag"]
            )
            for item, obj in zip(response["docs"], chunk, strict=True):
                if not item.get("found"):
                    continue
                wanted = normalise_etag(obj.etag)
                if wanted is None or item["_source"].get("etag") in (None, wanted):
                    found.add(obj.uri)
        return found

    def record(self, files: Iterable[LoadedFile]) -> None:
        """Mark files done, in one request; raises if any mark was not stored."""
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        lines: list[bytes] = []
        for done in files:
            header = {"index": {"_index": self.name, "_id": state_document_id(done.object)}}
            lines += [orjson.dumps(header), orjson.dumps(self._document(done, now))]
        if not lines:
            return
        response = self._client.perform_request(
            "POST", "/_bulk", headers=_NDJSON, body=b"\n".join(lines) + b"\n"
        )
        if response.body.get("errors"):
            failed = [i["index"] for i in response.body["items"] if i["index"].get("error")]
            raise ElasticsearchUnavailableError(f"state not stored: {failed[0]['error']}")

    def _document(self, done: LoadedFile, now: str) -> dict[str, Any]:
        return {
            "object": done.object.uri,
            "bucket": done.object.bucket,
            "key": done.object.key,
            "etag": normalise_etag(done.etag),
            "size": done.size,
            "records": done.records,
            "indexed": done.indexed,
            "already_present": done.already_present,
            "rejected": done.rejected,
            "problem": done.problem,
            "done_at": now,
            "worker": self._worker,
        }


def state_document_id(obj: S3Object) -> str:
    """An object's document in the state index: a hash, as keys may be longer than an _id."""
    return hashlib.sha256(obj.uri.encode()).hexdigest()
