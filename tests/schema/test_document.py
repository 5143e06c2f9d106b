import json
from datetime import UTC, datetime

import pytest

from schema import InvalidRecordError, event_document, ip_address, principal_name
from schema.document import log_group_names, searchable


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
        ([], "a record must be a JSON object, not list"),
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
