"""Digest files, as CloudTrail delivers them every hour when log file validation is on.

Written and signed here with ``cryptography`` directly, independently of the verifying code
(TrailQL's ``integrity`` package), so that each checks the other. For every account and
region, one chain per trail: a digest each hour from the first file's hour to the last one's,
listing the files delivered in it (an hour with none lists none), each digest carrying the
hash and signature of the one before. A pause (logging stopped) has no files and no digests,
and the first digest after it starts a new chain.

The signature goes where S3 keeps it, in the object's metadata: for a folder, in a file
beside the digest, ``<digest>.sig``, which :func:`upload` turns into metadata.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from generator._world import REGIONS
from generator._writer import WrittenFile

SIGNATURE_SUFFIX = ".sig"
_HOUR = 3600
#: Digest hours end this many seconds past the hour, as CloudTrail's do (at some offset).
_HOUR_OFFSET = 31


@dataclass(frozen=True)
class DigestOptions:
    """How to write digests: the key that signs them and where they say they were delivered.

    ``pauses`` are stretches of time with logging stopped; ``backfill_hours`` the first N
    hours (of each account and region) with two files or more whose last file is listed in a
    backfill digest instead; ``other_key_digests`` the positions (0: the first) in each chain
    of digests signed with another key, as a forger would.
    """

    signing_key: Path
    bucket: str = "trailql-generated-trail"
    prefix: str = ""
    trail: str = "management"
    pauses: tuple[tuple[datetime, datetime], ...] = ()
    backfill_hours: int = 0
    other_key_digests: frozenset[int] = field(default_factory=frozenset)

    def paused(self, window_start: int) -> bool:
        """Whether logging is stopped at this epoch second."""
        moment = datetime.fromtimestamp(window_start, UTC)
        return any(start <= moment < end for start, end in self.pauses)


@dataclass(frozen=True)
class WrittenDigests:
    """What was written: how many digests, and the public key list to verify them with."""

    digests: int
    public_keys: dict[str, Any]


def signing_key(path: Path) -> rsa.RSAPrivateKey:
    """The RSA key in ``path`` (PEM); a new 2048-bit one is made and saved if there is none."""
    if not path.exists():
        made = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(
            made.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        path.chmod(0o600)
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise TypeError(f"{path}: not an RSA private key")
    return loaded


def fingerprint(key: rsa.RSAPrivateKey) -> str:
    """Hex MD5 of the public key's DER PKCS#1 form."""
    return hashlib.md5(_public_der(key), usedforsecurity=False).hexdigest()


def public_key_list(
    key: rsa.RSAPrivateKey, valid_from: datetime, valid_until: datetime
) -> dict[str, Any]:
    """The key as ``aws cloudtrail list-public-keys`` prints CloudTrail's."""
    return {
        "PublicKeyList": [
            {
                "Value": base64.b64encode(_public_der(key)).decode(),
                "ValidityStartTime": valid_from.isoformat(),
                "ValidityEndTime": valid_until.isoformat(),
                "Fingerprint": fingerprint(key),
            }
        ]
    }


def _public_der(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.PKCS1
    )


@dataclass
class _Hour:
    end: datetime
    files: list[WrittenFile] = field(default_factory=list)
    backfill: list[WrittenFile] = field(default_factory=list)


def write_digests(
    out: Path, written: list[WrittenFile], options: DigestOptions, *, first: int, last: int
) -> WrittenDigests:
    """Digests for the files written from epoch second ``first`` to ``last``, signed."""
    key = signing_key(options.signing_key)
    other = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if options.other_key_digests
        else None
    )
    by_scope: dict[tuple[str, str], list[WrittenFile]] = defaultdict(list)
    for item in written:
        by_scope[item.account_id, item.region].append(item)
    writer = _DigestWriter(out, options, key, other)
    count = 0
    for (account_id, region), files in sorted(by_scope.items()):
        hours = _hours(files, options, first=first, last=last)
        count += writer.chain(account_id, region, hours)
    begin = datetime.fromtimestamp(first, UTC)
    end = datetime.fromtimestamp(last, UTC)
    keys = public_key_list(key, begin - timedelta(days=1), end + timedelta(days=365))
    return WrittenDigests(count, keys)


def _hours(
    files: list[WrittenFile], options: DigestOptions, *, first: int, last: int
) -> list[_Hour | None]:
    """Each hour of the run in order: its files, or None for an hour logging was stopped."""
    start = first - first % _HOUR - _HOUR + _HOUR_OFFSET  # the hour holding the first minute
    hours: list[_Hour | None] = []
    moment = start
    while moment <= last:
        end = moment + _HOUR
        paused = options.paused(moment) and options.paused(end - 1)  # wholly stopped
        hours.append(None if paused else _Hour(datetime.fromtimestamp(end, UTC)))
        moment = end
    for item in sorted(files, key=lambda f: (f.window_start, f.path.name)):
        hour = hours[(item.window_start - start) // _HOUR]
        if hour is not None:
            hour.files.append(item)
    backfills = 0
    for hour in hours:
        if hour is not None and backfills < options.backfill_hours and len(hour.files) > 1:
            hour.backfill = [hour.files.pop()]
            backfills += 1
    return hours


class _DigestWriter:
    """Writes the chains of one run, signing with ``key`` (or ``other``, as asked)."""

    def __init__(
        self,
        out: Path,
        options: DigestOptions,
        key: rsa.RSAPrivateKey,
        other: rsa.RSAPrivateKey | None,
    ) -> None:
        self._out = out
        self._options = options
        self._key = key
        self._other = other

    def chain(self, account_id: str, region: str, hours: list[_Hour | None]) -> int:
        """One account and region's chain; how many digests it wrote."""
        previous: tuple[str, str, str] | None = None  # key, hash, signature
        position = count = 0
        for hour in hours:
            if hour is None:
                previous = None  # logging stopped: the next digest starts a new chain
                continue
            forged = self._other is not None and position in self._options.other_key_digests
            previous = self._digest(
                account_id,
                region,
                hour,
                files=hour.files,
                signer=self._other if forged and self._other else self._key,
                previous=previous,
            )
            position += 1
            count += 1
            if hour.backfill:
                self._digest(
                    account_id, region, hour, files=hour.backfill, signer=self._key, backfill=True
                )
                count += 1
        return count

    def _digest(
        self,
        account_id: str,
        region: str,
        hour: _Hour,
        *,
        files: list[WrittenFile],
        signer: rsa.RSAPrivateKey,
        previous: tuple[str, str, str] | None = None,
        backfill: bool = False,
    ) -> tuple[str, str, str]:
        """Write one digest and its signature beside it; its key, hash and signature."""
        options = self._options
        end_text = f"{hour.end:%Y-%m-%dT%H:%M:%SZ}"
        start_text = f"{hour.end - timedelta(hours=1):%Y-%m-%dT%H:%M:%SZ}"
        name = (
            f"{account_id}_CloudTrail-Digest_{region}_{options.trail}_{REGIONS[0]}_"
            f"{hour.end:%Y%m%dT%H%M%SZ}{'_backfill' if backfill else ''}.json.gz"
        )
        relative = f"AWSLogs/{account_id}/CloudTrail-Digest/{region}/{hour.end:%Y/%m/%d}/{name}"
        key = options.prefix + relative
        content = {
            "awsAccountId": account_id,
            "digestStartTime": start_text,
            "digestEndTime": end_text,
            "digestS3Bucket": options.bucket,
            "digestS3Object": key,
            # The key CloudTrail's is, whoever signed: a forger claims the real one.
            "digestPublicKeyFingerprint": fingerprint(self._key),
            "digestSignatureAlgorithm": "SHA256withRSA",
            "newestEventTime": max((f.newest_event_time for f in files), default=None),
            "oldestEventTime": min((f.oldest_event_time for f in files), default=None),
            "previousDigestS3Bucket": options.bucket if previous else None,
            "previousDigestS3Object": previous[0] if previous else None,
            "previousDigestHashValue": previous[1] if previous else None,
            "previousDigestHashAlgorithm": "SHA-256" if previous else None,
            "previousDigestSignature": previous[2] if previous else None,
            "logFiles": [
                {
                    "s3Bucket": options.bucket,
                    "s3Object": options.prefix + f.path.relative_to(self._out).as_posix(),
                    "hashValue": f.sha256,
                    "hashAlgorithm": "SHA-256",
                    "newestEventTime": f.newest_event_time,
                    "oldestEventTime": f.oldest_event_time,
                }
                for f in files
            ],
        }
        body = orjson.dumps(content)
        sha256 = hashlib.sha256(body).hexdigest()
        chained = previous[2] if previous else "null"
        signed = f"{end_text}\n{options.bucket}/{key}\n{sha256}\n{chained}"
        signature = signer.sign(signed.encode(), padding.PKCS1v15(), hashes.SHA256()).hex()
        path = self._out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.compress(body, compresslevel=6, mtime=0))
        path.with_name(path.name + SIGNATURE_SUFFIX).write_text(signature + "\n", encoding="ascii")
        return key, sha256, signature
