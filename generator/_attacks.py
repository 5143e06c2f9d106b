"""Labelled attacks and look-alikes planted into a generated trail, and their ground truth.

Every shipped detection rule gets at least one scenario: events an attacker's actions leave,
each labelled with the rule (or rules) that must raise a finding and the events that finding
must hold as evidence. Beside them go look-alikes, benign activity close to an attack that
must raise nothing: retention raised, retention policies deleted (keep forever),
subscriptions within the account or to a trusted account, deletions by AWS services and by
the usual CI role, routine reads and exports by the usual principals, a policy for a trusted
account, event selectors that keep management events.

Rules are named by their ids only (strings): the generator imports nothing from detections/.
The ground truth also says which settings it assumes (trusted accounts and principals, the
export allow-list, the retention floor), so a test configures exactly those.
"""

from __future__ import annotations

import gzip
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import orjson

from generator._world import ACCOUNTS, REGIONS

if TYPE_CHECKING:
    from pathlib import Path

DAY: Final = 86400
#: The trail must be at least this long: the export rule looks back 30 days, and an
#: account's first 30 days are not judged.
MIN_DAYS: Final = 45
TRUSTED_ACCOUNT: Final = "999988887777"
UNTRUSTED_ACCOUNT: Final = "444455556666"
CI_ROLE: Final = "github-actions-deployer"
READER_ROLE: Final = "grafana-cloudwatch-datasource"
EXPORT_ROLE: Final = "nightly-log-export"
ALLOWED_BUCKET: Final = "acme-audit-exports"


def ground_truth_path(out: Path) -> Path:
    """Where the ground truth of ``trail/`` goes: ``trail.ground-truth.json``.

    Beside the folder, not in it, so that indexing the folder reads trail files only.
    """
    folder = out.resolve()
    return folder.with_name(folder.name + ".ground-truth.json")


@dataclass
class Scenario:
    """Planted events, and the findings they must raise (rule -> evidence eventIDs)."""

    id: str
    description: str
    event_ids: list[str] = field(default_factory=list)
    expected: list[dict[str, Any]] = field(default_factory=list)


class _Planter:
    def __init__(self, out: Path, begin: int, seed: int) -> None:
        self.out = out
        self.begin = begin - begin % DAY
        self.random = random.Random(seed * 7919 + 17)  # noqa: S311  synthetic data, not secrets
        self.files: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
        self.account = ACCOUNTS[1]
        self.region = REGIONS[0]

    def at(self, day: float, minute: float = 0.0) -> int:
        return int(self.begin + day * DAY + minute * 60)

    def _identity(self, kind: str, name: str, account: str) -> dict[str, Any]:
        if kind == "user":
            return {
                "type": "IAMUser",
                "principalId": "AIDA" + self._hex(16).upper(),
                "arn": f"arn:aws:iam::{account}:user/{name}",
                "accountId": account,
                "accessKeyId": "AKIA" + self._hex(16).upper(),
                "userName": name,
            }
        if kind == "service":
            return {"type": "AWSService", "invokedBy": name}
        role, _, session = name.partition("/")
        issuer_id = "AROA" + self._hex(16).upper()
        return {
            "type": "AssumedRole",
            "principalId": f"{issuer_id}:{session}",
            "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}",
            "accountId": account,
            "accessKeyId": "ASIA" + self._hex(16).upper(),
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": issuer_id,
                    "arn": f"arn:aws:iam::{account}:role/{role}",
                    "accountId": account,
                    "userName": role,
                },
                "attributes": {"creationDate": "2024-01-01T00:00:00Z", "mfaAuthenticated": "false"},
            },
        }

    def _hex(self, digits: int) -> str:
        return "".join(self.random.choice("0123456789abcdef") for _ in range(digits))

    def event(
        self,
        when: int,
        name: str,
        who: tuple[str, str],
        params: dict[str, Any] | None,
        *,
        source: str = "logs.amazonaws.com",
        error: str | None = None,
        account: str | None = None,
        read_only: bool = False,
        invoked_by: str | None = None,
    ) -> str:
        account = account or self.account
        identity = self._identity(who[0], who[1], account)
        if invoked_by is not None:
            identity["invokedBy"] = invoked_by
        event_id = str(uuid.UUID(int=self.random.getrandbits(128), version=4))
        service_call = who[0] == "service"
        record: dict[str, Any] = {
            "eventVersion": "1.09",
            "userIdentity": identity,
            "eventTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when)),
            "eventSource": source,
            "eventName": name,
            "awsRegion": self.region,
            "sourceIPAddress": who[1] if service_call else (invoked_by or "198.51.100.23"),
            "userAgent": who[1] if service_call else (invoked_by or "aws-cli/2.17.0"),
            "requestParameters": params,
            "responseElements": None,
            "requestID": str(uuid.UUID(int=self.random.getrandbits(128), version=4)),
            "eventID": event_id,
            "readOnly": read_only,
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": account,
            "eventCategory": "Management",
        }
        if error is not None:
            record["errorCode"] = error
            record["errorMessage"] = f"User is not authorized to perform: {name}"
        window = when - when % 300
        self.files.setdefault((account, self.region, window), []).append(record)
        return event_id

    def write(self) -> int:
        for number, ((account, region, window), records) in enumerate(sorted(self.files.items())):
            stamp = time.strftime("%Y%m%dT%H%MZ", time.gmtime(window))
            day = f"{stamp[:4]}/{stamp[4:6]}/{stamp[6:8]}"
            folder = self.out / "AWSLogs" / account / "CloudTrail" / region / day
            folder.mkdir(parents=True, exist_ok=True)
            name = f"{account}_CloudTrail_{region}_{stamp}_planted{number:04d}.json.gz"
            body = orjson.dumps({"Records": sorted(records, key=lambda r: r["eventTime"])})
            (folder / name).write_bytes(gzip.compress(body, compresslevel=6, mtime=0))
        return len(self.files)


def _policy(principal: Any) -> str:
    return orjson.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": principal,
                    "Action": "logs:PutSubscriptionFilter",
                    "Resource": "arn:aws:logs:us-east-1:234567890123:destination:central",
                }
            ],
        }
    ).decode()


def _attacks(p: _Planter) -> list[Scenario]:
    scenarios: list[Scenario] = []

    def single(scenario_id: str, description: str, rule: str, event_id: str) -> None:
        scenarios.append(
            Scenario(scenario_id, description, [event_id], [{"rule": rule, "evidence": [event_id]}])
        )

    day = 34.0
    single(
        "log-group-deleted",
        "an intruder deletes the payments log group",
        "logs_log_group_deleted",
        p.event(
            p.at(day, 3),
            "DeleteLogGroup",
            ("user", "intruder-deleter"),
            {"logGroupName": "/planted/payments"},
        ),
    )
    streams = Scenario("log-streams-burst", "an intruder empties a log group stream by stream")
    for i in range(12):
        streams.event_ids.append(
            p.event(
                p.at(day, 21 + i * 0.25),
                "DeleteLogStream",
                ("user", "intruder-streams"),
                {
                    "logGroupName": "/planted/orders",
                    "logStreamName": f"2024/01/01/[$LATEST]{i:04x}",
                },
            )
        )
    streams.expected = [
        {"rule": "logs_log_streams_deleted_burst", "evidence": list(streams.event_ids)}
    ]
    scenarios.append(streams)

    cut = Scenario("retention-cut-below-previous", "retention cut from 365 to 30 days")
    cut.event_ids.append(
        p.event(
            p.at(2, 5),
            "PutRetentionPolicy",
            ("role", "terraform-deployer/tf"),
            {"logGroupName": "/planted/audit", "retentionInDays": 365},
        )
    )
    cut_id = p.event(
        p.at(day, 43),
        "PutRetentionPolicy",
        ("user", "intruder-retention"),
        {"logGroupName": "/planted/audit", "retentionInDays": 30},
    )
    cut.event_ids.append(cut_id)
    cut.expected = [{"rule": "logs_retention_shortened", "evidence": [cut_id]}]
    scenarios.append(cut)
    single(
        "retention-under-floor",
        "retention of a group with no history set to 1 day, under the floor",
        "logs_retention_shortened",
        p.event(
            p.at(day, 63),
            "PutRetentionPolicy",
            ("user", "intruder-floor"),
            {"logGroupName": "/planted/security", "retentionInDays": "1"},
        ),
    )
    single(
        "subscription-filter-deleted",
        "the subscription feeding the SIEM is deleted",
        "logs_subscription_filter_deleted",
        p.event(
            p.at(day, 83),
            "DeleteSubscriptionFilter",
            ("user", "intruder-unsubscribe"),
            {"logGroupName": "/planted/siem-fed", "filterName": "to-siem"},
        ),
    )
    day = 36.0
    single(
        "subscription-to-foreign-account",
        "a subscription filter sends a log group to an untrusted account",
        "logs_subscription_to_foreign_account",
        p.event(
            p.at(day, 3),
            "PutSubscriptionFilter",
            ("user", "intruder-exfil"),
            {
                "logGroupName": "/planted/payments-api",
                "filterName": "x",
                "filterPattern": "",
                "destinationArn": f"arn:aws:logs:us-east-1:{UNTRUSTED_ACCOUNT}:destination:drop",
            },
        ),
    )
    single(
        "destination-policy-open",
        "a destination policy allows everyone",
        "logs_policy_grants_untrusted",
        p.event(
            p.at(day, 23),
            "PutDestinationPolicy",
            ("user", "intruder-policy"),
            {"destinationName": "central", "accessPolicy": _policy({"AWS": "*"})},
        ),
    )
    single(
        "resource-policy-untrusted-account",
        "a resource policy lets an untrusted account in",
        "logs_policy_grants_untrusted",
        p.event(
            p.at(day, 43),
            "PutResourcePolicy",
            ("user", "intruder-policy2"),
            {
                "policyName": "open",
                "policyDocument": _policy({"AWS": f"arn:aws:iam::{UNTRUSTED_ACCOUNT}:root"}),
            },
        ),
    )
    export = Scenario("export-new-principal", "a principal that never exported creates exports")
    first_export = p.event(
        p.at(day, 63),
        "CreateExportTask",
        ("user", "intruder-export"),
        {"logGroupName": "/planted/customers", "destination": ALLOWED_BUCKET, "from": 0, "to": 1},
    )
    export.event_ids = [
        first_export,
        p.event(
            p.at(day, 64),
            "CreateExportTask",
            ("user", "intruder-export"),
            {
                "logGroupName": "/planted/customers2",
                "destination": ALLOWED_BUCKET,
                "from": 0,
                "to": 1,
            },
        ),
    ]
    export.expected = [{"rule": "logs_export_task_new_principal", "evidence": [first_export]}]
    scenarios.append(export)
    single(
        "export-unlisted-bucket",
        "the usual exporter writes to a bucket that is not on the allow-list",
        "logs_export_task_unlisted_bucket",
        p.event(
            p.at(
                day,
                83,
            ),
            "CreateExportTask",
            ("role", f"{EXPORT_ROLE}/nightly"),
            {
                "logGroupName": "/planted/exported",
                "destination": "exfil-drop-bucket",
                "from": 0,
                "to": 1,
            },
        ),
    )
    day = 38.0
    single(
        "kms-disassociated",
        "the KMS key of a log group is disassociated",
        "logs_kms_key_disassociated",
        p.event(
            p.at(day, 3),
            "DisassociateKmsKey",
            ("user", "intruder-kms"),
            {"logGroupName": "/planted/encrypted"},
        ),
    )
    single(
        "data-protection-deleted",
        "a data protection policy is deleted",
        "logs_data_protection_policy_deleted",
        p.event(
            p.at(day, 23),
            "DeleteDataProtectionPolicy",
            ("user", "intruder-dpp"),
            {"logGroupIdentifier": "/planted/pii"},
        ),
    )
    single(
        "metric-filter-deleted",
        "the metric filter behind the root-login alarm is deleted",
        "logs_metric_filter_deleted",
        p.event(
            p.at(day, 43),
            "DeleteMetricFilter",
            ("user", "intruder-metric"),
            {"logGroupName": "/planted/cloudtrail", "filterName": "root-login"},
        ),
    )
    reads = Scenario("contents-read-new-principal", "a principal never seen reading reads logs")
    for i, action in enumerate(
        ["FilterLogEvents", "GetLogEvents", "FilterLogEvents", "StartQuery"]
    ):
        reads.event_ids.append(
            p.event(
                p.at(day, 63 + i),
                action,
                ("user", "intruder-reader"),
                {"logGroupName": "/planted/app"},
                read_only=True,
            )
        )
    reads.expected = [
        {"rule": "logs_contents_read_new_principal", "evidence": [reads.event_ids[0]]}
    ]
    scenarios.append(reads)
    denied = Scenario("access-denied-burst", "stolen credentials probe CloudWatch Logs")
    for i in range(25):
        action = ("DescribeLogGroups", "GetLogEvents", "DescribeSubscriptionFilters")[i % 3]
        denied.event_ids.append(
            p.event(
                p.at(day, 81 + i * 0.2),
                action,
                ("user", "intruder-prober"),
                {"logGroupName": "/planted/app"},
                error="AccessDenied",
                read_only=True,
            )
        )
    denied.expected = [{"rule": "logs_access_denied_burst", "evidence": list(denied.event_ids)}]
    scenarios.append(denied)
    day = 40.0
    for offset, action in ((3, "StopLogging"), (23, "DeleteTrail")):
        single(
            f"trail-{action.lower()}",
            f"the trail is stopped ({action})",
            "cloudtrail_logging_stopped",
            p.event(
                p.at(day, offset),
                action,
                ("user", "intruder-trail"),
                {"name": "management-trail"},
                source="cloudtrail.amazonaws.com",
            ),
        )
    single(
        "trail-updated",
        "the trail is pointed at another bucket",
        "cloudtrail_trail_updated",
        p.event(
            p.at(day, 43),
            "UpdateTrail",
            ("user", "intruder-trail2"),
            {"name": "management-trail", "s3BucketName": "elsewhere"},
            source="cloudtrail.amazonaws.com",
        ),
    )
    single(
        "event-selectors-drop-management",
        "event selectors stop recording management events",
        "cloudtrail_management_events_dropped",
        p.event(
            p.at(day, 63),
            "PutEventSelectors",
            ("user", "intruder-selectors"),
            {
                "trailName": "management-trail",
                "eventSelectors": [
                    {"readWriteType": "All", "includeManagementEvents": False, "dataResources": []}
                ],
            },
            source="cloudtrail.amazonaws.com",
        ),
    )
    single(
        "alarms-deleted",
        "the alarms on the log metric filters are deleted",
        "cloudwatch_alarms_deleted",
        p.event(
            p.at(day, 83),
            "DeleteAlarms",
            ("user", "intruder-alarms"),
            {"alarmNames": ["root-login"]},
            source="monitoring.amazonaws.com",
        ),
    )
    single(
        "failed-log-group-deletion",
        "an attempt to delete a log group is denied",
        "logs_tampering_attempt_failed",
        p.event(
            p.at(day, 103),
            "DeleteLogGroup",
            ("user", "intruder-tries"),
            {"logGroupName": "/planted/payments"},
            error="AccessDenied",
        ),
    )
    return scenarios


def _lookalikes(p: _Planter) -> list[Scenario]:
    looks: list[Scenario] = []

    def look(look_id: str, description: str, *event_ids: str) -> None:
        looks.append(Scenario(look_id, description, list(event_ids)))

    ci = ("role", f"{CI_ROLE}/GitHubActions")
    day = 35.0
    look(
        "retention-raised",
        "retention raised from 30 to 90 days",
        p.event(
            p.at(1, 7),
            "PutRetentionPolicy",
            ci,
            {"logGroupName": "/planted/raised", "retentionInDays": 30},
        ),
        p.event(
            p.at(day, 3),
            "PutRetentionPolicy",
            ("user", "ops-raiser"),
            {"logGroupName": "/planted/raised", "retentionInDays": 90},
        ),
    )
    look(
        "retention-policy-deleted",
        "a retention policy deleted: keep forever",
        p.event(
            p.at(day, 23),
            "DeleteRetentionPolicy",
            ("user", "ops-forever"),
            {"logGroupName": "/planted/forever"},
        ),
    )
    look(
        "subscription-same-account",
        "a subscription to a Lambda function in the same account",
        p.event(
            p.at(day, 43),
            "PutSubscriptionFilter",
            ("user", "ops-subscriber"),
            {
                "logGroupName": "/planted/local",
                "filterName": "f",
                "filterPattern": "",
                "destinationArn": f"arn:aws:lambda:us-east-1:{p.account}:function:shipper",
            },
        ),
    )
    look(
        "subscription-trusted-account",
        "a subscription to the trusted central logging account",
        p.event(
            p.at(day, 63),
            "PutSubscriptionFilter",
            ("user", "ops-subscriber2"),
            {
                "logGroupName": "/planted/central",
                "filterName": "f",
                "filterPattern": "",
                "destinationArn": f"arn:aws:logs:us-east-1:{TRUSTED_ACCOUNT}:destination:siem",
            },
        ),
    )
    look(
        "policy-trusted-account",
        "a destination policy for the trusted account",
        p.event(
            p.at(day, 83),
            "PutDestinationPolicy",
            ("user", "ops-policy"),
            {
                "destinationName": "central",
                "accessPolicy": _policy({"AWS": f"arn:aws:iam::{TRUSTED_ACCOUNT}:root"}),
            },
        ),
    )
    look(
        "policy-service-principal",
        "a resource policy for an AWS service",
        p.event(
            p.at(day, 103),
            "PutResourcePolicy",
            ("user", "ops-policy2"),
            {
                "policyName": "route53",
                "policyDocument": _policy({"Service": "route53.amazonaws.com"}),
            },
        ),
    )
    day = 37.0
    look(
        "deleted-by-aws-service",
        "a log group deleted by an AWS service",
        p.event(
            p.at(day, 3),
            "DeleteLogGroup",
            ("service", "lambda.amazonaws.com"),
            {"logGroupName": "/planted/ephemeral"},
        ),
    )
    look(
        "deleted-through-cloudformation",
        "a log group deleted by CloudFormation for a user",
        p.event(
            p.at(day, 13),
            "DeleteLogGroup",
            ("role", "stack-owner/alice"),
            {"logGroupName": "/planted/stack"},
            invoked_by="cloudformation.amazonaws.com",
        ),
    )
    ci_events = [
        p.event(p.at(day, 23), "DeleteLogGroup", ci, {"logGroupName": "/planted/preview-42"}),
        p.event(
            p.at(day, 24),
            "DeleteSubscriptionFilter",
            ci,
            {"logGroupName": "/planted/preview-43", "filterName": "f"},
        ),
        p.event(
            p.at(day, 25),
            "DeleteMetricFilter",
            ci,
            {"logGroupName": "/planted/preview-43", "filterName": "m"},
        ),
    ]
    ci_events += [
        p.event(
            p.at(day, 41 + i * 0.2),
            "DeleteLogStream",
            ci,
            {"logGroupName": "/planted/preview-44", "logStreamName": f"s{i}"},
        )
        for i in range(15)
    ]
    look("deleted-by-ci-role", "the usual CI role tears down a preview environment", *ci_events)
    routine_reads = [
        p.event(
            p.at(d, 600 + (d % 5) * 7),
            "StartQuery",
            ("role", f"{READER_ROLE}/grafana"),
            {"logGroupName": "/planted/app"},
            read_only=True,
        )
        for d in range(MIN_DAYS - 1)
    ]
    look("routine-reads", "the dashboards' role reads every day", *routine_reads)
    routine_exports = [
        p.event(
            p.at(d, 120),
            "CreateExportTask",
            ("role", f"{EXPORT_ROLE}/nightly"),
            {
                "logGroupName": "/planted/exported",
                "destination": ALLOWED_BUCKET,
                "from": 0,
                "to": 1,
            },
        )
        for d in range(MIN_DAYS - 1)
    ]
    look("routine-exports", "the nightly export to the allowed bucket", *routine_exports)
    look(
        "event-selectors-keep-management",
        "event selectors that add data events",
        p.event(
            p.at(39, 3),
            "PutEventSelectors",
            ("user", "ops-selectors"),
            {
                "trailName": "management-trail",
                "eventSelectors": [
                    {
                        "readWriteType": "All",
                        "includeManagementEvents": True,
                        "dataResources": [{"type": "AWS::S3::Object", "values": ["arn:aws:s3"]}],
                    }
                ],
            },
            source="cloudtrail.amazonaws.com",
        ),
    )
    return looks


def plant_attacks(out: Path, *, begin: int, seed: int) -> dict[str, Any]:
    """Write the planted files under ``out``, and their ground truth beside that folder."""
    planter = _Planter(out, begin, seed)
    scenarios = _attacks(planter)
    lookalikes = _lookalikes(planter)
    files = planter.write()
    buckets = [ALLOWED_BUCKET] + [f"acme-log-archive-{a}-{r}" for a in ACCOUNTS for r in REGIONS]
    truth = {
        "settings": {
            "TRAILQL_TRUSTED_ACCOUNTS": ",".join([TRUSTED_ACCOUNT, *ACCOUNTS]),
            "TRAILQL_TRUSTED_PRINCIPALS": CI_ROLE,
            "TRAILQL_EXPORT_BUCKETS": ",".join(buckets),
            "TRAILQL_RETENTION_FLOOR_DAYS": "7",
        },
        "files": files,
        "scenarios": [
            {
                "id": s.id,
                "description": s.description,
                "eventIds": s.event_ids,
                "expected": s.expected,
            }
            for s in scenarios
        ],
        "lookalikes": [
            {"id": s.id, "description": s.description, "eventIds": s.event_ids} for s in lookalikes
        ],
    }
    ground_truth_path(out).write_bytes(orjson.dumps(truth, option=orjson.OPT_INDENT_2))
    return truth
