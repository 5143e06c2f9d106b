"""Every EventFilter field, alone and combined, returns exactly the matching events.

Each case pairs a filter with a predicate written over the records as the files hold them.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable
from typing import Any

import pytest

# Correctness that must hold on every engine: scripts/test-engines runs these on each.
pytestmark = pytest.mark.engines

Record = dict[str, Any]

PAGE = """query($filter: EventFilter, $after: String) {
  events(filter: $filter, first: 500, after: $after) {
    totalCount nodes { eventID } pageInfo { hasNextPage endCursor } } }"""


def matching_ids(client, run_graphql, event_filter: dict[str, Any]) -> tuple[int, set[str]]:
    """Every eventID the API returns for a filter, paging to the end, and its totalCount."""
    ids: list[str] = []
    after = None
    while True:
        page = run_graphql(client, PAGE, filter=event_filter, after=after)["events"]
        ids.extend(node["eventID"] for node in page["nodes"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(ids) == len(set(ids))
    return page["totalCount"], set(ids)


def get(record: Record, path: str) -> Any:
    value: Any = record
    for key in path.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value


def leaves(value: Any, keys: list[str]) -> list[Any]:
    """Values at a dotted path, through lists, as a flattened field indexes them."""
    if isinstance(value, list):
        return [leaf for item in value for leaf in leaves(item, keys)]
    if not keys:
        return [] if value is None or isinstance(value, dict) else [value]
    return leaves(value.get(keys[0]), keys[1:]) if isinstance(value, dict) else []


def as_text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def parameter(block: str, path: str, test: Callable[[list[str]], bool]) -> Callable[[Record], bool]:
    return lambda r: test([as_text(v) for v in leaves(r.get(block), path.split("."))])


def in_network(value: Any, network: str) -> bool:
    try:
        return ipaddress.ip_address(value) in ipaddress.ip_network(network)
    except ValueError:
        return False


#: The phrase as whole words: a dotted name such as vpc-flow-logs.amazonaws.com is one word
#: to the standard tokenizer, so its tail "logs.amazonaws.com" is not the word "logs".
PHRASE = re.compile(r"(?<![\w.])vpc-flow-logs(?![\w]|\.\w)")


def searched_text(record: Record) -> str:
    """What `search` looks through: names, messages, identities, resources, parameters."""
    fields = (
        "eventName",
        "eventSource",
        "errorCode",
        "errorMessage",
        "userIdentity.arn",
        "userIdentity.userName",
        "userIdentity.sessionContext.sessionIssuer.userName",
    )
    parts = [str(get(record, field) or "") for field in fields]
    parts += [
        json.dumps(record.get(block))
        for block in (
            "resources",
            "requestParameters",
            "responseElements",
            "additionalEventData",
            "serviceEventDetails",
        )
    ]
    return "\n".join(parts)


def principal_matches(record: Record, value: str) -> bool:
    fields = (
        "userIdentity.arn",
        "userIdentity.userName",
        "userIdentity.principalId",
        "userIdentity.sessionContext.sessionIssuer.arn",
        "userIdentity.sessionContext.sessionIssuer.userName",
    )
    return any(get(record, field) == value for field in fields)


ROLE = "stratus-red-team-ec2-get-password-data-role"
KMS_KEY = "arn:aws:kms:us-east-1:123837392027:key/0e5d0ab6-097e-49d8-99ef-747ce3e5f8f4"

CASES: list[tuple[str, dict[str, Any], Callable[[Record], bool]]] = [
    (
        "eventSource",
        {"eventSource": ["logs.amazonaws.com", "kms.amazonaws.com"]},
        lambda r: r["eventSource"] in {"logs.amazonaws.com", "kms.amazonaws.com"},
    ),
    (
        "eventName",
        {"eventName": ["CreateLogGroup", "DeleteLogGroup"]},
        lambda r: r["eventName"] in {"CreateLogGroup", "DeleteLogGroup"},
    ),
    (
        "awsRegion",
        {"awsRegion": ["us-north-2r", "ca-northsouth-2r"]},
        lambda r: r["awsRegion"] in {"us-north-2r", "ca-northsouth-2r"},
    ),
    (
        "recipientAccountId",
        {"recipientAccountId": ["056392974792"]},
        lambda r: r["recipientAccountId"] == "056392974792",
    ),
    (
        "eventType",
        {"eventType": ["AwsServiceEvent", "AwsConsoleSignIn"]},
        lambda r: r["eventType"] in {"AwsServiceEvent", "AwsConsoleSignIn"},
    ),
    (
        "userIdentityType",
        {"userIdentityType": ["AssumedRole", "FederatedUser"]},
        lambda r: get(r, "userIdentity.type") in {"AssumedRole", "FederatedUser"},
    ),
    ("principal as role name", {"principal": [ROLE]}, lambda r: principal_matches(r, ROLE)),
    (
        "principal as user name and ARN",
        {"principal": ["benjamin", "arn:aws:iam::123837392027:user/bert-jan"]},
        lambda r: (
            principal_matches(r, "benjamin")
            or principal_matches(r, "arn:aws:iam::123837392027:user/bert-jan")
        ),
    ),
    (
        "accessKeyId",
        {"accessKeyId": ["ASIATFQR7NSCS5BLNV76"]},
        lambda r: get(r, "userIdentity.accessKeyId") == "ASIATFQR7NSCS5BLNV76",
    ),
    (
        "sourceIPAddress CIDR",
        {"sourceIPAddress": ["10.0.0.0/8"]},
        lambda r: in_network(r["sourceIPAddress"], "10.0.0.0/8"),
    ),
    (
        "sourceIPAddress address, service name and malformed value",
        {"sourceIPAddress": ["192.168.10.20", "secretsmanager.amazonaws.com", "253.252.51.07"]},
        lambda r: (
            r["sourceIPAddress"]
            in {"192.168.10.20", "secretsmanager.amazonaws.com", "253.252.51.07"}
        ),
    ),
    (
        "userAgent substring ignores case",
        {"userAgent": "s3CONSOLE"},
        lambda r: "s3console" in r["userAgent"].lower(),
    ),
    ("readOnly", {"readOnly": False}, lambda r: r["readOnly"] is False),
    (
        "errorCode",
        {"errorCode": ["AccessDenied", "ThrottlingException"]},
        lambda r: r.get("errorCode") in {"AccessDenied", "ThrottlingException"},
    ),
    ("hasError true", {"hasError": True}, lambda r: "errorCode" in r),
    ("hasError false", {"hasError": False}, lambda r: "errorCode" not in r),
    (
        "errorCode with hasError",
        {"errorCode": ["AccessDenied"], "hasError": False},
        lambda _: False,
    ),
    (
        "number and string parameter values alike",
        {"requestParameters": [{"path": "maxResults", "equals": "100"}]},
        parameter("requestParameters", "maxResults", lambda vs: "100" in vs),
    ),
    (
        "parameter in",
        {"requestParameters": [{"path": "maxResults", "in": ["1", "1000"]}]},
        parameter("requestParameters", "maxResults", lambda vs: bool({"1", "1000"} & set(vs))),
    ),
    (
        "parameter prefix",
        {"requestParameters": [{"path": "logGroupName", "prefix": "/stratus"}]},
        parameter(
            "requestParameters",
            "logGroupName",
            lambda vs: any(v.startswith("/stratus") for v in vs),
        ),
    ),
    (
        "parameter exists",
        {"requestParameters": [{"path": "roleName", "exists": True}]},
        parameter("requestParameters", "roleName", bool),
    ),
    (
        "parameter does not exist",
        {"requestParameters": [{"path": "roleName", "exists": False}]},
        parameter("requestParameters", "roleName", lambda vs: not vs),
    ),
    (
        "parameter inside lists",
        {"requestParameters": [{"path": "tagSpecificationSet.items.tags.key", "equals": "Name"}]},
        parameter(
            "requestParameters", "tagSpecificationSet.items.tags.key", lambda vs: "Name" in vs
        ),
    ),
    (
        "boolean parameter",
        {"requestParameters": [{"path": "amazonProvidedIpv6CidrBlock", "equals": "false"}]},
        parameter("requestParameters", "amazonProvidedIpv6CidrBlock", lambda vs: "false" in vs),
    ),
    (
        "responseElements",
        {"responseElements": [{"path": "ConsoleLogin", "equals": "Success"}]},
        parameter("responseElements", "ConsoleLogin", lambda vs: "Success" in vs),
    ),
    (
        "resourceArn",
        {"resourceArn": [KMS_KEY]},
        lambda r: any(res.get("ARN") == KMS_KEY for res in r.get("resources") or []),
    ),
    (
        "logGroupName",
        {"logGroupName": ["/stratus-red-team/vpc-flow-logs"]},
        lambda r: (
            r["eventSource"] == "logs.amazonaws.com"
            and (r.get("requestParameters") or {}).get("logGroupName")
            == "/stratus-red-team/vpc-flow-logs"
        ),
    ),
    (
        "search for a phrase in names and parameter values",
        {"search": '"vpc-flow-logs"'},
        lambda r: PHRASE.search(searched_text(r).lower()) is not None,
    ),
    (
        "time range",
        {"from": "2023-07-10T12:10:00Z", "to": "2023-07-10T12:20:00Z"},
        lambda r: "2023-07-10T12:10:00Z" <= r["eventTime"] < "2023-07-10T12:20:00Z",
    ),
    (
        "conditions side by side are AND",
        {"eventSource": ["iam.amazonaws.com"], "readOnly": False, "hasError": False},
        lambda r: (
            r["eventSource"] == "iam.amazonaws.com" and not r["readOnly"] and "errorCode" not in r
        ),
    ),
    (
        "or of and",
        {
            "or": [
                {"eventSource": ["kms.amazonaws.com"]},
                {"and": [{"eventSource": ["iam.amazonaws.com"]}, {"readOnly": False}]},
            ]
        },
        lambda r: (
            r["eventSource"] == "kms.amazonaws.com"
            or (r["eventSource"] == "iam.amazonaws.com" and not r["readOnly"])
        ),
    ),
    (
        "not",
        {"not": {"eventSource": ["ec2.amazonaws.com"]}, "hasError": True},
        lambda r: r["eventSource"] != "ec2.amazonaws.com" and "errorCode" in r,
    ),
    (
        "not of or",
        {"not": {"or": [{"userIdentityType": ["IAMUser"]}, {"readOnly": True}]}},
        lambda r: get(r, "userIdentity.type") != "IAMUser" and not r["readOnly"],
    ),
]


@pytest.mark.parametrize(
    ("event_filter", "predicate"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_a_filter_returns_exactly_the_matching_events(
    samples_api, sample_records, run_graphql, event_filter, predicate
):
    expected = {r["eventID"] for r in sample_records if predicate(r)}
    total, ids = matching_ids(samples_api, run_graphql, event_filter)
    assert ids == expected
    assert total == len(expected)


def test_the_cases_are_not_trivial(sample_records):
    """Each case must select some events and leave others, or it proves nothing."""
    for name, _, predicate in CASES:
        selected = sum(1 for r in sample_records if predicate(r))
        if name == "errorCode with hasError":
            assert selected == 0
        else:
            assert 0 < selected < len(sample_records), name


@pytest.mark.parametrize(
    "event_filter",
    [
        {"requestParameters": [{"path": "maxResults"}]},
        {"requestParameters": [{"path": "maxResults", "equals": "1", "exists": True}]},
        {"requestParameters": [{"path": "", "equals": "1"}]},
        {"requestParameters": [{"path": "a*", "equals": "1"}]},
    ],
)
def test_a_parameter_condition_needs_a_path_and_one_test(samples_api, event_filter):
    response = samples_api.post(
        "/graphql", json={"query": PAGE, "variables": {"filter": event_filter}}
    )
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


GENERATED_CASES: list[tuple[str, dict[str, Any], Callable[[Record], bool]]] = [
    ("eventCategory", {"eventCategory": ["Data"]}, lambda r: r["eventCategory"] == "Data"),
    ("managementEvent", {"managementEvent": False}, lambda r: r["managementEvent"] is False),
    (
        "IPv6 range",
        {"sourceIPAddress": ["2001:db8::/32"]},
        lambda r: in_network(r["sourceIPAddress"], "2001:db8::/32"),
    ),
    (
        "IPv4 and IPv6 ranges and a service name",
        {"sourceIPAddress": ["10.0.0.0/8", "2001:db8::/32", "logs.amazonaws.com"]},
        lambda r: (
            in_network(r["sourceIPAddress"], "10.0.0.0/8")
            or in_network(r["sourceIPAddress"], "2001:db8::/32")
            or r["sourceIPAddress"] == "logs.amazonaws.com"
        ),
    ),
    (
        "identity types",
        {"userIdentityType": ["Root", "IdentityCenterUser"]},
        lambda r: get(r, "userIdentity.type") in {"Root", "IdentityCenterUser"},
    ),
    (
        "number and string limits alike",
        {"requestParameters": [{"path": "limit", "equals": "50"}]},
        parameter("requestParameters", "limit", lambda vs: "50" in vs),
    ),
]


@pytest.fixture(scope="module")
def generated_filters(generated_api):
    """3,000 generated events (Data events, IPv6 callers) behind an alias of their own."""
    data = generated_api(events=3000, seed=21)
    return data.client, data.records


@pytest.mark.parametrize(
    ("event_filter", "predicate"),
    [c[1:] for c in GENERATED_CASES],
    ids=[c[0] for c in GENERATED_CASES],
)
def test_a_filter_on_generated_data_returns_exactly_the_matching_events(
    generated_filters, run_graphql, event_filter, predicate
):
    client, records = generated_filters
    expected = {r["eventID"] for r in records if predicate(r)}
    assert 0 < len(expected) < len(records)
    total, ids = matching_ids(client, run_graphql, event_filter)
    assert ids == expected
    assert total == len(expected)
