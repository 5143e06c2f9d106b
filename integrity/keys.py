"""CloudTrail's public keys: one pair per region, rotated now and then, named by fingerprint.

They come from CloudTrail's ``ListPublicKeys`` (through boto3 and its usual configuration),
or, air-gapped, from the JSON ``aws cloudtrail list-public-keys`` prints:
``{"PublicKeyList": [{"Value", "ValidityStartTime", "ValidityEndTime", "Fingerprint"}]}``,
``Value`` being the DER PKCS#1 key in base64 there (boto3 gives the bytes).
"""

from __future__ import annotations

import base64
import binascii
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import boto3
import orjson
from botocore.exceptions import BotoCoreError, ClientError

#: Keys are asked for around each digest's time: one request covers neighbouring days.
_FETCH_MARGIN = timedelta(days=1)


class PublicKeyError(Exception):
    """Keys that cannot be had: an unreadable file, or CloudTrail out of reach."""


@dataclass(frozen=True, slots=True)
class PublicKey:
    """One of CloudTrail's public keys."""

    fingerprint: str
    der: bytes
    valid_from: datetime | None = None
    valid_until: datetime | None = None


class KeySource(Protocol):
    """Finds the key a digest names."""

    def find(self, fingerprint: str, region: str, when: datetime) -> PublicKey | None:
        """The key of ``fingerprint`` (None when there is none), for a digest of ``when``."""
        ...


def keys_of_listing(listing: object, *, source: str = "the key list") -> list[PublicKey]:
    """Keys from a ``ListPublicKeys`` answer (boto3's, or the AWS CLI's JSON)."""
    entries = listing.get("PublicKeyList") if isinstance(listing, Mapping) else None
    if not isinstance(entries, list):
        raise PublicKeyError(f"{source}: no PublicKeyList (expected list-public-keys output)")
    keys: list[PublicKey] = []
    for number, entry in enumerate(entries, start=1):
        where = f"{source}: PublicKeyList[{number}]"
        if not isinstance(entry, Mapping):
            raise PublicKeyError(f"{where} is not an object")
        fingerprint, value = entry.get("Fingerprint"), entry.get("Value")
        if not isinstance(fingerprint, str) or not fingerprint:
            raise PublicKeyError(f"{where} has no Fingerprint")
        keys.append(
            PublicKey(
                fingerprint,
                _der(value, where),
                _moment(entry.get("ValidityStartTime"), where),
                _moment(entry.get("ValidityEndTime"), where),
            )
        )
    return keys


def read_key_files(paths: Iterable[Path]) -> FixedKeys:
    """Keys from files as ``aws cloudtrail list-public-keys`` prints them (one per region)."""
    keys: list[PublicKey] = []
    for path in paths:
        try:
            listing = orjson.loads(path.read_bytes())
        except OSError as exc:
            raise PublicKeyError(f"{path}: {exc.strerror or exc}") from None
        except orjson.JSONDecodeError as exc:
            raise PublicKeyError(f"{path}: not JSON: {exc}") from None
        keys += keys_of_listing(listing, source=str(path))
    return FixedKeys(keys)


class FixedKeys:
    """A set of keys known up front (from files, or made for tests)."""

    def __init__(self, keys: Iterable[PublicKey]) -> None:
        self._keys = {key.fingerprint: key for key in keys}

    def __len__(self) -> int:
        return len(self._keys)

    def find(self, fingerprint: str, region: str, when: datetime) -> PublicKey | None:  # noqa: ARG002  the protocol's
        """The key of this fingerprint, whatever the region."""
        return self._keys.get(fingerprint)


class CloudTrailKeys:
    """Keys asked of CloudTrail in each digest's home region, remembered; thread-safe.

    Each region is asked once per day of digests: a fingerprint still unknown after that is
    not one of CloudTrail's (the digest was signed by someone else).
    """

    def __init__(self, session: boto3.session.Session | None = None) -> None:
        self._session = session or boto3.session.Session()
        self._keys: dict[str, PublicKey] = {}
        self._asked: set[tuple[str, datetime]] = set()
        self._lock = threading.Lock()

    def find(self, fingerprint: str, region: str, when: datetime) -> PublicKey | None:
        """The key of ``fingerprint``; raises :class:`PublicKeyError` when CloudTrail fails."""
        with self._lock:
            if fingerprint not in self._keys:
                day = when.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
                if (region, day) not in self._asked:
                    self._fetch(region, day - _FETCH_MARGIN, day + 2 * _FETCH_MARGIN)
                    self._asked.add((region, day))
            return self._keys.get(fingerprint)

    def _fetch(self, region: str, start: datetime, end: datetime) -> None:
        try:
            client = self._session.client("cloudtrail", region_name=region)
            token: str | None = None
            while True:
                page: dict[str, Any] = dict(
                    client.list_public_keys(
                        StartTime=start, EndTime=end, **({"NextToken": token} if token else {})
                    )
                )
                for key in keys_of_listing(page, source=f"CloudTrail in {region}"):
                    self._keys[key.fingerprint] = key
                token = page.get("NextToken")
                if not token:
                    return
        except (BotoCoreError, ClientError) as exc:
            raise PublicKeyError(
                f"cannot ask CloudTrail in {region} for its public keys: {exc} "
                "(air-gapped: pass the output of `aws cloudtrail list-public-keys` with "
                "--public-keys FILE)"
            ) from None


def _der(value: object, where: str) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise PublicKeyError(f"{where}: Value is not base64") from None
    raise PublicKeyError(f"{where}: Value is neither bytes nor base64 text")


def _moment(value: object, where: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        moment = datetime.fromtimestamp(value, UTC)  # the AWS CLI v1 prints epoch seconds
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise PublicKeyError(f"{where}: {value!r} is not a time") from None
    else:
        raise PublicKeyError(f"{where}: a validity time that is not a time")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
