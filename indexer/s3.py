"""Trail files under an S3 prefix, listing only the day folders asked for.

A trail bucket holds one folder per account, region and day, for years. With ``--since`` or
``--until`` the walk descends CloudTrail's ``YYYY/MM/DD/`` folders and lists only those in
range, so loading last week does not list the last five years.

The endpoint comes from boto3's own configuration (``AWS_ENDPOINT_URL_S3`` and friends).
"""

from __future__ import annotations

import calendar
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import date
from typing import IO, TYPE_CHECKING
from urllib.parse import urlparse

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from common.layout import DayRange, is_trail_file_name
from indexer.notifications import S3Object, normalise_etag
from indexer.reader import WHOLE_FILE_LIMIT
from indexer.sources import (
    SkippedFile,
    SourceError,
    TrailFile,
    not_events_reason,
)
from integrity import is_digest_key

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectTypeDef

_REGION_FOLDER = re.compile(
    r"(?:^|/)CloudTrail(?:-Digest)?/[^/]+/((?:\d{4}/)?(?:\d{2}/)?(?:\d{2}/)?)$"
)


def is_s3_uri(source: str) -> bool:
    """Whether a source names S3 rather than a local path."""
    return source.startswith("s3://")


def s3_files(uri: str, days: DayRange) -> Iterator[TrailFile | SkippedFile]:
    """Every trail file under ``s3://bucket/prefix`` (in key order within each folder)."""
    client: S3Client = boto3.client("s3")
    for found in s3_objects(client, uri, days):
        if isinstance(found, SkippedFile):
            yield found
        else:
            opener = _opener(client, found.bucket, found.key)
            yield TrailFile(found.uri, opener, size=found.size)


def s3_objects(
    client: S3Client, uri: str, days: DayRange, *, digests: bool = False
) -> Iterator[S3Object | SkippedFile]:
    """Like :func:`s3_files`, as objects with their ETag and size (for the state index).

    With ``digests``, digest files are listed too, as objects (their integrity is checked).
    """
    parsed = urlparse(uri)
    bucket, prefix = parsed.netloc, parsed.path.lstrip("/")
    if not bucket:
        raise SourceError(f"{uri}: no bucket named (expected s3://bucket/prefix)")
    try:
        items = (
            _all_items(client, bucket, prefix)
            if days == DayRange()
            else (_items_in_days(client, bucket, prefix, days, digests=digests))
        )
        for item in items:
            key = item["Key"]
            reason = None if digests and is_digest_key(key) else not_events_reason(key)
            if reason is not None:
                yield SkippedFile(f"s3://{bucket}/{key}", reason)
            elif is_trail_file_name(key) and days.admits(key):
                yield S3Object(bucket, key, normalise_etag(item.get("ETag")), item.get("Size"))
    except (ClientError, BotoCoreError) as exc:
        raise SourceError(f"{uri}: {exc}") from None


def _opener(
    client: S3Client, bucket: str, key: str
) -> Callable[[], AbstractContextManager[IO[bytes]]]:
    @contextmanager
    def open_object() -> Iterator[IO[bytes]]:
        # Spooled: small objects stay in memory, large ones go to disk, and the reader gets
        # a seekable file either way.
        with tempfile.SpooledTemporaryFile(max_size=WHOLE_FILE_LIMIT) as spool:
            client.download_fileobj(bucket, key, spool)
            spool.seek(0)
            yield spool

    return open_object


def _all_items(client: S3Client, bucket: str, prefix: str) -> Iterator[ObjectTypeDef]:
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            if not item["Key"].endswith("/"):
                yield item


def _items_in_days(
    client: S3Client, bucket: str, prefix: str, days: DayRange, *, digests: bool = False
) -> Iterator[ObjectTypeDef]:
    """Walk folder by folder, entering only date folders that overlap ``days``."""
    date_part = _REGION_FOLDER.search(prefix)
    if date_part is not None and date_part[1].count("/") == 3:  # noqa: PLR2004  YYYY/MM/DD/
        yield from _all_items(client, bucket, prefix)
        return
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
        yield from page.get("Contents", [])
        for common in page.get("CommonPrefixes", []):
            child = common["Prefix"]
            if not_events_reason(child) is not None and not (digests and is_digest_key(child)):
                continue  # digest and Insights folders: years of files that hold no events
            if _date_folder_overlaps(child, days):
                yield from _items_in_days(client, bucket, child, days, digests=digests)


def _date_folder_overlaps(folder: str, days: DayRange) -> bool:
    """Whether a ``.../CloudTrail/<region>/YYYY[/MM[/DD]]/`` folder can hold days in range."""
    match = _REGION_FOLDER.search(folder)
    if match is None:
        return True
    parts = [int(part) for part in match[1].strip("/").split("/") if part]
    if not parts:
        return True
    year = parts[0]
    first_month, last_month = (parts[1], parts[1]) if len(parts) > 1 else (1, 12)
    first_day = parts[2] if len(parts) > 2 else 1  # noqa: PLR2004
    last_day = parts[2] if len(parts) > 2 else calendar.monthrange(year, last_month)[1]  # noqa: PLR2004
    try:
        return days.overlaps(date(year, first_month, first_day), date(year, last_month, last_day))
    except ValueError:  # not a real date: not one of CloudTrail's folders
        return True
