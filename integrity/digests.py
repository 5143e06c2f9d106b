"""A digest file's content: the hour it covers, the files it lists, the digest before it.

Hashes are hex SHA-256 of the uncompressed bytes, of log files and of digests alike.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

#: A digest lists an hour's files: a few thousand at most. Anything far larger is not one,
#: and is not decompressed past this (a small gzip can unpack to gigabytes).
MAX_DIGEST_BYTES = 64 * 1024 * 1024
HASH_ALGORITHM = "SHA-256"
SIGNATURE_ALGORITHM = "SHA256withRSA"

_REQUIRED = (
    "digestStartTime",
    "digestEndTime",
    "digestS3Bucket",
    "digestS3Object",
    "digestPublicKeyFingerprint",
    "previousDigestSignature",
    "logFiles",
)


class DigestFormatError(ValueError):
    """Not a digest: not gzip, not JSON, or without the fields every digest has."""


@dataclass(frozen=True, slots=True)
class ListedFile:
    """One log file a digest lists, and the hash it had when CloudTrail delivered it."""

    bucket: str
    key: str
    sha256: str


@dataclass(frozen=True, slots=True)
class Digest:
    """The fields of a digest that verification reads."""

    start: datetime
    end: datetime
    #: ``digestEndTime`` exactly as written: the signed text holds it so.
    end_text: str
    bucket: str
    key: str
    fingerprint: str
    signature_algorithm: str
    previous_bucket: str | None
    previous_key: str | None
    previous_sha256: str | None
    previous_signature: str | None
    log_files: tuple[ListedFile, ...]
    account: str | None = None

    @property
    def starts_chain(self) -> bool:
        """Whether no digest comes before it (the first, or the first after a gap)."""
        return self.previous_key is None


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256, as digests write hashes."""
    return hashlib.sha256(data).hexdigest()


def gunzip_digest(data: bytes) -> bytes:
    """A digest's bytes uncompressed (left as they are when they are not gzip)."""
    if data[:2] != b"\x1f\x8b":
        return data
    decompressor = zlib.decompressobj(wbits=31)
    try:
        out = decompressor.decompress(data, MAX_DIGEST_BYTES + 1)
    except zlib.error as exc:
        raise DigestFormatError(f"damaged gzip data: {exc}") from None
    if len(out) > MAX_DIGEST_BYTES:
        raise DigestFormatError(f"larger than {MAX_DIGEST_BYTES // (1024 * 1024)} MiB unpacked")
    if not decompressor.eof:
        raise DigestFormatError("the gzip data ends before its end-of-stream marker")
    return out


def parse_digest(uncompressed: bytes) -> Digest:
    """A digest from its uncompressed bytes; :class:`DigestFormatError` says what is wrong."""
    try:
        content = orjson.loads(uncompressed)
    except orjson.JSONDecodeError as exc:
        raise DigestFormatError(f"invalid JSON: {exc}") from None
    if not isinstance(content, dict):
        raise DigestFormatError("the JSON is not an object")
    absent = [name for name in _REQUIRED if name not in content]
    if absent:
        raise DigestFormatError(f"no {', '.join(absent)}")
    listed = content["logFiles"]
    if not isinstance(listed, list):
        raise DigestFormatError("logFiles is not a list")
    end_text = _text(content, "digestEndTime")
    previous_key = _optional_text(content, "previousDigestS3Object")
    return Digest(
        start=_time(content, "digestStartTime"),
        end=_time(content, "digestEndTime"),
        end_text=end_text,
        bucket=_text(content, "digestS3Bucket"),
        key=_text(content, "digestS3Object"),
        fingerprint=_text(content, "digestPublicKeyFingerprint"),
        signature_algorithm=str(content.get("digestSignatureAlgorithm") or SIGNATURE_ALGORITHM),
        previous_bucket=_optional_text(content, "previousDigestS3Bucket"),
        previous_key=previous_key,
        previous_sha256=_hash(content, "previousDigestHashValue", "previousDigestHashAlgorithm")
        if previous_key is not None
        else None,
        previous_signature=_optional_text(content, "previousDigestSignature"),
        log_files=tuple(_listed(entry, number) for number, entry in enumerate(listed, start=1)),
        account=_optional_text(content, "awsAccountId"),
    )


def _listed(entry: Any, number: int) -> ListedFile:
    if not isinstance(entry, dict):
        raise DigestFormatError(f"logFiles[{number}] is not an object")
    try:
        return ListedFile(
            bucket=_text(entry, "s3Bucket"),
            key=_text(entry, "s3Object"),
            sha256=_hash(entry, "hashValue", "hashAlgorithm"),
        )
    except DigestFormatError as exc:
        raise DigestFormatError(f"logFiles[{number}]: {exc}") from None


def _text(content: dict[str, Any], name: str) -> str:
    value = content.get(name)
    if not isinstance(value, str) or not value:
        raise DigestFormatError(f"{name} is not a text")
    return value


def _optional_text(content: dict[str, Any], name: str) -> str | None:
    return None if content.get(name) is None else _text(content, name)


def _hash(content: dict[str, Any], value: str, algorithm: str) -> str:
    named = content.get(algorithm, HASH_ALGORITHM)
    if named != HASH_ALGORITHM:
        raise DigestFormatError(f"{algorithm} {named!r} is not {HASH_ALGORITHM}")
    hex_value = _text(content, value).lower()
    if len(hex_value) != 64 or any(c not in "0123456789abcdef" for c in hex_value):  # noqa: PLR2004
        raise DigestFormatError(f"{value} is not a hex SHA-256")
    return hex_value


def _time(content: dict[str, Any], name: str) -> datetime:
    text = _text(content, name)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise DigestFormatError(f"{name} {text!r} is not a time") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
