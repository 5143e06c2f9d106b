"""What a verification looks at: the log files and digests under folders and S3 prefixes.

A folder is a copy of a bucket: its digests have lost their S3 metadata, unless a signature
was kept beside each, in ``<digest>.sig`` (hex, as in ``x-amz-meta-signature``), as
``trailql generate --digests`` writes them.
"""

from __future__ import annotations

import hashlib
import os
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlparse

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from common.layout import DayRange, is_trail_file_name
from integrity.digests import MAX_DIGEST_BYTES
from integrity.names import Location, is_digest_key, is_log_file_key, tail

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

#: Beside a digest in a folder: its signature, as S3 keeps it in the object's metadata.
SIGNATURE_SUFFIX = ".sig"
_CHUNK = 1024 * 1024


class InventoryError(Exception):
    """A source that cannot be listed at all: a missing folder, an unknown bucket."""


class FileReadError(Exception):
    """A file listed a moment ago that cannot be read now."""


@dataclass(frozen=True, slots=True)
class FoundFile:
    """A file found, and how to read it."""

    location: Location
    open: Callable[[], IO[bytes]]
    #: A digest's signature from its S3 metadata or the file beside it; None: there is none.
    signature: Callable[[], str | None] | None = None
    size: int | None = None


@dataclass(frozen=True, slots=True)
class _Walked:
    """One source walked: the files it would have shown, had they been there."""

    bucket: str | None
    prefix: str  # an S3 key prefix, or a folder's tail from AWSLogs/ ("" above it)

    def covers(self, location: Location) -> bool:
        if self.bucket is None:
            return location.bucket is None and location.key.startswith(self.prefix)
        return location.bucket == self.bucket and location.key.startswith(self.prefix)


@dataclass
class Inventory:
    """The files found, and where was looked."""

    log_files: list[FoundFile] = field(default_factory=list)
    digests: list[FoundFile] = field(default_factory=list)
    days: DayRange = field(default_factory=DayRange)
    walked: list[_Walked] = field(default_factory=list)

    @property
    def in_folders(self) -> bool:
        """Whether any source is a folder (then files are matched by their AWSLogs/ tail)."""
        return any(walked.bucket is None for walked in self.walked)

    def would_find(self, location: Location) -> bool:
        """Whether a file there would have been found, had it been there."""
        return self.days.admits(location.key) and any(w.covers(location) for w in self.walked)


def take_inventory(sources: Sequence[str], days: DayRange, s3: S3Client | None = None) -> Inventory:
    """Every log file and digest under ``sources`` in the day folders of ``days``.

    Raises:
        InventoryError: a source cannot be listed (a missing folder, an unknown bucket).
    """
    inventory = Inventory(days=days)
    for source in sources:
        if source.startswith("s3://"):
            client = s3 if s3 is not None else boto3.session.Session().client("s3")
            found = _s3_files(client, source, days, inventory)
        else:
            found = _folder_files(Path(source), days, inventory)
        for item in found:
            if is_digest_key(item.location.key):
                inventory.digests.append(item)
            elif is_log_file_key(item.location.key):
                inventory.log_files.append(item)
    return inventory


def _folder_files(folder: Path, days: DayRange, inventory: Inventory) -> Iterator[FoundFile]:
    if not folder.is_dir():
        raise InventoryError(f"{folder}: no such folder")
    root = str(folder.resolve())
    inventory.walked.append(_Walked(None, _folder_tail(root)))
    for path in sorted(_files_below(root)):
        location = Location(None, tail(_posix(path)), path)
        if not days.admits(location.key):
            continue
        signature = _signature_beside(path) if is_digest_key(location.key) else None
        yield FoundFile(location, _opener(path), signature)


def _folder_tail(root: str) -> str:
    """A folder's path from its AWSLogs/ folder on, with a slash ("" above AWSLogs/)."""
    parts = _posix(root).split("/")
    if "AWSLogs" not in parts:
        return ""
    return "/".join(parts[parts.index("AWSLogs") :]) + "/"


def _files_below(folder: str) -> Iterator[str]:
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                yield from _files_below(entry.path)
            elif is_trail_file_name(entry.name) and entry.is_file():
                yield entry.path


def _posix(path: str) -> str:
    return path if os.sep == "/" else path.replace(os.sep, "/")


def _opener(path: str) -> Callable[[], IO[bytes]]:
    return lambda: open(path, "rb")  # noqa: PTH123  the caller closes it


def _signature_beside(path: str) -> Callable[[], str | None]:
    def signature() -> str | None:
        try:
            with open(path + SIGNATURE_SUFFIX, encoding="ascii") as beside:  # noqa: PTH123
                return beside.read().strip() or None
        except (OSError, UnicodeDecodeError):
            return None

    return signature


def _s3_files(
    client: S3Client, uri: str, days: DayRange, inventory: Inventory
) -> Iterator[FoundFile]:
    parsed = urlparse(uri)
    bucket, prefix = parsed.netloc, parsed.path.lstrip("/")
    if not bucket:
        raise InventoryError(f"{uri}: no bucket named (expected s3://bucket/prefix)")
    inventory.walked.append(_Walked(bucket, prefix))
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                key = item["Key"]
                if key.endswith("/") or not is_trail_file_name(key) or not days.admits(key):
                    continue
                found = _S3Object(client, bucket, key)
                digest = is_digest_key(key)
                yield FoundFile(
                    Location(bucket, key),
                    found.open,
                    found.signature if digest else None,
                    item.get("Size"),
                )
    except (ClientError, BotoCoreError) as exc:
        raise InventoryError(f"{uri}: {exc}") from None


class _S3Object:
    """One object; its metadata is read with its body (a digest's signature is there)."""

    def __init__(self, client: S3Client, bucket: str, key: str) -> None:
        self._client, self._bucket, self._key = client, bucket, key
        self._metadata: dict[str, str] | None = None

    def open(self) -> IO[bytes]:
        try:
            response = self._client.get_object(Bucket=self._bucket, Key=self._key)
        except (ClientError, BotoCoreError) as exc:
            raise FileReadError(str(exc)) from None
        self._metadata = dict(response.get("Metadata", {}))
        body: Any = response["Body"]
        return body  # type: ignore[no-any-return]  # a StreamingBody reads like a binary file

    def signature(self) -> str | None:
        if self._metadata is None:
            try:
                head = self._client.head_object(Bucket=self._bucket, Key=self._key)
            except (ClientError, BotoCoreError):
                return None
            self._metadata = dict(head.get("Metadata", {}))
        return self._metadata.get("signature")


def read_digest_bytes(found: FoundFile) -> bytes:
    """A digest as stored (gzip), refusing one far larger than any digest is."""
    try:
        with found.open() as stream:
            data = stream.read(MAX_DIGEST_BYTES + 1)
    except OSError as exc:
        raise FileReadError(exc.strerror or str(exc)) from None
    if len(data) > MAX_DIGEST_BYTES:
        raise FileReadError(f"larger than {MAX_DIGEST_BYTES // (1024 * 1024)} MiB")
    return data


@dataclass(frozen=True, slots=True)
class Hashed:
    """A log file's hash, of its uncompressed bytes; ``damage`` if it could not be read whole."""

    sha256: str
    size: int
    damage: str | None = None


def hash_log_file(found: FoundFile) -> Hashed:
    """Hex SHA-256 of a log file's uncompressed bytes, read in chunks."""
    try:
        with found.open() as stream:
            return hash_uncompressed(stream)
    except OSError as exc:
        raise FileReadError(exc.strerror or str(exc)) from None


def hash_uncompressed(stream: IO[bytes]) -> Hashed:
    """Hex SHA-256 of a stream's bytes, gunzipped first when they are gzip (members and all)."""
    digest = hashlib.sha256()
    size = 0
    first = stream.read(_CHUNK)
    if first[:2] != b"\x1f\x8b":
        chunk = first
        while chunk:
            digest.update(chunk)
            size += len(chunk)
            chunk = stream.read(_CHUNK)
        return Hashed(digest.hexdigest(), size)
    decompressor = zlib.decompressobj(wbits=31)
    chunk, inside_member = first, False
    try:
        while chunk:
            out = decompressor.decompress(chunk)
            digest.update(out)
            size += len(out)
            inside_member = not decompressor.eof
            if decompressor.eof:
                # Concatenated gzip members unpack to their concatenation, as gzip does.
                rest = decompressor.unused_data
                decompressor = zlib.decompressobj(wbits=31)
                if rest:
                    chunk = rest
                    continue
            chunk = stream.read(_CHUNK)
    except zlib.error as exc:
        return Hashed(digest.hexdigest(), size, f"damaged gzip data: {exc}")
    if inside_member:
        return Hashed(
            digest.hexdigest(), size, "the gzip data ends before its end-of-stream marker"
        )
    return Hashed(digest.hexdigest(), size)
