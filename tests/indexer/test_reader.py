import gzip
import hashlib
import io
import json

import pytest

from indexer import reader
from indexer.reader import TrailFileError, UnreadableRecord, read_records

RECORDS = [{"eventID": f"id-{n}", "eventTime": "2023-07-10T12:00:00Z"} for n in range(5)]


def _read(data: bytes) -> list[object]:
    return list(read_records(io.BytesIO(data)))


def test_cloudtrail_gzip_records_object():
    assert _read(gzip.compress(json.dumps({"Records": RECORDS}).encode())) == RECORDS


def test_plain_array_of_records():
    assert _read(json.dumps(RECORDS).encode()) == RECORDS


def test_one_record_per_line_with_a_bad_line_kept_apart():
    lines = [json.dumps(r) for r in RECORDS[:2]] + ["{not json"] + [json.dumps(RECORDS[2])]
    got = _read("\n".join(lines).encode())
    assert got[:2] == RECORDS[:2]
    assert isinstance(got[2], UnreadableRecord)
    assert got[2].reason.startswith("line 3: invalid JSON")
    assert got[3] == RECORDS[2]


def test_a_single_record_object():
    assert _read(json.dumps(RECORDS[0]).encode()) == RECORDS[:1]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "the file is empty"),
        (b'{"name": "left-pad"}', "not a CloudTrail log file"),
        (b'"just a string"', "not a CloudTrail log file"),
        (b'{"Records": {"a": 1}}', "Records is not a list"),
        (b"\x1f\x8b\x08garbage", "damaged gzip data"),
    ],
)
def test_files_that_hold_no_records_say_why(data, reason):
    with pytest.raises(TrailFileError, match=reason):
        _read(data)


def test_invalid_json_gives_up_the_records_before_the_break():
    data = json.dumps({"Records": RECORDS}).encode()[:-40]
    got: list[object] = []
    with pytest.raises(TrailFileError, match="invalid JSON"):
        got.extend(read_records(io.BytesIO(data)))
    assert got == RECORDS[: len(got)]
    assert 0 < len(got) < len(RECORDS)


def test_a_truncated_gzip_gives_up_the_records_before_the_damage():
    many = [
        {"eventID": f"id-{n}", "eventTime": "2023-07-10T12:00:00Z", "pad": "x" * n}
        for n in range(2000)
    ]
    compressed = gzip.compress(json.dumps({"Records": many}).encode())
    got: list[object] = []
    with pytest.raises(TrailFileError, match="damaged gzip data"):
        got.extend(read_records(io.BytesIO(compressed[: len(compressed) // 2])))
    assert got == many[: len(got)]
    assert len(got) > 100


@pytest.mark.parametrize("shape", ["records", "array", "lines"])
def test_files_over_the_whole_file_limit_are_streamed(monkeypatch, shape):
    monkeypatch.setattr(reader, "WHOLE_FILE_LIMIT", 256)
    many = [
        {"eventID": f"id-{n}", "eventTime": "2023-07-10T12:00:00Z", "n": 1.5} for n in range(300)
    ]
    if shape == "records":
        data = json.dumps({"Records": many}).encode()
    elif shape == "array":
        data = json.dumps(many).encode()
    else:
        data = "\n".join(json.dumps(r) for r in many).encode()
    assert _read(gzip.compress(data)) == many


def test_a_byte_order_mark_is_skipped():
    bom = b"\xef\xbb\xbf"
    assert _read(bom + json.dumps({"Records": RECORDS}).encode()) == RECORDS
    assert _read(gzip.compress(bom + json.dumps(RECORDS).encode())) == RECORDS
    lines = "\n".join(json.dumps(r) for r in RECORDS).encode()
    assert _read(bom + lines) == RECORDS


def test_bytes_that_are_not_utf8_spoil_their_record_only():
    bad = b'{"eventID": "bad", "eventTime": "2023-07-10T12:00:00Z", "userAgent": "\xff\xfe"}'
    good = [json.dumps(r).encode() for r in RECORDS]
    data = b'{"Records": [' + b", ".join([good[0], bad, *good[1:]]) + b"]}"
    got = _read(data)
    assert got[0] == RECORDS[0]
    assert got[2:] == RECORDS[1:]
    # Kept as lone surrogates, which give the original bytes back exactly.
    bad_record = got[1]
    assert isinstance(bad_record, dict)
    assert bad_record["userAgent"].encode("utf-8", "surrogateescape") == b"\xff\xfe"


def test_control_characters_inside_strings_are_read():
    data = b'[{"eventID": "a\x00b", "eventTime": "2023-07-10T12:00:00Z", "x": "tab\there"}]'
    assert _read(data) == [
        {"eventID": "a\x00b", "eventTime": "2023-07-10T12:00:00Z", "x": "tab\there"}
    ]


def test_nesting_deeper_than_any_parser_recurses_is_read():
    deep = b"[" * 10_000 + b"]" * 10_000
    data = b'{"Records": [{"eventID": "deep", "x": ' + deep + b'}, {"eventID": "next"}]}'
    got = _read(data)
    assert [r["eventID"] for r in got if isinstance(r, dict)] == ["deep", "next"]


def test_nan_is_not_json():
    with pytest.raises(TrailFileError, match="invalid JSON"):
        _read(b'{"Records": [{"eventID": "a", "x": NaN}]}')


def test_an_unreadable_line_keeps_its_bytes():
    data = b'{"eventID": "a"}\n{"eventID": \xff\n'
    got = _read(data)
    assert got[0] == {"eventID": "a"}
    assert isinstance(got[1], UnreadableRecord)
    assert got[1].raw == b'{"eventID": \xff'
    assert got[1].reason.startswith("line 2: invalid JSON")


#: Record texts as a producer might write them, each kept exactly: spaces inside, escapes
#: orjson would not write, an integer beyond 64 bits (which parsing turns into a float), and
#: strings and nested objects that look like the boundary between two records.
OWN_TEXTS = [
    b'{"eventVersion":"1.09", "eventID" : "a","eventTime":"2023-07-10T12:00:00Z"}',
    (
        b'{"eventVersion":"1.09","eventID":"b\\u00e9\\/","eventTime":"2023-07-10T12:00:00Z",'
        b'"requestParameters":{"n":123456789012345678901234567890,"f":1.50,"e":1E+2}}'
    ),
    (
        b'{"eventVersion":"1.09","eventID":"c","eventTime":"2023-07-10T12:00:00Z",'
        b'"errorMessage":"x},{\\"eventVersion\\":\\"1\\"}"}'
    ),
    (
        b'{"eventVersion":"1.09","eventID":"d","eventTime":"2023-07-10T12:00:00Z",'
        b'"resources":[{"a":1},{"eventVersion":"nested"},{"eventVersion":{"deeper":[]}}]}'
    ),
    b'{"eventVersion":"1.09","eventID":"e","eventTime":"2023-07-10T12:00:00Z"}',
]


def _parsed(text: bytes) -> object:
    """JSON as the reader parses it: integers beyond 64 bits become floats."""

    def number(digits: str) -> int | float:
        value = int(digits)
        return value if -(2**63) <= value < 2**64 else float(value)

    return json.loads(text, parse_int=number)


def _hashed_records(count: int) -> list[bytes]:
    return [
        b'{"eventVersion":"1.09","eventID":"%s","eventTime":"2023-07-10T12:00:00Z"}'
        % hashlib.sha256(b"%d" % number).hexdigest().encode()
        for number in range(count)
    ]


_LARGE_GZIP = gzip.compress(b'{"Records":[' + b",".join(_hashed_records(4_000)) + b"]}")


def test_the_large_gzip_case_is_larger_than_a_small_file():
    assert len(_LARGE_GZIP) >= reader._SMALL_FILE


def _with_bytes(data: bytes) -> list[tuple[object, bytes | None]]:
    return list(reader.read_records_with_bytes(io.BytesIO(data)))


@pytest.mark.parametrize(
    ("opening", "closing"),
    [(b'{"Records":[', b"]}"), (b'\n { "Records" : [ ', b" ] }\n"), (b"[", b"]"), (b" [", b"]\n")],
)
def test_compact_files_give_each_record_its_own_bytes(opening, closing):
    data = opening + b",".join(OWN_TEXTS) + closing
    for stored in (data, gzip.compress(data)):
        got = _with_bytes(stored)
        assert [raw for _, raw in got] == OWN_TEXTS
        assert [record for record, _ in got] == [_parsed(text) for text in OWN_TEXTS]


def test_files_written_otherwise_give_their_records_without_bytes():
    other_first_key = b'{"eventID":"f","eventTime":"2023-07-10T12:00:00Z"}'
    cases = [
        b'{"Records":[' + b", ".join(OWN_TEXTS) + b"]}",  # a space between records
        b'{"Records":[' + b",".join([*OWN_TEXTS, other_first_key]) + b"]}",
        b"[\n  " + b",\n  ".join(OWN_TEXTS) + b"\n]",
        b'{"Records":[' + b",".join(OWN_TEXTS) + b'],"more":[1]}',
    ]
    for data in cases:
        expected = _parsed(data)
        records = expected["Records"] if isinstance(expected, dict) else expected
        got = _with_bytes(data)
        assert [raw for _, raw in got] == [None] * len(got)
        assert [record for record, _ in got] == records


def test_empty_lists_of_records_hold_no_records():
    for data in (b'{"Records":[]}', b'{"Records":[ ]}', b"[]", b" [\n] "):
        assert _with_bytes(data) == []


@pytest.mark.parametrize(
    "stored",
    [
        gzip.compress(b'{"Records":[' + b",".join(OWN_TEXTS) + b"]}\n"),
        # Two gzip members inflate to their concatenation, as gzip reads them.
        gzip.compress(b'{"Records":[' + OWN_TEXTS[0]) + gzip.compress(b"]}"),
        # Larger than a small file read in one go (hashes compress poorly).
        _LARGE_GZIP,
        b'{"Records":[' + b",".join(OWN_TEXTS * 200) + b"]}",
    ],
    ids=["small-gzip", "two-members", "large-gzip", "plain"],
)
def test_the_content_hash_is_of_the_whole_uncompressed_file(stored):
    inflated = gzip.decompress(stored) if stored[:2] == b"\x1f\x8b" else stored
    content_hash = hashlib.sha256()
    records = list(read_records(io.BytesIO(stored), content_hash))
    assert content_hash.hexdigest() == hashlib.sha256(inflated).hexdigest()
    assert records == _parsed(inflated)["Records"]  # type: ignore[index]
