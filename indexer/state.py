"""Which trail files are loaded, and what is known of their integrity, kept in Elasticsearch.

A worker on a new machine needs no local state to pick up where the last one stopped: it asks
this index. One document per object, ``_id`` the SHA-256 of its ``s3://`` URI (keys may be
longer than an ``_id`` may be); a file counts as loaded once ``done_at`` is set, which is
written only once every record of the file is acknowledged.

With integrity checking on (see :mod:`indexer.integrity`), the same documents hold each log
file's hash and verdict (``kind`` ``log``), each digest's (``kind`` ``digest``), and the gaps
of the chains (``kind`` ``gap``). A log file's verdict is worked out again from its whole
document on every change to it (:func:`integrity.stored_file_verdict`), and the document is
written only if nobody changed it meanwhile (``if_seq_no``), else read and worked out again:
a digest and its files handled at once by two workers cannot leave it wrong.

The index is ``<alias>_state``: the events template matches ``<alias>-*``, so a name with a
hyphen there would be created with the events mapping and joined to the read alias.
"""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from elasticsearch import ApiError, Elasticsearch

from common.indices import state_index
from indexer.bulk import ElasticsearchUnavailableError
from indexer.notifications import S3Object, normalise_etag
from integrity import stored_file_verdict

_CONFLICT = 409
_NDJSON = {"accept": "application/json", "content-type": "application/x-ndjson"}
_MGET_CHUNK = 500


def state_mapping() -> dict[str, Any]:
    """Strict: a document with a field not listed here is a bug, and is refused."""
    count = {"type": "long"}
    keyword = {"type": "keyword"}
    kept = {"type": "keyword", "index": False, "doc_values": False}  # in _source only
    date = {"type": "date"}
    flag = {"type": "boolean"}
    return {
        "dynamic": "strict",
        "properties": {
            "object": keyword,
            "bucket": keyword,
            "key": keyword,
            "etag": keyword,
            "size": count,
            "records": count,
            "indexed": count,
            "already_present": count,
            "rejected": count,
            "problem": kept,
            "done_at": date,
            "worker": keyword,
            # Integrity (indexer/integrity.py): what every kind of document has.
            "kind": keyword,  # log, digest or gap
            "account": keyword,  # whose: tenants see their accounts' files only
            "region": keyword,
            "scope": keyword,  # the account and region folder whose digests cover a file
            "integrity": keyword,  # the verdict
            "integrity_detail": kept,
            "integrity_at": date,  # when the verdict last changed
            # A log file: its hash, and what the digest listing it says.
            "delivered_at": date,
            "sha256": keyword,
            "expected_sha256": keyword,
            "listed_in": keyword,
            "covered": flag,  # a digest of its scope ends after its delivery
            "gone": flag,  # listed, and not in the bucket
            # A digest: what re-checking its signature later needs.
            "trail": keyword,
            "home_region": keyword,
            "digest_start": date,
            "digest_end": date,
            "digest_end_text": kept,
            "fingerprint": keyword,
            "signature": kept,
            "previous_digest": keyword,
            "previous_sha256": keyword,
            "previous_signature": kept,
            # A gap in a chain.
            "gap_start": date,
            "gap_end": date,
            "gap_reason": keyword,
            "gap_before": keyword,
            "gap_after": keyword,
        },
    }


#: Attempts at a change that another worker keeps changing first.
_CONFLICT_ATTEMPTS = 8


#: Documents as read, by URI: their source, sequence number and primary term (None: none).
Versions = dict[str, tuple[dict[str, Any], int, int] | None]


@dataclass(frozen=True, slots=True)
class VerdictChange:
    """A log file whose verdict has just changed."""

    object: str
    verdict: str | None
    detail: str | None
    account: str | None


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

    @property
    def client(self) -> Elasticsearch:
        """The cluster it is in."""
        return self._client

    def ensure(self) -> None:
        """Create the index if it is missing (several workers may race to do it).

        One made by an older TrailQL gets the fields added since.
        """
        if self._client.indices.exists(index=self.name):
            self._client.indices.put_mapping(index=self.name, **state_mapping())
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

    def loaded(self, objects: Sequence[S3Object], versions: Versions | None = None) -> set[str]:
        """The URIs among ``objects`` already loaded (with the same ETag, when one is known).

        With ``versions``, every document read is kept there (None: there is none), for a
        later :meth:`record` to write without reading it again.
        """
        found: set[str] = set()
        for start in range(0, len(objects), _MGET_CHUNK):
            chunk = objects[start : start + _MGET_CHUNK]
            response = self._client.mget(
                index=self.name,
                ids=[state_document_id(o) for o in chunk],
                source_includes=None if versions is not None else ["etag", "done_at"],
            )
            for item, obj in zip(response["docs"], chunk, strict=True):
                if versions is not None:
                    versions[obj.uri] = (
                        (item["_source"], item["_seq_no"], item["_primary_term"])
                        if item.get("found")
                        else None
                    )
                if not item.get("found") or item["_source"].get("done_at") is None:
                    continue  # not there, or only listed by a digest so far
                wanted = normalise_etag(obj.etag)
                if wanted is None or item["_source"].get("etag") in (None, wanted):
                    found.add(obj.uri)
        return found

    def record(
        self,
        files: Iterable[LoadedFile],
        integrity: Mapping[str, dict[str, Any]] | None = None,
        versions: Versions | None = None,
    ) -> list[VerdictChange]:
        """Mark files done, in one request; raises if any mark was not stored.

        With ``integrity`` (fields by URI), each file's integrity fields are merged into its
        document and its verdict worked out again: the changes are returned. ``versions``:
        the documents as :meth:`loaded` read them.
        """
        now = _now()
        if integrity is None:
            lines: list[bytes] = []
            for done in files:
                header = {"index": {"_index": self.name, "_id": state_document_id(done.object)}}
                lines += [orjson.dumps(header), orjson.dumps(self._document(done, now))]
            self._bulk(lines, "index")
            return []
        return self.update(
            {
                done.object.uri: {**self._document(done, now), **integrity.get(done.object.uri, {})}
                for done in files
            },
            now=now,
            versions=versions,
        )

    def update(
        self,
        fields: Mapping[str, dict[str, Any]],
        *,
        now: str | None = None,
        versions: Versions | None = None,
    ) -> list[VerdictChange]:
        """Merge fields into documents by URI (made if missing); the verdicts that changed.

        Each document is read (or taken from ``versions``, as read a moment ago), merged,
        judged and written back only if it has not changed since it was read; one that has
        is read and judged again.
        """
        now = now or _now()
        changes: list[VerdictChange] = []
        pending = dict(fields)
        for attempt in range(_CONFLICT_ATTEMPTS):
            if not pending:
                return changes
            known = versions if attempt == 0 and versions is not None else {}
            current = {uri: known[uri] for uri in pending if known.get(uri) is not None}
            current |= self._versioned([uri for uri in pending if uri not in known])
            lines: list[bytes] = []
            order: list[str] = []
            judged: dict[str, dict[str, Any]] = {}
            for uri, merged in pending.items():
                found = current.get(uri)
                document = {**(found[0] if found else {}), **merged}
                before = document.get("integrity")
                if document.get("kind") == "log":
                    verdict, detail = stored_file_verdict(document)
                    document["integrity"], document["integrity_detail"] = verdict, detail
                    if verdict != before:
                        document["integrity_at"] = now
                        judged[uri] = document
                meta: dict[str, Any] = {"_index": self.name, "_id": uri_document_id(uri)}
                if found is None:
                    action = "create"
                else:
                    action = "index"
                    meta |= {"if_seq_no": found[1], "if_primary_term": found[2]}
                lines += [orjson.dumps({action: meta}), orjson.dumps(document)]
                order.append(uri)
            retry: dict[str, dict[str, Any]] = {}
            for uri, item in zip(order, self._bulk(lines, None), strict=True):
                if item.get("status") == _CONFLICT:
                    retry[uri] = pending[uri]
                elif uri in judged:
                    document = judged[uri]
                    changes.append(
                        VerdictChange(
                            uri,
                            document.get("integrity"),
                            document.get("integrity_detail"),
                            document.get("account"),
                        )
                    )
            pending = retry
        raise ElasticsearchUnavailableError(
            f"state not stored: {len(pending)} documents kept changing under us"
        )

    def _versioned(self, uris: Sequence[str]) -> dict[str, tuple[dict[str, Any], int, int]]:
        """The documents of these URIs that exist, with their sequence numbers."""
        found: dict[str, tuple[dict[str, Any], int, int]] = {}
        for start in range(0, len(uris), _MGET_CHUNK):
            chunk = uris[start : start + _MGET_CHUNK]
            response = self._client.mget(
                index=self.name, ids=[uri_document_id(u) for u in chunk], realtime=True
            )
            for item, uri in zip(response["docs"], chunk, strict=True):
                if item.get("found"):
                    found[uri] = (item["_source"], item["_seq_no"], item["_primary_term"])
        return found

    def put(self, documents: Mapping[str, dict[str, Any]]) -> None:
        """Write whole documents (digests, gaps) under the ids given."""
        lines: list[bytes] = []
        for document_id, document in documents.items():
            header = {"index": {"_index": self.name, "_id": document_id}}
            lines += [orjson.dumps(header), orjson.dumps(document)]
        self._bulk(lines, "index")

    def documents(self, uris: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The documents of these URIs that exist, by URI."""
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(uris), _MGET_CHUNK):
            chunk = uris[start : start + _MGET_CHUNK]
            response = self._client.mget(index=self.name, ids=[uri_document_id(u) for u in chunk])
            for item, uri in zip(response["docs"], chunk, strict=True):
                if item.get("found"):
                    found[uri] = item["_source"]
        return found

    def search(
        self, query: dict[str, Any], *, size: int = 1, **request: Any
    ) -> list[dict[str, Any]]:
        """The sources of documents matching ``query``."""
        response = self._client.search(index=self.name, query=query, size=size, **request)
        return [hit["_source"] for hit in response["hits"]["hits"]]

    def refresh(self) -> None:
        """Make what was just written searchable."""
        self._client.indices.refresh(index=self.name)

    def _bulk(self, lines: list[bytes], action: str | None) -> list[dict[str, Any]]:
        """Send; the items' answers. ``action`` None: conflicts (409) are the caller's."""
        if not lines:
            return []
        response = self._client.perform_request(
            "POST", "/_bulk", headers=_NDJSON, body=b"\n".join(lines) + b"\n"
        )
        items = [next(iter(item.values())) for item in response.body["items"]]
        if response.body.get("errors"):
            failed = [
                item
                for item in items
                if item.get("error") and (action is not None or item.get("status") != _CONFLICT)
            ]
            if failed:
                raise ElasticsearchUnavailableError(f"state not stored: {failed[0]['error']}")
        return items

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
    return uri_document_id(obj.uri)


def uri_document_id(uri: str) -> str:
    """The document of the file at ``uri`` (``s3://…``, or a path) in the state index."""
    return hashlib.sha256(uri.encode()).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
