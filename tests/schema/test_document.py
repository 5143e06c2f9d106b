import hashlib
import json
from datetime import UTC, datetime

import pytest

from schema import (
    EVENT_FIELDS,
    Field,
    InvalidRecordError,
    Kind,
    document_id,
    event_document,
    ip_address,
    monthly_index,
    principal_name,
)
from schema.document import log_group_names, mistyped, parse_event_time, searchable


@pytest.mark.parametrize(
    ("identity", "expected"),
    [
        ({"type": "IAMUser", "userName": "alice", "arn": "arn:aws:iam::1:user/alice"}, "alice"),
        (
            {"type": "AssumedRole", "arn": "arn:aws:sts::1:assumed-role/Admin/alice@example.com"},
            "Admin/alice@example.com",
        ),
        ({"type": "Root", "arn": "arn:aws:iam::1:root", "principalId": "1"}, "root"),
        ({"type": "AWSService", "invokedBy": "logs.amazonaws.com"}, "logs.amazonaws.com"),
        ({"accountId": "1", "invokedBy": "ec2.amazonaws.com"}, "ec2.amazonaws.com"),
        (
            {"type": "FederatedUser", "arn": "arn:aws:sts::1:federated-user/bob"},
            "bob",
        ),
        (
            {"type": "IdentityCenterUser", "onBehalfOf": {"userId": "u-123"}},
            "u-123",
        ),
        ({"type": "Unknown", "principalId": "AIDAX"}, "AIDAX"),
        (None, None),
        ({}, None),
    ],
)
def test_the_principal_is_named_as_a_person_would(identity, expected):
    assert principal_name(identity) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("192.168.10.20", "192.168.10.20"),
        ("2001:DB8::1", "2001:db8::1"),
        ("253.252.51.07", None),  # leading zero: not an address
        ("logs.amazonaws.com", None),
        ("AWS Internal", None),
        ("", None),
        (None, None),
    ],
)
def test_only_valid_addresses_become_ip_values(value, expected):
    assert ip_address(value) == expected


def test_bare_and_deep_parameter_blocks_get_searchable_copies():
    assert searchable("a string") == {"_value": "a string"}
    assert searchable([1, 2]) == {"_value": [1, 2]}
    assert searchable(None) is None
    deep: dict[str, object] = {"leaf": 1}
    for _ in range(30):
        deep = {"level": deep}
    copy = searchable(deep)
    below = deep
    for _ in range(16):  # SEARCHABLE_DEPTH levels stay objects
        assert isinstance(copy, dict)
        copy, below = copy["level"], below["level"]  # type: ignore[assignment]
    assert copy == json.dumps(below, separators=(",", ":"))


# 4,096 UTF-16 units is the longest string a keyword (and a flattened leaf) indexes.
LONGEST = "p" * 4096
TOO_LONG = "p" * 4097


def test_strings_too_long_to_index_are_left_out_of_the_searchable_copy():
    block = {"policy": TOO_LONG, "name": "kept", "longest": LONGEST, "list": ["a", TOO_LONG]}
    assert searchable(block) == {"name": "kept", "longest": LONGEST, "list": ["a"]}
    assert searchable(TOO_LONG) == {}
    assert searchable([TOO_LONG, 1]) == {"_value": [1]}
    # Counted in UTF-16 units, as Elasticsearch counts: 2,049 emoji are 4,098 of them.
    assert searchable({"e": "\U0001f600" * 2049, "f": "\U0001f600" * 2048}) == {
        "f": "\U0001f600" * 2048
    }
    # A subtree cut at the depth limit becomes its JSON text, which can be too long too.
    deep: object = {"leaf": TOO_LONG}
    for _ in range(20):
        deep = {"level": deep}
    copy = searchable(deep)
    for _ in range(15):  # objects down to depth 15; the text of depth 16 is too long
        assert isinstance(copy, dict)
        copy = copy["level"]
    assert copy == {}


@pytest.mark.parametrize("raw", [True, False])
def test_a_record_with_a_long_parameter_keeps_it_stored_but_not_indexed(raw: bool) -> None:  # noqa: FBT001
    record = {
        "eventID": "e",
        "eventTime": "2023-07-10T12:18:07Z",
        "requestParameters": {"policyDocument": TOO_LONG, "logGroupName": "/a"},
    }
    text = json.dumps(record).encode()
    document = event_document(record, raw=text if raw else None)
    assert document.derived["requestParameters"] == {"logGroupName": "/a"}
    assert document.record == record  # the record stays as written


@pytest.mark.parametrize("length", [4096, 4097])
def test_strings_of_escapes_are_measured_as_the_characters_they_write(length: int) -> None:
    """Quotes written as ``\\"``: twice the bytes, once the characters (and, in bulk, the
    input that makes a search from every quote quadratic)."""
    quotes = '"' * length
    record = {
        "eventID": "e",
        "eventTime": "2023-07-10T12:18:07Z",
        "requestParameters": {"short": ['"' * 2047] * 20, "quotes": quotes},
    }
    document = event_document(record, raw=json.dumps(record).encode())
    expected = {"short": ['"' * 2047] * 20} if length > 4096 else record["requestParameters"]
    assert document.derived["requestParameters"] == expected


def test_log_groups_are_named_by_name_or_arn():
    parameters = {
        "logGroupName": "/aws/lambda/a",
        "logGroupIdentifiers": ["arn:aws:logs:us-east-1:1:log-group:/aws/lambda/b:*", "/c"],
    }
    assert log_group_names(parameters) == ["/aws/lambda/a", "/aws/lambda/b", "/c"]
    tagged = {"resourceArn": "arn:aws:logs:eu-west-1:1:log-group:/ecs/web", "tags": {}}
    assert log_group_names(tagged) == ["/ecs/web"]
    assert log_group_names({"resourceArn": "arn:aws:logs:eu-west-1:1:destination:d"}) == []


def test_the_stored_source_is_the_record_itself_plus_derived_fields():
    record = {"eventID": "e1", "eventTime": "2023-07-10T12:18:07Z", "requestParameters": None}
    document = event_document(record)
    assert document.event_time == datetime(2023, 7, 10, 12, 18, 7, tzinfo=UTC)
    assert {k: v for k, v in document.source.items() if k != "trailql"} == record


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ([], "a record must be a JSON object, not an array"),
        ({"eventTime": "2023-07-10T12:18:07Z"}, "record has no eventID"),
        ({"eventID": "e"}, "record has no eventTime"),
        (
            {"eventID": "e", "eventTime": "yesterday"},
            "eventTime 'yesterday' is not an ISO-8601 time",
        ),
        ({"eventID": "e", "eventTime": "2023-07-10T12:18:07"}, "has no time zone"),
    ],
)
def test_records_that_cannot_be_stored_say_why(record, reason):
    with pytest.raises(InvalidRecordError, match=reason):
        event_document(record)


def test_a_bad_record_says_what_kind_of_problem_it_has():
    cases = [
        ("not a record", "not_an_object"),
        ({"eventTime": "2023-07-10T12:18:07Z"}, "no_event_id"),
        ({"eventID": "   ", "eventTime": "2023-07-10T12:18:07Z"}, "no_event_id"),
        ({"eventID": 12345, "eventTime": "2023-07-10T12:18:07Z"}, "bad_event_id"),
        ({"eventID": "e"}, "no_event_time"),
        ({"eventID": "e", "eventTime": 1689000000}, "bad_event_time"),
        ({"eventID": "e", "eventTime": "2023-07-10T12:18:07Z", "trailql": 1}, "reserved_field"),
        ({"eventID": "e", "eventTime": "2023-07-10T12:18:07Z", "_id": "x"}, "metadata_field"),
        ({"eventID": "e", "eventTime": "2023-07-10T12:18:07Z", "_doc_count": 9}, "metadata_field"),
    ]
    for record, reason in cases:
        with pytest.raises(InvalidRecordError) as raised:
            event_document(record)
        assert raised.value.reason == reason, record


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-07-10T12:18:07Z", datetime(2023, 7, 10, 12, 18, 7, tzinfo=UTC)),
        ("2023-07-10T14:18:07+02:00", datetime(2023, 7, 10, 12, 18, 7, tzinfo=UTC)),
        ("2023-07-10T00:18:07-05:30", datetime(2023, 7, 10, 5, 48, 7, tzinfo=UTC)),
        ("2023-07-10T12:18:07.5Z", datetime(2023, 7, 10, 12, 18, 7, 500_000, tzinfo=UTC)),
        ("2023-07-10T12:18:07.123456789Z", datetime(2023, 7, 10, 12, 18, 7, 123456, tzinfo=UTC)),
        ("9999-12-31T23:59:59Z", datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
    ],
)
def test_event_times_elasticsearch_reads_alike_are_accepted(text, expected):
    assert parse_event_time(text) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("2023-07-10T12:18:07", "has no time zone"),
        ("2023-07-10 12:18:07Z", "is not an ISO-8601 time"),  # Python reads it; not ES
        ("20230710T121807Z", "is not an ISO-8601 time"),
        ("2023-W28-1T12:18:07Z", "is not an ISO-8601 time"),
        ("2023-07-10", "is not an ISO-8601 time"),
        ("2023-02-30T12:18:07Z", "is not a valid time"),
        ("0000-01-01T00:00:00Z", "is not a valid time"),
        ("9999-12-31T23:59:59-01:00", "is not a valid time"),  # past 9999 in UTC
        ("0001-01-01T00:00:00+01:00", "is not a valid time"),  # before the year 1 in UTC
        ("2023-07-10T12:18:07.1234567890Z", "is not an ISO-8601 time"),
        ("yesterday" * 100, "is not an ISO-8601 time"),
    ],
)
def test_event_times_that_are_not_plain_iso_8601_are_refused(text, says):
    with pytest.raises(InvalidRecordError, match=says) as raised:
        parse_event_time(text)
    assert raised.value.reason == "bad_event_time"
    assert len(str(raised.value)) < 200  # a garbage time is not repeated in full


def test_an_event_id_too_long_for_an_id_gets_a_stable_one_derived_from_it():
    short = "349b65f9-1932-4258-a52e-476cf4fcf6d7"
    assert document_id(short) == short
    exactly = "é" * 256  # 512 bytes in UTF-8
    assert document_id(exactly) == exactly
    longer = "é" * 256 + "x"
    derived = "sha256:" + hashlib.sha256(longer.encode()).hexdigest()
    assert document_id(longer) == derived
    assert len(derived.encode()) <= 512
    # No eventID can pose as another event's derived _id: such eventIDs are derived too.
    assert document_id(derived) == "sha256:" + hashlib.sha256(derived.encode()).hexdigest()
    record = {"eventID": longer, "eventTime": "2023-07-10T12:18:07Z"}
    assert event_document(record).document_id == derived


@pytest.mark.parametrize(
    ("event_id", "accepted"),
    [
        ("x" * 4096, True),
        ("x" * 4097, False),
        ("😀" * 2048, True),  # 4,096 UTF-16 code units, as Elasticsearch counts
        ("😀" * 2049, False),
        ("a/b/../c", True),
        ("\x00", True),
        ("12345", True),
        ("\ud800", False),  # a lone surrogate escape: not Unicode text
    ],
)
def test_an_event_id_must_be_short_enough_to_be_indexed(event_id, accepted):
    record = {"eventID": event_id, "eventTime": "2023-07-10T12:18:07Z"}
    if accepted:
        assert event_document(record).event_id == event_id
    else:
        with pytest.raises(InvalidRecordError) as raised:
            event_document(record)
        assert raised.value.reason == "bad_event_id"


def test_nesting_deeper_than_orjson_writes_is_refused_without_recursing():
    def nested(levels: int) -> dict[str, object]:
        record: dict[str, object] = {"eventID": "e", "eventTime": "2023-07-10T12:18:07Z"}
        inner: list[object] = []
        for _ in range(levels - 2):  # the record and the list under it are two levels
            inner = [inner]
        record["requestParameters"] = inner
        return record

    assert event_document(nested(254)).event_id == "e"
    for levels in (255, 10_000):
        with pytest.raises(InvalidRecordError) as raised:
            event_document(nested(levels))
        assert raised.value.reason == "too_deep"


def _wrong_value(event_field: Field) -> object:
    """A value of a JSON type the field's mapping cannot take."""
    return "a string" if event_field.kind is Kind.OBJECT else {"an": "object"}


@pytest.mark.parametrize(
    "event_field",
    [f for f in EVENT_FIELDS if f.kind is not Kind.JSON and not f.required],
    ids=lambda f: f.name,
)
def test_every_mapped_field_of_the_wrong_json_type_is_named(event_field):
    record: dict[str, object] = {"eventID": "e", "eventTime": "2023-07-10T12:18:07Z"}
    for wrong in (_wrong_value(event_field), [_wrong_value(event_field)]):
        record[event_field.name] = wrong
        assert list(mistyped(record)) == [event_field.name]


def test_values_the_mapping_takes_or_ignores_are_not_mistyped():
    record = {
        "eventID": "e",
        "eventTime": "2023-07-10T12:18:07Z",
        "awsRegion": ["us-east-1", ["eu-west-1"]],  # arrays of values are indexed item by item
        "readOnly": "yes",  # not a boolean: ignore_malformed leaves it out
        "eventVersion": 1.08,
        "requestParameters": "a bare string",  # opaque: any JSON at all
        "resources": [{"ARN": "arn"}, None],
        "userIdentity": {"sessionContext": {"attributes": {"creationDate": "not a date"}}},
        "somethingNew": {"a": [1, {"b": 2}]},  # not mapped: kept, not indexed
    }
    assert mistyped(record) == {}
    nested = {**record, "userIdentity": {"sessionContext": {"sessionIssuer": "role"}}}
    assert mistyped(nested) == {
        "userIdentity": "userIdentity.sessionContext.sessionIssuer is a string, "
        "where an object is expected"
    }


def test_resources_of_any_json_type_do_not_break_the_search_text():
    for resources, wrong in ((5, True), ("arn", True), (True, True), ({"ARN": "x"}, False)):
        record = {"eventID": "e", "eventTime": "2023-07-10T12:18:07Z", "resources": resources}
        assert event_document(record).event_id == "e"
        assert ("resources" in mistyped(record)) is wrong


def test_monthly_indices_have_four_digit_years():
    assert monthly_index("a", datetime(1, 1, 1, tzinfo=UTC)) == "a-0001.01"
    assert monthly_index("a", datetime(2023, 7, 10, tzinfo=UTC)) == "a-2023.07"
    assert monthly_index("a", datetime(9999, 12, 31, tzinfo=UTC)) == "a-9999.12"
