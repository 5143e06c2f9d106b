"""Records out of one trail file, whatever shape it came in.

CloudTrail writes gzip JSON ``{"Records": [...]}``; people also hand us plain JSON, arrays of
records (as published samples are) and one record per line. Ordinary files are parsed whole
with orjson; a file larger than :data:`WHOLE_FILE_LIMIT` is streamed, so memory stays
bounded whatever the file's size. A damaged file still gives up every record before the
damage, then says what is wrong with it.

What orjson refuses but a careless producer writes is still read, record by record, when it
can be without guessing: a UTF-8 byte-order mark, bytes that are not UTF-8 (kept as they are,
for the record's quarantine), control characters inside strings, and nesting deeper than
orjson goes. NaN and Infinity, which are not JSON, are not.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, Protocol

import ijson
import orjson

#: Files up to this size (uncompressed) are parsed in one go; larger ones are streamed.
WHOLE_FILE_LIMIT = 32 * 1024 * 1024

_READ_CHUNK = 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
_BYTE_ORDER_MARK = b"\xef\xbb\xbf"
_RECORDS_FIRST = re.compile(rb'^\s*\{\s*"Records"\s*:')
_DECOMPRESSION_ERRORS = (EOFError, zlib.error)


class TrailFileError(Exception):
    """The file as a whole cannot be read (past the records already yielded)."""


@dataclass(frozen=True, slots=True)
class UnreadableRecord:
    """One line of a JSON-lines file that is not JSON; the rest of the file is still read."""

    reason: str
    raw: bytes = b""


def read_records(trail_file: IO[bytes], content_hash: Hasher | None = None) -> Iterator[Any]:
    """Yield each record of a seekable binary file, then raise if the file is damaged.

    ``content_hash`` is fed every byte of the file once uncompressed (as CloudTrail's digests
    hash them), read to its end even past what parsing needs.
    """
    magic = trail_file.read(2)
    trail_file.seek(0)
    unpacked: IO[bytes] | _Gunzip = _Gunzip(trail_file) if magic == _GZIP_MAGIC else trail_file
    stream = unpacked if content_hash is None else _Hashing(unpacked, content_hash)
    chunks: list[bytes] = []
    size = 0
    try:
        while size <= WHOLE_FILE_LIMIT:
            chunk = stream.read(_READ_CHUNK)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except _DECOMPRESSION_ERRORS as exc:
        yield from _salvage(b"".join(chunks).removeprefix(_BYTE_ORDER_MARK))
        raise TrailFileError(f"damaged gzip data: {exc}") from None
    head = b"".join(chunks).removeprefix(_BYTE_ORDER_MARK)
    if size <= WHOLE_FILE_LIMIT:
        yield from _parse_whole(head)
    else:
        yield from _parse_stream(io.BufferedReader(_ChainedReader(head, stream)))
        if content_hash is not None:  # whatever follows the records (a newline, spaces)
            with contextlib.suppress(*_DECOMPRESSION_ERRORS):
                while stream.read(_READ_CHUNK):
                    pass


class Hasher(Protocol):
    """What ``hashlib`` hashes offer that reading needs."""

    def update(self, data: bytes, /) -> None:
        """Take more bytes."""
        ...


class _Hashing:
    """A stream whose every byte read is fed to a hash."""

    def __init__(self, stream: IO[bytes] | _Gunzip, content_hash: Hasher) -> None:
        self._stream = stream
        self._hash = content_hash

    def read(self, size: int = -1) -> bytes:
        chunk = self._stream.read(size)
        self._hash.update(chunk)
        return chunk


def _parse_whole(data: bytes) -> Iterator[Any]:
    if not data.strip():
        raise TrailFileError("the file is empty")
    try:
        document = loads(data)
    except ValueError as exc:
        if _looks_like_json_lines(data):
            yield from _json_lines(io.BytesIO(data))
            return
        yield from _salvage(data)
        raise TrailFileError(f"invalid JSON: {exc}") from None
    yield from _records_of(document)


def _parse_stream(stream: io.BufferedReader) -> Iterator[Any]:
    head = stream.peek(64)
    try:
        if head.lstrip()[:1] == b"[":
            yield from ijson.items(stream, "item", use_float=True)
        elif _RECORDS_FIRST.match(head):
            yield from ijson.items(stream, "Records.item", use_float=True)
        else:
            yield from _json_lines(stream)
    except _DECOMPRESSION_ERRORS as exc:
        raise TrailFileError(f"damaged gzip data: {exc}") from None
    except ijson.JSONError as exc:
        raise TrailFileError(f"invalid JSON: {exc}") from None


def _records_of(document: Any) -> Iterator[Any]:
    if isinstance(document, list):
        yield from document
        return
    if not isinstance(document, dict):
        kind = type(document).__name__
        raise TrailFileError(f"not a CloudTrail log file: the JSON is a {kind}, not an object")
    if "Records" in document:
        if not isinstance(document["Records"], list):
            raise TrailFileError("not a CloudTrail log file: Records is not a list")
        yield from document["Records"]
    elif "eventID" in document or "eventVersion" in document:
        yield document
    else:
        raise TrailFileError("not a CloudTrail log file: a JSON object with no Records array")


def loads(data: bytes | str) -> Any:
    """JSON text as Python values: orjson, or what it refuses that can be read without guessing.

    Bytes that are not UTF-8 become lone surrogates (``surrogateescape``), so the record can
    be told apart and its bytes given back exactly. Raises ValueError (orjson's own, which
    says where) for what is not JSON.
    """
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as refused:
        error = refused
    text = data.decode("utf-8", "surrogateescape") if isinstance(data, bytes) else data
    try:
        # strict=False: control characters inside strings, which orjson refuses.
        return json.loads(text, strict=False, parse_constant=_not_json)
    except ValueError:
        raise error from None
    except RecursionError:
        pass
    # Deeper than Python's recursion limit: ijson builds values without recursing.
    try:
        [value] = ijson.items(io.BytesIO(text.encode("utf-8", "surrogateescape")), "")
    except (ijson.JSONError, ValueError):
        raise error from None
    return value


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def _looks_like_json_lines(data: bytes) -> bool:
    first_line = data.lstrip().split(b"\n", 1)[0]
    try:
        return isinstance(loads(first_line), dict)
    except ValueError:
        return False


def _json_lines(stream: IO[bytes]) -> Iterator[Any]:
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        line = line.rstrip(b"\r\n")  # noqa: PLW2901  the line without its end
        try:
            yield loads(line)
        except ValueError as exc:
            yield UnreadableRecord(f"line {number}: invalid JSON: {exc}", line)


def _salvage(data: bytes) -> Iterator[Any]:
    """The complete records before the point where the data breaks."""
    start = data.lstrip()[:1]
    if start == b"{" and not _RECORDS_FIRST.match(data):
        complete_lines = data[: data.rfind(b"\n") + 1]
        yield from (r for r in _json_lines(io.BytesIO(complete_lines)) if isinstance(r, dict))
        return
    prefix = "item" if start == b"[" else "Records.item" if start == b"{" else None
    if prefix is None:
        return
    try:
        yield from ijson.items(io.BytesIO(data), prefix, use_float=True)
    except ijson.JSONError:
        return


class _ChainedReader(io.RawIOBase):
    """The bytes already read, then the rest of the stream: lets a peeked file be streamed."""

    def __init__(self, head: bytes, rest: IO[bytes] | _Gunzip | _Hashing) -> None:
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        target = memoryview(buffer).cast("B")
        if self._head:
            count = min(len(target), len(self._head))
            target[:count] = self._head[:count]
            self._head = self._head[count:]
            return count
        chunk = self._rest.read(len(target))
        target[: len(chunk)] = chunk
        return len(chunk)


class _Gunzip(io.RawIOBase):
    """Gzip decompression that hands over every byte before a truncation, then raises.

    ``gzip.GzipFile`` discards what it decompressed in a read that hits the end of a
    truncated file; salvaging the records before the damage needs those bytes.
    """

    _COMPRESSED_CHUNK = 64 * 1024

    def __init__(self, compressed: IO[bytes]) -> None:
        self._compressed = compressed
        self._decompressor = zlib.decompressobj(wbits=31)
        self._pending = b""
        self._finished = False

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (all that is left when negative), with no buffer to fill."""
        if size < 0:
            return b"".join(iter(lambda: self.read(self._COMPRESSED_CHUNK * 16), b""))
        self._fill()
        if len(self._pending) <= size:
            chunk, self._pending = self._pending, b""
            return chunk
        chunk = self._pending[:size]
        self._pending = self._pending[size:]
        return chunk

    def readinto(self, buffer: Any) -> int:
        self._fill()
        target = memoryview(buffer).cast("B")
        count = min(len(target), len(self._pending))
        target[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count

    def _fill(self) -> None:
        """Decompress until something is pending or the data ends."""
        while not self._pending and not self._finished:
            chunk = self._compressed.read(self._COMPRESSED_CHUNK)
            if not chunk:
                if not self._decompressor.eof:
                    raise EOFError("the gzip data ends before its end-of-stream marker")
                self._finished = True
                break
            self._pending = self._decompressor.decompress(chunk)
            while self._decompressor.eof and self._decompressor.unused_data:
                # Concatenated gzip members decompress to their concatenation, as gzip does.
                rest = self._decompressor.unused_data
                self._decompressor = zlib.decompressobj(wbits=31)
                self._pending += self._decompressor.decompress(rest)
