"""Persisted queries: Apollo's automatic persisted queries, and an allow-list for production.

Automatic persisted queries (APQ): a client sends ``extensions.persistedQuery.sha256Hash``
instead of the document; a hash this process has not seen is answered
``PersistedQueryNotFound``, and the client sends the document with its hash once, which
registers it. Documents are text, the same for every tenant; answers are never kept here.
What is remembered is bounded in bytes (least recently used go first), and each process has
its own memory: a hash registered on one is simply registered again on another.

The allow-list (``TRAILQL_PERSISTED_QUERIES_ONLY`` with ``TRAILQL_PERSISTED_QUERIES_MANIFEST``)
accepts only the operations of a manifest, by ID (sent as ``sha256Hash``; the SHA-256 of a
document always works too) or by their exact text; nothing is registered. A manifest is what
the clients' tools write: Apollo's ``persisted-query-manifest.json`` (``{"format":
"apollo-persisted-query-manifest", "version": 1, "operations": [{"id", "name", "type",
"body"}]}``) or Relay's ``persisted_queries.json`` (``{"<id>": "<document>"}``). Without
``…_ONLY``, a manifest's operations are known from the start and never forgotten.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cachetools import LRUCache
from graphql import GraphQLError

from api.errors import ErrorCode, user_error

#: What Apollo's clients match on, so their link retries with the document.
NOT_FOUND_MESSAGE = "PersistedQueryNotFound"
#: The longest ID a request or a manifest may use (SHA-256 in hex is 64 characters).
_MAX_ID = 128
#: An ID as a request may send it: a SHA-256 in hex, or a manifest's own (Relay's MD5, say).
_ID = re.compile(rf"[A-Za-z0-9_.:-]{{1,{_MAX_ID}}}")
#: Largest manifest read (a guard; real ones are kilobytes to a few megabytes).
_MAX_MANIFEST_BYTES = 64 * 1024 * 1024
_APOLLO_FORMAT = "apollo-persisted-query-manifest"


class PersistedQueryConfigError(Exception):
    """The persisted-query settings cannot work (no manifest, or one that cannot be read)."""


class PersistedQueryError(Exception):
    """A request's persisted query cannot be answered: the GraphQL error to answer with."""

    def __init__(self, error: GraphQLError) -> None:
        super().__init__(error.message)
        self.error = error


def sha256_of(document: str) -> str:
    """The hash APQ names a document by: SHA-256 of its UTF-8 text, in hex."""
    return hashlib.sha256(document.encode()).hexdigest()


@dataclass(frozen=True)
class Manifest:
    """The operations of a manifest: by their ID and by their SHA-256; and those hashes."""

    by_id: dict[str, str]
    hashes: frozenset[str]

    @classmethod
    def read(cls, path: Path) -> Manifest:
        """Read an Apollo or Relay manifest; PersistedQueryConfigError says what is wrong."""
        try:
            if path.stat().st_size > _MAX_MANIFEST_BYTES:
                raise PersistedQueryConfigError(f"{path} is larger than 64 MiB")
            parsed = json.loads(path.read_bytes())
        except OSError as exc:
            raise PersistedQueryConfigError(f"cannot read {path}: {exc.strerror}") from None
        except ValueError as exc:
            raise PersistedQueryConfigError(f"{path} is not JSON: {exc}") from None
        by_id = _apollo(parsed, path) if _is_apollo(parsed) else _relay(parsed, path)
        by_hash = {sha256_of(document): document for document in by_id.values()}
        return cls(by_hash | by_id, frozenset(by_hash))


def _is_apollo(parsed: object) -> bool:
    return isinstance(parsed, dict) and parsed.get("format") == _APOLLO_FORMAT


def _apollo(parsed: dict[str, Any], path: Path) -> dict[str, str]:
    if parsed.get("version") != 1:
        raise PersistedQueryConfigError(f"{path}: only version 1 of Apollo's manifest is known")
    operations = parsed.get("operations")
    if not isinstance(operations, list):
        raise PersistedQueryConfigError(f"{path}: 'operations' must be a list")
    by_id: dict[str, str] = {}
    for number, operation in enumerate(operations):
        where = f"{path}: operation {number}"
        if not isinstance(operation, dict):
            raise PersistedQueryConfigError(f"{where} is not an object")
        identifier, body = operation.get("id"), operation.get("body")
        if not isinstance(identifier, str) or not isinstance(body, str):
            raise PersistedQueryConfigError(f"{where} needs a string 'id' and 'body'")
        if identifier != sha256_of(body):
            raise PersistedQueryConfigError(f"{where}: 'id' is not the SHA-256 of 'body'")
        by_id[identifier] = body
    return by_id


def _relay(parsed: object, path: Path) -> dict[str, str]:
    if not isinstance(parsed, dict):
        raise PersistedQueryConfigError(
            f"{path} is neither Apollo's manifest nor Relay's (an object of ID -> document)"
        )
    by_id: dict[str, str] = {}
    for identifier, document in parsed.items():
        if not isinstance(document, str) or not 0 < len(identifier) <= _MAX_ID:
            raise PersistedQueryConfigError(
                f"{path}: {identifier[:_MAX_ID]!r} must map an ID of 1 to {_MAX_ID} characters "
                "to a document (a string)"
            )
        by_id[identifier] = document
    return by_id


def _entry_size(document: str) -> int:
    return len(document) + 100  # the text, and roughly its key and the cache's bookkeeping


class PersistedQueries:
    """Which document a request runs: its own, a registered one, or one from the manifest."""

    def __init__(self, manifest: Manifest | None, *, only: bool, cache_bytes: int) -> None:
        if only and manifest is None:
            raise PersistedQueryConfigError(
                "TRAILQL_PERSISTED_QUERIES_ONLY needs TRAILQL_PERSISTED_QUERIES_MANIFEST: the "
                "file of operations to allow (Apollo's or Relay's manifest)"
            )
        self._manifest = manifest or Manifest({}, frozenset())
        self._only = only
        self._registered: LRUCache[str, str] = LRUCache(
            maxsize=max(cache_bytes, 1), getsizeof=_entry_size
        )
        self._cache_bytes = cache_bytes

    @property
    def only(self) -> bool:
        """Whether only the manifest's operations are accepted."""
        return self._only

    def document(self, query: str | None, extensions: dict[str, Any] | None) -> str | None:
        """The document to run (None: the request has none, which the caller refuses).

        Raises:
            PersistedQueryError: the hash is unknown or does not match, the document is not
                in the allow-list, or the request's persisted query is malformed.
        """
        persisted = (extensions or {}).get("persistedQuery")
        if persisted is None:
            if query is not None and self._only and sha256_of(query) not in self._manifest.hashes:
                raise _not_in_list()
            return query
        identifier = _identifier(persisted)
        if query is None:
            return self._known(identifier)
        if sha256_of(query) != identifier:
            raise PersistedQueryError(
                user_error(
                    ErrorCode.PERSISTED_QUERY_HASH_MISMATCH,
                    "the document's SHA-256 is not extensions.persistedQuery.sha256Hash; "
                    "send the hash of exactly the text sent.",
                )
            )
        if self._only:
            if identifier not in self._manifest.hashes:
                raise _not_in_list()
        elif _entry_size(query) <= self._cache_bytes:
            self._registered[identifier] = query
        return query

    def _known(self, identifier: str) -> str:
        document = self._manifest.by_id.get(identifier)
        if document is None and not self._only:
            document = self._registered.get(identifier)
        if document is None:
            raise PersistedQueryError(
                user_error(ErrorCode.PERSISTED_QUERY_NOT_FOUND, NOT_FOUND_MESSAGE)
            )
        return document


def _identifier(persisted: object) -> str:
    if not isinstance(persisted, dict):
        raise _malformed("extensions.persistedQuery must be an object.")
    if persisted.get("version") != 1:
        raise PersistedQueryError(
            user_error(
                ErrorCode.PERSISTED_QUERY_NOT_SUPPORTED,
                "only version 1 of persisted queries is supported "
                "(extensions.persistedQuery.version: 1).",
            )
        )
    identifier = persisted.get("sha256Hash")
    if not isinstance(identifier, str) or not _ID.fullmatch(identifier):
        raise _malformed(
            "extensions.persistedQuery.sha256Hash must be the document's SHA-256 in hex (or "
            f"an ID of the manifest): 1 to {_MAX_ID} letters, digits and ._:-"
        )
    return identifier


def _malformed(message: str) -> PersistedQueryError:
    return PersistedQueryError(user_error(ErrorCode.BAD_REQUEST, message))


def _not_in_list() -> PersistedQueryError:
    return PersistedQueryError(
        user_error(
            ErrorCode.PERSISTED_QUERY_NOT_IN_LIST,
            "this server runs only the operations of its persisted-query manifest, and this "
            "document is not one of them.",
        )
    )
