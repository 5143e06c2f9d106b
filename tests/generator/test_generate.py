"""The synthetic trail is checked by reading the files back, as the indexer will."""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

import generator
from generator import GeneratedTrail, generate

if TYPE_CHECKING:
    from pathlib import Path

Record = dict[str, Any]

EVENTS = 3000
SEED = 20250301

KEY = re.compile(
    r"AWSLogs/(?P<account>\d{12})/CloudTrail/(?P<region>[a-z]{2}(?:-[a-z]+)+-\d)/"
    r"(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/"
    r"(?P=account)_CloudTrail_(?P=region)_(?P<stamp>\d{8}T\d{4}Z)_[A-Za-z0-9]{16}\.json\.gz"
)
EVENT_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")

READ_ONLY = {
    "DescribeLogGroups": True,
    "DescribeLogStreams": True,
    "GetLogEvents": True,
    "FilterLogEvents": True,
    "StartQuery": True,
    "GetQueryResults": True,
    "StartLiveTail": True,
    "ListTagsLogGroup": True,
    "ListTagsForResource": True,
    "GenerateQuery": True,
    "CreateLogGroup": False,
    "DeleteLogGroup": False,
    "PutRetentionPolicy": False,
    "DeleteRetentionPolicy": False,
    "CreateExportTask": False,
    "PutSubscriptionFilter": False,
    "DeleteSubscriptionFilter": False,
    "AssociateKmsKey": False,
    "DisassociateKmsKey": False,
    "PutDataProtectionPolicy": False,
    "PutResourcePolicy": False,
    "TagLogGroup": False,
    "TagResource": False,
}
RETENTION_DAYS = {
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
}  # fmt: skip
IDENTITY_TYPES = {
    "IAMUser",
    "AssumedRole",
    "Root",
    "AWSService",
    "FederatedUser",
    "IdentityCenterUser",
}


def parse_time(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def read_trail(out: Path) -> dict[str, list[Record]]:
    """Every file under ``out`` by its key, each checked to be a CloudTrail log document."""
    files: dict[str, list[Record]] = {}
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        with gzip.open(path, "rb") as fh:
            document = json.load(fh)
        assert list(document) == ["Records"], path
        files[path.relative_to(out).as_posix()] = document["Records"]
    return files


def raw_bytes(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}


def log_group_names(record: Record) -> list[str]:
    """The log groups a call names, by name whether it gave a name or an ARN."""
    params = record.get("requestParameters") or {}
    refs = [params[k] for k in ("logGroupName", "logGroupIdentifier", "resourceArn") if k in params]
    refs += [ref for k in ("logGroupNames", "logGroupIdentifiers") for ref in params.get(k, [])]
    names = []
    for ref in refs:
        if ref.startswith("arn:"):
            parts = ref.split(":", 6)
            assert parts[2] == "logs"
            assert parts[3] == record["awsRegion"]
            assert parts[4] == record["recipientAccountId"]
            assert parts[5] == "log-group"
            ref = parts[6].removesuffix(":*")  # noqa: PLW2901
        names.append(ref)
    return names


@pytest.fixture(scope="module")
def trail(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GeneratedTrail]:
    out = tmp_path_factory.mktemp("trail")
    return out, generate(out, events=EVENTS, seed=SEED)


@pytest.fixture(scope="module")
def files(trail: tuple[Path, GeneratedTrail]) -> dict[str, list[Record]]:
    return read_trail(trail[0])


@pytest.fixture(scope="module")
def records(files: dict[str, list[Record]]) -> list[Record]:
    return sorted((r for recs in files.values() for r in recs), key=lambda r: r["eventTime"])


def test_writes_exactly_the_requested_number_of_events(trail, files, records):
    _, result = trail
    assert len(records) == EVENTS
    assert result.events == EVENTS
    assert result.files == len(files)
    assert result.first_event_time == parse_time(records[0]["eventTime"])
    assert result.last_event_time == parse_time(records[-1]["eventTime"])
    assert result.first_event_time >= generator.DEFAULT_START


def test_keys_follow_the_cloudtrail_s3_layout(files):
    days = set()
    for key, recs in files.items():
        match = KEY.fullmatch(key)
        assert match, key
        folder_day = f"{match['y']}{match['m']}{match['d']}"
        assert match["stamp"].startswith(folder_day)
        days.add(folder_day)
        window = datetime.strptime(match["stamp"], "%Y%m%dT%H%MZ").replace(tzinfo=UTC)
        assert 1 <= len(recs) <= 2000
        times = [r["eventTime"] for r in recs]
        assert times == sorted(times), key
        for r in recs:
            assert EVENT_TIME.fullmatch(r["eventTime"])
            when = parse_time(r["eventTime"])
            assert when.strftime("%Y%m%d") == folder_day
            assert window <= when < window + timedelta(minutes=5)
            assert r["recipientAccountId"] == match["account"]
            assert r["awsRegion"] == match["region"]
    assert len(days) >= 2
    accounts = {KEY.fullmatch(k)["account"] for k in files}  # type: ignore[index]
    regions = {KEY.fullmatch(k)["region"] for k in files}  # type: ignore[index]
    assert len(accounts) == 3
    assert regions == {"us-east-1", "eu-west-1", "ap-southeast-2"}


def test_busy_windows_are_split_across_files(tmp_path):
    generate(tmp_path, events=600, seed=SEED, days=1, max_records_per_file=5)
    files = read_trail(tmp_path)
    assert sum(len(recs) for recs in files.values()) == 600
    assert max(len(recs) for recs in files.values()) == 5
    per_window = Counter(key.rsplit("_", 1)[0] for key in files)
    assert max(per_window.values()) > 1
    ids = [r["eventID"] for recs in files.values() for r in recs]
    assert len(ids) == len(set(ids))


def test_event_and_request_ids_are_unique_uuids(records):
    event_ids = [r["eventID"] for r in records]
    request_ids = [r["requestID"] for r in records]
    assert len(set(event_ids)) == len(records)
    assert len(set(request_ids)) == len(records)
    assert all(UUID4.fullmatch(i) for i in event_ids + request_ids)


def test_same_seed_gives_identical_bytes_and_another_seed_does_not(tmp_path):
    first, again, other = tmp_path / "first", tmp_path / "again", tmp_path / "other"
    assert generate(first, events=400, seed=7) == generate(again, events=400, seed=7)
    assert raw_bytes(first) == raw_bytes(again)
    generate(other, events=400, seed=8)
    assert raw_bytes(first) != raw_bytes(other)
    assert set(raw_bytes(first)).isdisjoint(raw_bytes(other))


def test_start_and_days_bound_the_event_times(tmp_path):
    start = datetime(2024, 12, 31, 22, 2, 30, tzinfo=UTC)
    result = generate(tmp_path, events=300, seed=SEED, start=start, days=2)
    times = [parse_time(r["eventTime"]) for recs in read_trail(tmp_path).values() for r in recs]
    assert len(times) == 300
    assert start <= min(times) == result.first_event_time
    assert max(times) == result.last_event_time < start + timedelta(days=2)
    assert {t.year for t in times} == {2024, 2025}


def test_naive_start_is_utc(tmp_path):
    result = generate(tmp_path, events=50, seed=1, start=datetime(2025, 6, 1), days=1)  # noqa: DTZ001
    assert result.first_event_time >= datetime(2025, 6, 1, tzinfo=UTC)
    assert result.last_event_time < datetime(2025, 6, 2, tzinfo=UTC)


@pytest.mark.parametrize(("events", "days"), [(0, None), (-5, None), (10, 0)])
def test_rejects_empty_runs(tmp_path, events, days):
    with pytest.raises(ValueError, match="at least 1"):
        generate(tmp_path, events=events, seed=1, days=days)


def test_rejects_files_without_records(tmp_path):
    with pytest.raises(ValueError, match="at least 1"):
        generate(tmp_path, events=10, seed=1, max_records_per_file=0)


def test_default_days_spread_over_several_day_folders():
    assert generator.default_days(1) == 2
    assert generator.default_days(3000) == 2
    assert generator.default_days(20_000) == 11
    assert generator.default_days(1_000_000) == 30


def test_every_identity_type_appears(records):
    types = Counter(r["userIdentity"]["type"] for r in records)
    assert set(types) == IDENTITY_TYPES
    assert types["AssumedRole"] > len(records) / 2
    sso = [r for r in records if "assumed-role/AWSReservedSSO_" in r["userIdentity"].get("arn", "")]
    assert sso
    issuer = sso[0]["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"]
    assert ":role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_" in issuer


def check_iam_user(ui: Record, account: str) -> None:
    assert set(ui) == {"type", "principalId", "arn", "accountId", "accessKeyId", "userName"}
    assert ui["principalId"].startswith("AIDA")
    assert ui["accessKeyId"].startswith("AKIA")
    assert ui["arn"] == f"arn:aws:iam::{account}:user/{ui['userName']}"


def check_session_attributes(ui: Record, event_time: str) -> None:
    attributes = ui["sessionContext"]["attributes"]
    assert EVENT_TIME.fullmatch(attributes["creationDate"])
    assert attributes["creationDate"] <= event_time
    assert attributes["mfaAuthenticated"] in {"true", "false"}


def check_assumed_role(ui: Record, account: str) -> None:
    issuer = ui["sessionContext"]["sessionIssuer"]
    role, session = ui["arn"].removeprefix(f"arn:aws:sts::{account}:assumed-role/").split("/")
    assert issuer["type"] == "Role"
    assert issuer["userName"] == role
    assert issuer["arn"].startswith(f"arn:aws:iam::{account}:role/")
    assert issuer["arn"].endswith(f"/{role}")
    assert issuer["principalId"].startswith("AROA")
    assert ui["principalId"] == f"{issuer['principalId']}:{session}"
    assert ui["accessKeyId"].startswith("ASIA")


def check_federated_user(ui: Record, account: str) -> None:
    name = ui["arn"].removeprefix(f"arn:aws:sts::{account}:federated-user/")
    assert ui["principalId"] == f"{account}:{name}"
    issuer = ui["sessionContext"]["sessionIssuer"]
    assert issuer["type"] == "IAMUser"
    assert issuer["arn"] == f"arn:aws:iam::{account}:user/{issuer['userName']}"
    assert ui["accessKeyId"].startswith("ASIA")


def test_identity_shapes(records):
    for r in records:
        ui, account = r["userIdentity"], r["recipientAccountId"]
        kind = ui["type"]
        if kind != "AWSService":
            assert ui["accountId"] == account
        if kind == "IAMUser":
            check_iam_user(ui, account)
        elif kind == "AssumedRole":
            check_assumed_role(ui, account)
            check_session_attributes(ui, r["eventTime"])
        elif kind == "FederatedUser":
            check_federated_user(ui, account)
            check_session_attributes(ui, r["eventTime"])
        elif kind == "Root":
            assert ui["principalId"] == account
            assert ui["arn"] == f"arn:aws:iam::{account}:root"
            check_session_attributes(ui, r["eventTime"])
        elif kind == "AWSService":
            assert set(ui) == {"type", "invokedBy"}
            assert r["sourceIPAddress"] == r["userAgent"] == ui["invokedBy"]
            assert ui["invokedBy"].endswith(".amazonaws.com")
        else:
            assert kind == "IdentityCenterUser"
            assert set(ui) == {"type", "accountId", "onBehalfOf", "credentialId"}
            assert ui["onBehalfOf"]["identityStoreArn"].startswith("arn:aws:identitystore::")
            assert ui["onBehalfOf"]["userId"]


def test_generate_query_is_recorded_by_monitoring(records):
    sources = Counter((r["eventSource"], r["eventName"] == "GenerateQuery") for r in records)
    assert set(sources) == {("logs.amazonaws.com", False), ("monitoring.amazonaws.com", True)}


def test_record_envelope(records):
    for r in records:
        action = r["eventName"]
        assert r["readOnly"] is READ_ONLY[action], action
        data = action in {"GetLogEvents", "FilterLogEvents"}
        assert r["eventCategory"] == ("Data" if data else "Management")
        assert r["managementEvent"] is not data
        assert r["eventType"] == "AwsApiCall"
        assert r["eventVersion"] in {"1.09", "1.10"}
        source = r["sourceIPAddress"]
        service_or_internal = source.endswith(".amazonaws.com") or source == "AWS Internal"
        assert ("tlsDetails" in r) is not service_or_internal
        assert ("vpcEndpointId" in r) is source.startswith("10.")
        if "tlsDetails" in r:
            host = r["tlsDetails"]["clientProvidedHostHeader"]
            assert host == f"{r['eventSource'].split('.')[0]}.{r['awsRegion']}.amazonaws.com"


def test_responses(records):
    for r in records:
        action, response = r["eventName"], r["responseElements"]
        if "errorCode" in r:
            assert response is None
            assert r["errorMessage"]
        elif action == "CreateExportTask":
            assert set(response) == {"taskId"}
        elif action == "StartQuery":
            assert set(response) == {"queryId"}
        else:
            assert response is None, action


def test_failures(records):
    errors = Counter(r.get("errorCode") for r in records)
    failed = len(records) - errors.pop(None)
    assert 0.04 * len(records) <= failed <= 0.09 * len(records)
    assert set(errors) == {
        "AccessDenied",
        "ResourceNotFoundException",
        "ResourceAlreadyExistsException",
        "ThrottlingException",
        "InvalidParameterException",
    }
    denied = re.compile(
        r"User: (arn:aws:\S+) is not authorized to perform: logs:(\w+) on resource: "
        r"arn:aws:logs:\S+ because no identity-based policy allows the logs:(\w+) action"
    )
    for r in records:
        code = r.get("errorCode")
        if code == "AccessDenied":
            match = denied.fullmatch(r["errorMessage"])
            assert match, r["errorMessage"]
            assert match[1] == r["userIdentity"]["arn"]
            assert match[2] == match[3] == r["eventName"]
        elif code == "ResourceNotFoundException":
            assert r["errorMessage"] == "The specified log group does not exist."
        elif code == "ResourceAlreadyExistsException":
            assert r["eventName"] == "CreateLogGroup"
        elif code == "ThrottlingException":
            assert r["errorMessage"] == "Rate exceeded"


def test_request_parameters(records):
    by_action: dict[str, list[Record]] = defaultdict(list)
    for r in records:
        by_action[r["eventName"]].append(r)
    assert set(by_action) == set(READ_ONLY)
    for r in by_action["PutRetentionPolicy"]:
        assert (r["requestParameters"]["retentionInDays"] in RETENTION_DAYS) is (
            r.get("errorCode") != "InvalidParameterException"
        )
    limits = {
        type((r["requestParameters"] or {}).get("limit")) for r in by_action["DescribeLogGroups"]
    }
    assert {int, str, type(None)} <= limits
    assert any(r["requestParameters"] is None for r in by_action["DescribeLogGroups"])
    filter_keys = {k for r in by_action["FilterLogEvents"] for k in r["requestParameters"]}
    assert {"logGroupName", "logGroupIdentifier", "filterPattern", "startTime"} <= filter_keys
    query_keys = {k for r in by_action["StartQuery"] for k in r["requestParameters"]}
    assert {"logGroupNames", "logGroupIdentifiers", "queryString", "startTime"} <= query_keys
    for r in by_action["CreateExportTask"]:
        p = r["requestParameters"]
        assert isinstance(p["from"], int)
        assert p["from"] < p["to"]
        assert {"taskName", "logGroupName", "destination", "destinationPrefix"} <= set(p)
    destination = re.compile(r"arn:aws:(kinesis|lambda|firehose):[a-z0-9-]+:\d{12}:\S+")
    sends_to: dict[str, set[str]] = defaultdict(set)
    for r in by_action["PutSubscriptionFilter"]:
        match = destination.fullmatch(r["requestParameters"]["destinationArn"])
        assert match
        assert ("roleArn" in r["requestParameters"]) is (match[1] != "lambda")
        sends_to[r["requestParameters"]["filterName"]].add(match[1])
    assert all(len(kinds) == 1 for kinds in sends_to.values()), sends_to
    for r in by_action["PutDataProtectionPolicy"] + by_action["PutResourcePolicy"]:
        assert isinstance(json.loads(r["requestParameters"]["policyDocument"]), dict)
    for r in by_action["StartLiveTail"]:
        assert all(a.startswith("arn:aws:logs:") for a in r["requestParameters"][
            "logGroupIdentifiers"
        ])  # fmt: skip


def test_source_addresses(records):
    sources = [r["sourceIPAddress"] for r in records]
    assert any(s.startswith("2001:db8:") for s in sources)
    assert any(s.startswith("10.") for s in sources)
    assert "AWS Internal" in sources
    assert "logs.amazonaws.com" in sources
    assert any(re.fullmatch(r"\d+\.\d+\.\d+\.\d+", s) and not s.startswith("10.") for s in sources)
    agents = " ".join({r["userAgent"] for r in records})
    for tool in ("aws-cli/2.", "Boto3/1.35", "Mozilla/5.0", "Terraform/", "aws-sdk-go-v2/"):
        assert tool in agents


def test_query_results_follow_their_query(records):
    started = {}
    for r in records:
        if r["eventName"] == "StartQuery" and "errorCode" not in r:
            started[r["responseElements"]["queryId"]] = r
    polled = [r for r in records if r["eventName"] == "GetQueryResults"]
    assert polled
    for r in polled:
        query = started[r["requestParameters"]["queryId"]]
        assert query["eventTime"] <= r["eventTime"]
        assert query["recipientAccountId"] == r["recipientAccountId"]
        assert query["awsRegion"] == r["awsRegion"]


def group_timelines(records: list[Record]) -> dict[tuple[str, str, str], list[Record]]:
    """Calls naming each log group, in eventTime order (records are sorted)."""
    timelines: dict[tuple[str, str, str], list[Record]] = defaultdict(list)
    for r in records:
        for name in log_group_names(r):
            timelines[r["recipientAccountId"], r["awsRegion"], name].append(r)
    return timelines


def test_no_write_succeeds_before_its_log_group_is_created(records):
    for key, calls in group_timelines(records).items():
        created = [c["eventTime"] for c in calls if c["eventName"] == "CreateLogGroup"
                   and "errorCode" not in c]  # fmt: skip
        writes = [c["eventTime"] for c in calls if not c["readOnly"]
                  and c["eventName"] != "CreateLogGroup" and "errorCode" not in c]  # fmt: skip
        if writes:
            assert created, key
            assert min(created) < min(writes), key


def test_log_group_lifecycle_is_coherent(records):
    timelines = group_timelines(records)
    creations: Counter[tuple[str, str, str]] = Counter()
    deleted = 0
    changed_retention = 0
    for key, calls in timelines.items():
        exists = False
        retentions = set()
        for c in calls:
            action, error = c["eventName"], c.get("errorCode")
            if action == "CreateLogGroup" and error is None:
                assert not exists, (key, c["eventTime"])
                exists = True
                creations[key] += 1
            elif action == "DeleteLogGroup" and error is None:
                assert exists, (key, c["eventTime"])
                exists = False
                deleted += 1
            elif error is None:
                assert exists, (key, action, c["eventTime"])
            elif error == "ResourceAlreadyExistsException":
                assert exists, (key, c["eventTime"])
            elif error == "ResourceNotFoundException":
                assert not exists, (key, action, c["eventTime"])
            if action == "PutRetentionPolicy" and error is None:
                retentions.add(c["requestParameters"]["retentionInDays"])
        changed_retention += len(retentions) > 1
    assert len(creations) >= 30
    assert deleted >= 1
    assert changed_retention >= 3
    never_created = [k for k in timelines if k not in creations]
    for key in never_created:  # only failed calls, e.g. a mistyped name
        assert all("errorCode" in c for c in timelines[key]), key


def test_recreated_log_groups_start_over(records):
    recreated = 0
    for calls in group_timelines(records).values():
        lifecycle = [
            c["eventName"]
            for c in calls
            if c["eventName"] in {"CreateLogGroup", "DeleteLogGroup"} and "errorCode" not in c
        ]
        expected = ["CreateLogGroup", "DeleteLogGroup"] * (len(lifecycle) // 2)
        assert lifecycle == expected + ["CreateLogGroup"] * (len(lifecycle) % 2)
        recreated += lifecycle.count("CreateLogGroup") > 1
    assert recreated >= 1
