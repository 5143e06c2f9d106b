"""A corpus of hostile trail files, each with the outcome expected of every record in it.

Written as a careless or hostile producer would: odd ids, odd times, a wrong JSON type in
every mapped field, broken encodings, absurd sizes and depths, broken files. Every record case
sits between two good records of its own (``<case>-before`` and ``<case>-after``), which must
be indexed whatever happens to the one between them. Expected outcomes are written here by
hand from each case, never computed by the indexer's code.

Every event in the corpus is in an account of its own, :data:`ACCOUNT`, so that queries
confined to other accounts must answer as if the corpus had never been loaded.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from typing import Any

from schema import EVENT_FIELDS, Kind

ACCOUNT = "999999999999"
TIME = "2023-07-10T12:00:00Z"
FOLDER = f"AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2023/07/10/"
MEGABYTE = 1024 * 1024


@dataclass(frozen=True)
class Expected:
    """What must become of one record.

    ``indexed``: an event, found by its eventID; ``unindexed``: an event in the index that
    leaves ``field`` unindexed; ``quarantined``: in the quarantine for ``reason``.
    """

    outcome: str
    event_id: str | None = None
    field: str | None = None
    reason: str | None = None


def indexed(event_id: str) -> Expected:
    return Expected("indexed", event_id)


def unindexed(event_id: str, field: str) -> Expected:
    return Expected("unindexed", event_id, field=field)


def quarantined(reason: str, event_id: str | None = None) -> Expected:
    return Expected("quarantined", event_id, reason=reason)


@dataclass(frozen=True)
class Case:
    """One trail file: its name under :data:`FOLDER`, its bytes, what becomes of each record.

    ``records`` are in file order (record numbers count from 1); ``file_problem`` is what
    the report must say of the file itself, when it is damaged.
    """

    name: str
    file_name: str
    content: bytes
    records: tuple[Expected, ...]
    file_problem: str | None = None

    @property
    def key(self) -> str:
        return FOLDER + self.file_name


def good(event_id: object, **fields: Any) -> dict[str, Any]:
    """A well-formed CloudWatch Logs event of the corpus account."""
    return {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAHOSTILE",
            "arn": f"arn:aws:iam::{ACCOUNT}:user/mallory",
            "accountId": ACCOUNT,
            "userName": "mallory",
        },
        "eventTime": TIME,
        "eventSource": "logs.amazonaws.com",
        "eventName": "CreateLogGroup",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.7",
        "userAgent": "hostile-producer/1.0",
        "requestParameters": {"logGroupName": f"/hostile/{str(event_id)[:40]}"},
        "responseElements": None,
        "eventID": event_id,
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
        **fields,
    }


def _without(record: dict[str, Any], *names: str) -> dict[str, Any]:
    return {key: value for key, value in record.items() if key not in names}


def _records_file(records: list[bytes]) -> bytes:
    return b'{"Records": [' + b",\n".join(records) + b"]}"


def _dump(record: object) -> bytes:
    return json.dumps(record, ensure_ascii=False).encode()


def _between(name: str, hostile: bytes, expected: Expected, *, fmt: str = "records") -> Case:
    """One hostile record (as bytes) between two good ones, in a file of format ``fmt``."""
    before, after = _dump(good(f"{name}-before")), _dump(good(f"{name}-after"))
    outcomes = (indexed(f"{name}-before"), expected, indexed(f"{name}-after"))
    if fmt == "lines":
        return Case(name, f"{name}.jsonl", b"\n".join([before, hostile, after]) + b"\n", outcomes)
    return Case(name, f"{name}.json", _records_file([before, hostile, after]), outcomes)


def _record_case(name: str, record: object, expected: Expected) -> Case:
    return _between(name, _dump(record), expected)


def _deep(name: str, levels: int) -> bytes:
    """A good record whose requestParameters are arrays nested ``levels`` deep.

    Written as text: the standard library's encoder would recurse past its limit.
    """
    nested = b"[" * levels + b"]" * levels
    return _dump(good(name, requestParameters="NESTED")).replace(b'"NESTED"', nested)


def _wrong_type(name: str) -> object:
    """A JSON value of a type the field's mapping cannot take."""
    [event_field] = [f for f in EVENT_FIELDS if f.name == name]
    return "a string" if event_field.kind is Kind.OBJECT else {"an": "object"}


#: The fields an event is indexed by, each of which a record may hold with a wrong JSON type.
MAPPED_FIELDS = [f.name for f in EVENT_FIELDS if f.kind is not Kind.JSON and not f.required]


def _id_cases() -> list[Case]:
    long_id = "x" * 600
    emoji_limit = "😀" * 2048  # 4,096 UTF-16 code units: the keyword limit, exactly
    derived_looking = "sha256:" + "0" * 64
    return [
        _record_case("id-600-bytes", good(long_id), indexed(long_id)),
        _record_case("id-10-kb", good("y" * 10_240), quarantined("bad_event_id", "y" * 10_240)),
        _record_case("id-unicode", good("événement-ид-事件-😀"), indexed("événement-ид-事件-😀")),
        _record_case("id-emoji-at-limit", good(emoji_limit), indexed(emoji_limit)),
        _record_case(
            "id-emoji-over-limit", good("😀" * 2049), quarantined("bad_event_id", "😀" * 2049)
        ),
        _record_case(
            "id-slashes", good("../../etc/passwd?a=b#c"), indexed("../../etc/passwd?a=b#c")
        ),
        _record_case("id-empty", good(""), quarantined("no_event_id", "")),
        _record_case("id-blank", good("   "), quarantined("no_event_id", "   ")),
        _record_case("id-number", good(12345), quarantined("bad_event_id")),
        _record_case("id-numeric-string", good("12345"), indexed("12345")),
        _record_case("id-nul", good("before\x00after"), indexed("before\x00after")),
        _record_case("id-missing", _without(good("x"), "eventID"), quarantined("no_event_id")),
        _record_case("id-looks-derived", good(derived_looking), indexed(derived_looking)),
    ]


def _time_cases() -> list[Case]:
    def timed(name: str, event_time: object) -> dict[str, Any]:
        return good(name, eventTime=event_time)

    return [
        _record_case(
            "time-year-9999",
            timed("t-9999", "9999-12-31T23:59:59Z"),
            quarantined("implausible_event_time", "t-9999"),
        ),
        _record_case(
            "time-year-1",
            timed("t-0001", "0001-01-01T00:00:00Z"),
            quarantined("implausible_event_time", "t-0001"),
        ),
        _record_case(
            "time-before-cloudtrail",
            timed("t-2012", "2012-12-31T23:59:59Z"),
            quarantined("implausible_event_time", "t-2012"),
        ),
        _record_case(
            "time-offset", timed("t-offset", "2023-07-10T14:00:00+02:00"), indexed("t-offset")
        ),
        _record_case(
            "time-nanoseconds",
            timed("t-fraction", "2023-07-10T12:00:00.123456789Z"),
            indexed("t-fraction"),
        ),
        _record_case(
            "time-garbage",
            timed("t-garbage", "yesterday"),
            quarantined("bad_event_time", "t-garbage"),
        ),
        _record_case(
            "time-no-zone",
            timed("t-no-zone", "2023-07-10T12:00:00"),
            quarantined("bad_event_time", "t-no-zone"),
        ),
        _record_case(
            "time-space",
            timed("t-space", "2023-07-10 12:00:00Z"),
            quarantined("bad_event_time", "t-space"),
        ),
        _record_case(
            "time-epoch-number",
            timed("t-epoch", 1689000000),
            quarantined("bad_event_time", "t-epoch"),
        ),
        _record_case(
            "time-missing",
            _without(good("t-missing"), "eventTime"),
            quarantined("no_event_time", "t-missing"),
        ),
    ]


def _type_cases() -> list[Case]:
    cases = [
        _record_case(
            f"type-{name}",
            good(f"type-{name}", **{name: _wrong_type(name)}),
            unindexed(f"type-{name}", name),
        )
        for name in MAPPED_FIELDS
    ]
    return [
        *cases,
        _record_case(
            "type-nested-in-identity",
            good("type-nested", userIdentity={"type": {"nested": "object"}}),
            unindexed("type-nested", "userIdentity"),
        ),
        _record_case(
            "type-list-of-objects-for-keyword",
            good("type-list", eventName=[{"a": 1}]),
            unindexed("type-list", "eventName"),
        ),
        _record_case(
            "type-two-fields",
            good("type-two", awsRegion={"a": 1}, userIdentity="root"),
            quarantined("wrong_type", "type-two"),
        ),
        _record_case(
            "type-and-a-bad-key",
            good("type-bad-key", awsRegion={"a": 1}, **{"": "x"}),
            quarantined("refused", "type-bad-key"),
        ),
        _record_case(
            "type-malformed-but-ignored",
            good("type-ignored", readOnly="yes", managementEvent=7),
            indexed("type-ignored"),
        ),
        _record_case(
            "type-opaque-blocks-any-json",
            good("type-opaque", requestParameters="s", responseElements=[1, [2]]),
            indexed("type-opaque"),
        ),
    ]


def _structure_cases() -> list[Case]:
    duplicate = (
        b'{"eventVersion": "1.09", "eventTime": "2023-07-10T12:00:00Z", "eventSource": '
        b'"logs.amazonaws.com", "eventName": "First", "eventName": "Second", "eventID": '
        b'"dup-keys", "recipientAccountId": "' + ACCOUNT.encode() + b'"}'
    )
    invalid_utf8 = _dump(good("bad-utf8")).replace(b"hostile-producer/1.0", b"agent \xff\xfe")
    raw_nul = _dump(good("raw-nul")).replace(b"hostile-producer/1.0", b"agent\x00raw")
    surrogate = _dump(good("surrogate")).replace(b"hostile-producer/1.0", b"\\ud800")
    return [
        _between("duplicate-keys", duplicate, indexed("dup-keys")),
        # The record is one level, so 253 below it make 254: the most a record may nest.
        _between("nesting-10000", _deep("deep", 10_000), quarantined("too_deep", "deep")),
        _between("nesting-255", _deep("deep-255", 254), quarantined("too_deep", "deep-255")),
        _between("nesting-254", _deep("deep-254", 253), indexed("deep-254")),
        _record_case(
            "one-mb-agent", good("mb-agent", userAgent="a" * MEGABYTE), indexed("mb-agent")
        ),
        _record_case(
            "one-mb-parameter",
            good("mb-param", requestParameters={"policy": "p" * MEGABYTE}),
            indexed("mb-param"),
        ),
        _record_case(
            "one-mb-error",
            good("mb-error", errorMessage="e " * (MEGABYTE // 2)),
            indexed("mb-error"),
        ),
        _record_case(
            "nul-escaped",
            good("nul-escaped", eventName="Create\x00LogGroup"),
            indexed("nul-escaped"),
        ),
        _between("nul-raw-byte", raw_nul, indexed("raw-nul")),
        _between("invalid-utf8", invalid_utf8, quarantined("unstorable", "bad-utf8")),
        _between(
            "invalid-utf8-line", invalid_utf8, quarantined("unstorable", "bad-utf8"), fmt="lines"
        ),
        _between("lone-surrogate", surrogate, quarantined("unstorable", "surrogate")),
        _between(
            "big-integer",
            _dump(good("big-int", requestParameters={"n": 2**70})),
            indexed("big-int"),
        ),
        _between("not-an-object", b"42", quarantined("not_an_object")),
        _between("null-record", b"null", quarantined("not_an_object")),
        _between("not-json-line", b'{"eventID": "half', quarantined("not_json"), fmt="lines"),
        _record_case(
            "reserved-field",
            good("reserved", trailql={"principal": "admin"}),
            quarantined("reserved_field", "reserved"),
        ),
        _record_case(
            "empty-key", good("empty-key", **{"": "x"}), quarantined("refused", "empty-key")
        ),
        _record_case(
            "metadata-key",
            good("meta-key", _id="forged"),
            quarantined("metadata_field", "meta-key"),
        ),
        _record_case(
            "doc-count-key",
            good("doc-count", _doc_count=1_000_000),
            quarantined("metadata_field", "doc-count"),
        ),
        _record_case("dots-key", good("dots-key", **{"..": 1}), quarantined("refused", "dots-key")),
    ]


def _file_cases() -> list[Case]:
    bom = b"\xef\xbb\xbf" + _records_file([_dump(good("bom-1")), _dump(good("bom-2"))])
    whole = _records_file([_dump(good(f"tj-{n}", pad="x" * 200)) for n in range(200)])
    cut = whole[: len(whole) // 2]
    compressed = gzip.compress(_records_file(_truncated_gzip_records()), mtime=0)
    array = _dump([good("array-1"), good("array-2")])
    lines = b"\n".join(_dump(good(f"lines-{n}")) for n in range(2)) + b"\n"
    return [
        Case("bom", "bom.json", bom, (indexed("bom-1"), indexed("bom-2"))),
        Case("zero-bytes", "zero-bytes.json", b"", (), "the file is empty"),
        Case("whitespace-only", "whitespace.json", b" \n\t\n", (), "the file is empty"),
        Case(
            "truncated-json",
            "truncated.json",
            cut,
            tuple(indexed(f"tj-{n}") for n in range(_complete(cut))),
            "invalid JSON",
        ),
        Case(
            "truncated-gzip",
            "truncated.json.gz",
            compressed[: len(compressed) // 2],
            (),  # how many records a half gzip gives is checked as a prefix, not counted here
            "damaged gzip data",
        ),
        Case(
            "records-not-a-list",
            "not-a-list.json",
            b'{"Records": {"a": 1}}',
            (),
            "Records is not a list",
        ),
        Case("mixed-array", "mixed-array.json", array, (indexed("array-1"), indexed("array-2"))),
        Case("mixed-lines", "mixed-lines.ndjson", lines, (indexed("lines-0"), indexed("lines-1"))),
        Case(
            "mixed-gzip",
            "mixed-gzip.json.gz",
            gzip.compress(_records_file([_dump(good("gzip-1"))]), mtime=0),
            (indexed("gzip-1"),),
        ),
    ]


def _complete(data: bytes) -> int:
    """The complete records in a cut ``{"Records": [...]}`` (one per line, as written)."""
    return sum(1 for line in data.split(b"\n")[:-1] if line.rstrip().endswith((b"},", b"}")))


def corpus() -> list[Case]:
    """Every case; names are unique."""
    cases = [*_id_cases(), *_time_cases(), *_type_cases(), *_structure_cases(), *_file_cases()]
    assert len({case.name for case in cases}) == len(cases)
    return cases


def truncated_gzip_ids() -> list[str]:
    """The eventIDs of the truncated gzip, in order: those indexed must be a prefix."""
    return [f"tg-{n}" for n in range(200)]


def _truncated_gzip_records() -> list[bytes]:
    return [_dump(good(event_id, pad="x" * 200)) for event_id in truncated_gzip_ids()]
