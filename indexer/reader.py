"""Records out of one trail file, whatever shape it came in.

CloudTrail writes gzip JSON ``{"Records": [...]}``; people also hand us plain JSON, arrays of
records (as published samples are) and one record per line. Ordinary files are parsed whole
with orjson; a file larger than :data:`WHOLE_FILE_LIMIT` is streamed, so memory stays
bounded whatever the file's size. A damaged file still gives up every record before the
damage, then says what is wrong with it.

Records of a file written as CloudTrail writes them (compact JSON, each record beginning with
the same key) also come with their own bytes, cut from the file (see :func:`split_records`),
so the indexer can send them as they are rather than write them again.

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
#: Files smaller than this (as stored) are read in one go: see :func:`_small_file`.
_SMALL_FILE = 64 * 1024
GZIP_MAGIC = b"\x1f\x8b"
_BYTE_ORDER_MARK = b"\xef\xbb\xbf"
_RECORDS_FIRST = re.compile(rb'^\s*\{\s*"Records"\s*:')
_DECOMPRESSION_ERRORS = (EOFError, zlib.error)
_LIST_OPEN = re.compile(rb'[ \t\r\n]*(\{[ \t\r\n]*"Records"[ \t\r\n]*:[ \t\r\n]*)?\[[ \t\r\n]*')
_FIRST_KEY = re.compile(rb'\{"(?:[^"\\]|\\.)*":')
_JSON_SPACE = frozenset(b" \t\r\n")
_COMPACT_OPEN = b'{"Records":['
_USUAL_FIRST_KEY = b'{"eventVersion":'
_USUAL_SEPARATOR = b"}," + _USUAL_FIRST_KEY
_Joined = tuple[Any, bytes, int]
#: A piece of a list cut where no record ends is joined to the next, at most this many times
#: (a record holding its own first key's name, nested, after ``},{``) before the file is
#: parsed whole instead.
_MAX_JOINS = 8


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
    for record, _ in read_records_with_bytes(trail_file, content_hash):
        yield record


def read_records_with_bytes(
    trail_file: IO[bytes], content_hash: Hasher | None = None
) -> Iterator[tuple[Any, bytes | None]]:
    """:func:`read_records`, each record with its own bytes from the file when they are known.

    The bytes are exactly the record's JSON text in the file (see :func:`split_records`);
    None for records of files read any other way (streamed, damaged, lines, pretty-printed).
    """
    small = _small_file(trail_file)
    if small is not None:
        if content_hash is not None:
            content_hash.update(small)
        yield from _whole(small.removeprefix(_BYTE_ORDER_MARK))
        return
    magic = trail_file.read(2)
    trail_file.seek(0)
    unpacked: IO[bytes] | _Gunzip = _Gunzip(trail_file) if magic == GZIP_MAGIC else trail_file
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
        yield from _unsplit(_salvage(b"".join(chunks).removeprefix(_BYTE_ORDER_MARK)))
        raise TrailFileError(f"damaged gzip data: {exc}") from None
    head = b"".join(chunks).removeprefix(_BYTE_ORDER_MARK)
    if size <= WHOLE_FILE_LIMIT:
        yield from _whole(head)
    else:
        yield from _unsplit(_parse_stream(io.BufferedReader(_ChainedReader(head, stream))))
        if content_hash is not None:  # whatever follows the records (a newline, spaces)
            with contextlib.suppress(*_DECOMPRESSION_ERRORS):
                while stream.read(_READ_CHUNK):
                    pass


def _small_file(trail_file: IO[bytes]) -> bytes | None:
    """A small file's bytes, uncompressed, in one read; None for any other (read from the start).

    Most trail files are a few kilobytes of gzip: inflated in one call rather than through
    :class:`_Gunzip`. Larger files, damaged or concatenated gzip, and any file that inflates
    past :data:`WHOLE_FILE_LIMIT` are left to the general way.
    """
    data = trail_file.read(_SMALL_FILE)
    if len(data) < _SMALL_FILE:
        if data[:2] != GZIP_MAGIC:
            return data
        inflated = one_gzip_member(data, WHOLE_FILE_LIMIT)
        if inflated is not None:
            return inflated
    trail_file.seek(0)
    return None


def one_gzip_member(data: bytes, limit: int) -> bytes | None:
    """``data`` inflated when it is one whole gzip member of at most about ``limit`` bytes.

    None for damaged gzip (the general way salvages what comes before the damage),
    concatenated members, and anything longer (inflated no further than ``limit + 1``).
    """
    unpacker = zlib.decompressobj(wbits=31)
    try:
        inflated = unpacker.decompress(data, limit + 1)
    except zlib.error:
        return None
    return inflated if unpacker.eof and not unpacker.unused_data else None


def _whole(data: bytes) -> Iterator[tuple[Any, bytes | None]]:
    """The records of a whole file read into memory, with their own bytes when they can be."""
    split = split_records(data)
    if split is not None:
        yield from split
    else:
        yield from _unsplit(_parse_whole(data))


def _unsplit(records: Iterator[Any]) -> Iterator[tuple[Any, None]]:
    for record in records:
        yield record, None


def split_records(data: bytes) -> list[tuple[Any, bytes]] | None:
    """Every record of a whole file with its own bytes; None unless it is written compactly.

    The file must be ``{"Records":[...]}`` or ``[...]`` (whitespace allowed around, not
    inside the list between records) and every record begin with the key the first one
    begins with, as CloudTrail writes them: the list is then cut at each ``},{"<that key>":``
    with :meth:`bytes.find`, and each piece parsed alone. A cut that falls inside a string or
    inside a record leaves a piece that is not JSON (an open string, an open bracket), and the
    piece is joined to the next, at most :data:`_MAX_JOINS` times. So when every piece parses,
    every cut was between two records, and the records are exactly what parsing the whole
    file gives. Otherwise (None) the caller parses the file whole.
    """
    span = _list_span(data)
    if span is None:
        return None
    start, end = span
    if start >= end:
        return []  # only spaces between the brackets
    separator = _separator(data, start, end)
    if separator is None:
        return None
    records: list[tuple[Any, bytes]] = []
    while True:
        cut = data.find(separator, start, end)
        raw = data[start : end if cut < 0 else cut + 1]
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError:
            joined = _join(data, separator, start, cut, end)
            if joined is None:
                return None
            record, raw, cut = joined
        records.append((record, raw))
        if cut < 0:
            return records
        start = cut + 2


def _separator(data: bytes, start: int, end: int) -> bytes | None:
    """What lies between two records: ``},{"<the first record's first key>":``."""
    if data.startswith(_USUAL_FIRST_KEY, start, end):
        return _USUAL_SEPARATOR
    first_key = _FIRST_KEY.match(data, start, end)
    return None if first_key is None else b"}," + first_key.group()


def _join(data: bytes, separator: bytes, start: int, cut: int, end: int) -> _Joined | None:
    """The record from ``start`` when the piece up to ``cut`` is not one: up to a later cut."""
    for _ in range(_MAX_JOINS):
        if cut < 0:
            return None
        cut = data.find(separator, cut + 1, end)
        raw = data[start : end if cut < 0 else cut + 1]
        try:
            return orjson.loads(raw), raw, cut
        except orjson.JSONDecodeError:
            continue
    return None


def _list_span(data: bytes) -> tuple[int, int] | None:
    """Where the items of the file's list of records begin and end (no space around them)."""
    if data.startswith(_COMPACT_OPEN) and data.endswith(b"}]}") and data[12:13] == b"{":
        return len(_COMPACT_OPEN), len(data) - 2  # as CloudTrail writes it
    opened = _LIST_OPEN.match(data)
    if opened is None:
        return None
    end = _end_without_space(data, len(data))
    if opened.group(1) is not None:  # {"Records":[ ... ]}
        if data[end - 1 : end] != b"}":
            return None
        end = _end_without_space(data, end - 1)
    if data[end - 1 : end] != b"]":
        return None
    return opened.end(), _end_without_space(data, end - 1)


def _end_without_space(data: bytes, end: int) -> int:
    """Where ``data[:end]`` ends once JSON whitespace at its end is left out."""
    while end and data[end - 1] in _JSON_SPACE:
        end -= 1
    return end


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
