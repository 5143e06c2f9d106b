"""Downloading trail files from S3 a few ahead of the one being read.

Reading a file (parsing, serialising) and fetching the next ones overlap: S3 answers in tens
of milliseconds per object, which would otherwise be paid one file after another.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Self

from indexer.notifications import S3Object, normalise_etag

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_SPOOL_IN_MEMORY = 8 * 1024 * 1024  # larger downloads go to a temporary file
_COPY_CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Fetched:
    """One object's bytes (seekable, as the reader needs) and what S3 said of them."""

    body: IO[bytes]
    etag: str | None
    size: int | None


def download(s3: S3Client, obj: S3Object) -> Fetched:
    """The object as it is now, with the ETag of exactly these bytes."""
    response = s3.get_object(Bucket=obj.bucket, Key=obj.key)
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # noqa: SIM115
    try:
        with response["Body"] as body:
            shutil.copyfileobj(body, spool, _COPY_CHUNK)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return Fetched(spool, normalise_etag(response.get("ETag")), response.get("ContentLength"))


class Prefetch:
    """The objects in order, each with its download, started up to ``ahead`` in advance.

    Leaving early (an exception) cancels the downloads not started and closes those done.
    """

    def __init__(
        self, fetch: Callable[[S3Object], Fetched], objects: Sequence[S3Object], ahead: int
    ) -> None:
        self._fetch = fetch
        self._objects = objects
        self._ahead = ahead
        self._pool = ThreadPoolExecutor(max_workers=ahead, thread_name_prefix="s3-get")
        self._futures: dict[int, Future[Fetched]] = {}

    def __iter__(self) -> Iterator[tuple[S3Object, Future[Fetched]]]:
        for position, obj in enumerate(self._objects):
            for upcoming in range(position, min(position + self._ahead + 1, len(self._objects))):
                if upcoming not in self._futures:
                    self._futures[upcoming] = self._pool.submit(
                        self._fetch, self._objects[upcoming]
                    )
            yield obj, self._futures.pop(position)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        for future in self._futures.values():
            if not future.cancelled() and future.exception() is None:
                future.result().body.close()
