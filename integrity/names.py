"""Where CloudTrail puts its files, read back from their keys.

Log files: ``[prefix/]AWSLogs/[o-org/]<account>/CloudTrail/<region>/YYYY/MM/DD/
<account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<unique>.json.gz``, the time being when the
file was delivered, to the minute. Digest files: ``…/CloudTrail-Digest/<region>/YYYY/MM/DD/
<account>_CloudTrail-Digest_<region>_<trail>_<home region>_<YYYYMMDDTHHMMSSZ>[_backfill]
.json.gz``, the time being the digest's end.

A file is found at a :class:`Location`: a bucket and key in S3, or a path in a folder. A
folder is a copy of some bucket, so there the bucket is unknown and the key is the path from
its ``AWSLogs/`` folder on, which is how the digests' keys are compared with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

_ACCOUNT_FOLDER = r"AWSLogs/(?:(?P<org>o-[a-z0-9]+)/)?(?P<account>\d{12})/"
_DAY = r"(?P<year>\d{4})/(?P<month>\d{2})/(?P<day>\d{2})/"
_REGION = r"[a-z]{2}(?:-[a-z]+)+-\d+"
_DIGEST = re.compile(
    rf"^(?P<prefix>(?:.*/)?){_ACCOUNT_FOLDER}CloudTrail-Digest/(?P<region>[^/]+)/{_DAY}"
    rf"(?P=account)_CloudTrail-Digest_(?P=region)_(?P<trail>.+)_(?P<home>{_REGION})_"
    r"(?P<time>\d{8}T\d{6}Z)(?P<backfill>_backfill)?\.json\.gz$"
)
_LOG_FILE = re.compile(
    rf"^(?P<prefix>(?:.*/)?){_ACCOUNT_FOLDER}CloudTrail/(?P<region>[^/]+)/{_DAY}"
    r"(?P=account)_CloudTrail_(?P=region)_(?P<time>\d{8}T\d{4}Z)_[^/]+$"
)
_AWS_LOGS = re.compile(r"(?:^|/)(AWSLogs/.*)$")
_DIGEST_FOLDER = "/CloudTrail-Digest/"
_NOT_LOG_FILES = ("/CloudTrail-Digest/", "/CloudTrail-Insight/")


@dataclass(frozen=True, slots=True, order=True)
class Location:
    """Where a file was found: ``bucket`` None for a folder, whose ``key`` is then its tail.

    ``path`` is the file's own path in a folder, for people; it plays no part in comparisons.
    """

    bucket: str | None
    key: str
    path: str | None = field(default=None, compare=False)

    def __str__(self) -> str:
        if self.bucket is None:
            return self.path or self.key
        return f"s3://{self.bucket}/{self.key}"

    def names(self, bucket: str, key: str) -> bool:
        """Whether this is where a digest says ``bucket``/``key`` is (in a folder: by tail)."""
        if self.bucket is None:
            return self.key == tail(key)
        return self.bucket == bucket and self.key == key


def tail(path: str) -> str:
    """A path from its ``AWSLogs/`` folder on (the whole path when it has none)."""
    found = _AWS_LOGS.search(path)
    return found[1] if found else path.lstrip("/")


def located(bucket: str, key: str, *, in_folder: bool) -> Location:
    """Where a file a digest names would be found, in S3 or in a folder copy."""
    return Location(None, tail(key)) if in_folder else Location(bucket, key)


def is_digest_key(key: str) -> bool:
    """Whether a key is in a CloudTrail-Digest folder."""
    return _DIGEST_FOLDER in f"/{key}"


def is_log_file_key(key: str) -> bool:
    """Whether a key may hold events (digests and Insights files do not)."""
    return not any(marker in f"/{key}" for marker in _NOT_LOG_FILES)


@dataclass(frozen=True, slots=True)
class Scope:
    """One account and region of one bucket (or folder): digests there cover its log files."""

    bucket: str | None
    account_folder: str  # ``[prefix/]AWSLogs/[o-org/]<account>/``
    region: str

    @property
    def account(self) -> str:
        """The 12-digit account."""
        return self.account_folder.rstrip("/").rsplit("/", 1)[-1]

    def __str__(self) -> str:
        bucket = "" if self.bucket is None else f"s3://{self.bucket}/"
        return f"{bucket}{self.account_folder}CloudTrail/{self.region}/"


@dataclass(frozen=True, slots=True)
class DigestName:
    """What a digest's key says: its trail, its scope, the end of the hour it covers."""

    scope: Scope
    trail: str
    home_region: str
    end: datetime
    backfill: bool

    @property
    def trail_id(self) -> str:
        """One chain per trail, per account and region it delivers."""
        return f"{self.scope}|{self.trail}|{self.home_region}"


@dataclass(frozen=True, slots=True)
class LogFileName:
    """What a log file's key says: its scope and when it was delivered (to the minute)."""

    scope: Scope
    delivered: datetime


def digest_name(location: Location) -> DigestName | None:
    """The parts of a digest's key; None when the key is not laid out as CloudTrail's."""
    match = _DIGEST.match(location.key)
    if match is None:
        return None
    end = _time(match["time"], "%Y%m%dT%H%M%SZ")
    if end is None:
        return None
    return DigestName(
        _scope(location.bucket, match),
        match["trail"],
        match["home"],
        end,
        match["backfill"] is not None,
    )


def log_file_name(location: Location) -> LogFileName | None:
    """The parts of a log file's key; None when it is not named as CloudTrail names them."""
    match = _LOG_FILE.match(location.key)
    if match is None:
        return None
    delivered = _time(match["time"], "%Y%m%dT%H%MZ")
    return None if delivered is None else LogFileName(_scope(location.bucket, match), delivered)


def _scope(bucket: str | None, match: re.Match[str]) -> Scope:
    org = f"{match['org']}/" if match["org"] else ""
    folder = f"{match['prefix']}AWSLogs/{org}{match['account']}/"
    return Scope(bucket, folder, match["region"])


def _time(text: str, layout: str) -> datetime | None:
    try:
        return datetime.strptime(text, layout).replace(tzinfo=UTC)
    except ValueError:
        return None
