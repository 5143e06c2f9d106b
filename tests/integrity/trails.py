"""Generated trails to tamper with, in a folder (signatures beside, or none) or in moto's S3.

What a verification must conclude is worked out here from the files themselves, read with the
standard library (gzip, json), never through the integrity package.
"""

from __future__ import annotations

import gzip
import json
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, Self

from botocore.exceptions import ClientError

from generator import SIGNATURE_SUFFIX, DigestOptions, upload

DIGEST_FOLDER = "/CloudTrail-Digest/"
#: Where generated digests say they were delivered.
GENERATED_BUCKET = DigestOptions.bucket


def is_digest(key: str) -> bool:
    return DIGEST_FOLDER in key


def is_backfill(key: str) -> bool:
    return key.endswith("_backfill.json.gz")


def gunzip_json(data: bytes) -> Any:
    return json.loads(gzip.decompress(data))


def gzip_json(value: Any) -> bytes:
    return gzip.compress(json.dumps(value).encode(), mtime=0)


class Trail(Protocol):
    """A trail's files, wherever they are, by key (relative to the trail's root)."""

    sources: list[str]

    def listing(self) -> list[str]: ...

    def read(self, key: str) -> bytes: ...

    def write(self, key: str, data: bytes) -> None:
        """New bytes under a key; a digest keeps the signature it had."""

    def delete(self, key: str) -> None: ...

    def move(self, key: str, to: str) -> None:
        """A file (and a digest's signature) moved to another key."""


class Files(Protocol):
    """Files to read by key: a trail, or the pristine folder it was copied from."""

    def listing(self) -> list[str]: ...

    def read(self, key: str) -> bytes: ...


class PristineFiles:
    """The folder a trail was made from, read once: what the expectations are worked out on."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._keys = sorted(
            p.relative_to(root).as_posix()
            for p in root.rglob("*")
            if p.is_file() and not p.name.endswith(SIGNATURE_SUFFIX)
        )
        self._read: dict[str, bytes] = {}

    def listing(self) -> list[str]:
        return self._keys

    def read(self, key: str) -> bytes:
        if key not in self._read:
            self._read[key] = (self.root / key).read_bytes()
        return self._read[key]


class FolderTrail:
    """A folder copy; with ``signatures`` False, without the ``.sig`` files (offline)."""

    def __init__(self, pristine: Path, root: Path, *, signatures: bool) -> None:
        ignore = None if signatures else shutil.ignore_patterns(f"*{SIGNATURE_SUFFIX}")
        shutil.copytree(pristine, root, ignore=ignore)
        self.root = root
        self.sources = [str(root)]

    def listing(self) -> list[str]:
        return sorted(
            p.relative_to(self.root).as_posix()
            for p in self.root.rglob("*")
            if p.is_file() and not p.name.endswith(SIGNATURE_SUFFIX)
        )

    def read(self, key: str) -> bytes:
        return (self.root / key).read_bytes()

    def write(self, key: str, data: bytes) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def delete(self, key: str) -> None:
        (self.root / key).unlink()
        (self.root / (key + SIGNATURE_SUFFIX)).unlink(missing_ok=True)

    def move(self, key: str, to: str) -> None:
        (self.root / to).parent.mkdir(parents=True, exist_ok=True)
        (self.root / key).rename(self.root / to)
        signature = self.root / (key + SIGNATURE_SUFFIX)
        if signature.exists():
            signature.rename(self.root / (to + SIGNATURE_SUFFIX))


class S3Trail:
    """The bucket the digests name, in moto's S3, signatures in the objects' metadata.

    Its name is the generator's: use as a context manager, which empties and removes it.
    """

    def __init__(self, pristine: Path, s3: Any, bucket: str = GENERATED_BUCKET) -> None:
        self.s3 = s3
        self.bucket = bucket
        s3.create_bucket(Bucket=self.bucket)
        upload(pristine, s3, self.bucket)
        self.sources = [f"s3://{self.bucket}/"]

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        for key in self.listing():
            self.s3.delete_object(Bucket=self.bucket, Key=key)
        self.s3.delete_bucket(Bucket=self.bucket)

    def listing(self) -> list[str]:
        found: list[str] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            found += [item["Key"] for item in page.get("Contents", [])]
        return sorted(found)

    def read(self, key: str) -> bytes:
        return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()  # type: ignore[no-any-return]

    def write(self, key: str, data: bytes) -> None:
        try:
            metadata = self.s3.head_object(Bucket=self.bucket, Key=key)["Metadata"]
        except ClientError:
            metadata = {}
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=data, Metadata=metadata)

    def delete(self, key: str) -> None:
        self.s3.delete_object(Bucket=self.bucket, Key=key)

    def move(self, key: str, to: str) -> None:
        self.s3.copy_object(
            Bucket=self.bucket, Key=to, CopySource={"Bucket": self.bucket, "Key": key}
        )
        self.s3.delete_object(Bucket=self.bucket, Key=key)


@dataclass
class Expected:
    """Verdicts by key, and gaps as (the digest after, reason, start, end)."""

    files: dict[str, str] = field(default_factory=dict)
    digests: dict[str, str] = field(default_factory=dict)
    gaps: set[tuple[str, str, str | None, str]] = field(default_factory=set)


def untouched(trail: Files) -> Expected:
    """Everything valid: what a trail as generated must give."""
    keys = trail.listing()
    return Expected(
        files={key: "valid" for key in keys if not is_digest(key)},
        digests={key: "valid" for key in keys if is_digest(key)},
    )


def listed_keys(trail: Files, digest_key: str) -> list[str]:
    return [entry["s3Object"] for entry in gunzip_json(trail.read(digest_key))["logFiles"]]


def chain(trail: Files, account: str, region: str) -> list[str]:
    """The regular digests of one account and region, oldest first (the names sort so)."""
    folder = f"AWSLogs/{account}/CloudTrail-Digest/{region}/"
    return [k for k in trail.listing() if k.startswith(folder) and not is_backfill(k)]


def a_digest_with_files(trail: Files, account: str, region: str) -> str:
    """A digest in the middle of its chain that lists files."""
    digests = chain(trail, account, region)
    middle = len(digests) // 2
    for key in digests[middle:] + digests[:middle]:
        if listed_keys(trail, key) and key != digests[-1] and key != digests[0]:
            return key
    raise AssertionError("no digest with files")


def neighbours(trail: Files, digest_key: str) -> tuple[str, str]:
    """The digests before and after one in its chain."""
    account, region = digest_key.split("/")[1], digest_key.split("/")[3]
    digests = chain(trail, account, region)
    position = digests.index(digest_key)
    return digests[position - 1], digests[position + 1]


def digest_field(trail: Files, key: str, name: str) -> Any:
    return gunzip_json(trail.read(key))[name]


def offline(trail: Files, expected: Expected) -> Expected:
    """What changes without signatures: a digest no later one names cannot be verified, and
    neither can a backfill (no later digest carries its signature); the files they alone
    list are then not yet covered."""
    keys = trail.listing()
    digests = [k for k in keys if is_digest(k)]
    named = {digest_field(trail, k, "previousDigestS3Object") for k in digests}
    for key in digests:
        if expected.digests.get(key) != "valid":
            continue
        if key in named and not is_backfill(key):
            continue
        expected.digests[key] = "unverifiable"
        for listed in listed_keys(trail, key):
            if expected.files.get(listed) == "valid":
                expected.files[listed] = "not_yet_covered"
    return expected


def verdicts(report: Any) -> Expected:
    """A report in the same terms."""
    return Expected(
        files={r.location.key: r.verdict.value for r in report.files},
        digests={r.location.key: r.verdict.value for r in report.digests},
        gaps={
            (
                gap.after.key,
                gap.reason.value,
                None if gap.start is None else f"{gap.start:%Y-%m-%dT%H:%M:%SZ}",
                f"{gap.end:%Y-%m-%dT%H:%M:%SZ}",
            )
            for gap in report.gaps
        },
    )


def now() -> datetime:
    return datetime.now(UTC)
