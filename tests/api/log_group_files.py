"""What the trail files say about log groups, read with gzip and json only.

The expected values of the log-group tests come from here: the CloudWatch Logs API's own
parameter names and the issue's definitions, never the API code under test.
"""

from __future__ import annotations

import gzip
import json
from datetime import datetime
from pathlib import Path
from typing import Any

LOGS = "logs.amazonaws.com"

#: The issue's history kinds, by (eventSource, eventName).
KINDS = {
    (LOGS, "CreateLogGroup"): "CREATED",
    (LOGS, "DeleteLogGroup"): "DELETED",
    (LOGS, "PutRetentionPolicy"): "RETENTION_SET",
    (LOGS, "DeleteRetentionPolicy"): "RETENTION_REMOVED",
    (LOGS, "PutSubscriptionFilter"): "SUBSCRIPTION_FILTER_PUT",
    (LOGS, "DeleteSubscriptionFilter"): "SUBSCRIPTION_FILTER_DELETED",
    (LOGS, "CreateExportTask"): "EXPORT_TASK_CREATED",
    (LOGS, "AssociateKmsKey"): "KMS_KEY_ASSOCIATED",
    (LOGS, "DisassociateKmsKey"): "KMS_KEY_DISASSOCIATED",
    (LOGS, "PutDataProtectionPolicy"): "DATA_PROTECTION_POLICY_PUT",
    (LOGS, "DeleteDataProtectionPolicy"): "DATA_PROTECTION_POLICY_DELETED",
    (LOGS, "PutResourcePolicy"): "RESOURCE_POLICY_PUT",
    (LOGS, "DeleteResourcePolicy"): "RESOURCE_POLICY_DELETED",
    (LOGS, "TagLogGroup"): "TAGGED",
    (LOGS, "TagResource"): "TAGGED",
    (LOGS, "UntagLogGroup"): "UNTAGGED",
    (LOGS, "UntagResource"): "UNTAGGED",
    (LOGS, "StartQuery"): "QUERY_STARTED",
    (LOGS, "StartLiveTail"): "LIVE_TAIL_STARTED",
    ("monitoring.amazonaws.com", "GenerateQuery"): "QUERY_GENERATED",
}
QUERY_KINDS = {"QUERY_STARTED", "LIVE_TAIL_STARTED", "QUERY_GENERATED"}

CHANGE_FIELDS = """kind eventID eventTime principal sourceIPAddress succeeded errorCode
  errorMessage retentionInDays destination destinationPrefix filterName filterPattern kmsKeyId
  policyName tags tagKeys queryString naturalLanguageQuery userIdentity { type arn }
  event { eventID eventName }"""


def read_trail(folder: Path) -> list[dict[str, Any]]:
    """Every record of every .json.gz (and plain .json) file under ``folder``."""
    records: list[dict[str, Any]] = []
    for path in sorted(folder.rglob("*.json.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            records.extend(json.load(handle)["Records"])
    for path in sorted(folder.rglob("*.json")):
        body = json.loads(path.read_text(encoding="utf-8"))
        records.extend(body["Records"] if isinstance(body, dict) else body)
    return records


def _group_name(value: object) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    if value.startswith("arn:") and ":log-group:" in value:
        return value.split(":log-group:", 1)[1].removesuffix(":*")
    return value


def named_groups(record: dict[str, Any]) -> set[str]:
    """The groups a request names.

    In logGroupName(s), logGroupIdentifier(s), or as a log-group resourceArn (TagResource,
    UntagResource, resource policies).
    """
    parameters = record.get("requestParameters")
    if not isinstance(parameters, dict):
        return set()
    values = [parameters.get("logGroupName"), parameters.get("logGroupIdentifier")]
    resource_arn = parameters.get("resourceArn")
    if isinstance(resource_arn, str) and ":log-group:" in resource_arn:
        values.append(resource_arn)
    for key in ("logGroupNames", "logGroupIdentifiers"):
        if isinstance(parameters.get(key), list):
            values.extend(parameters[key])
    return {name for name in map(_group_name, values) if name}


def kind_of(record: dict[str, Any]) -> str | None:
    return KINDS.get((record["eventSource"], record["eventName"]))


def order_key(record: dict[str, Any]) -> tuple[datetime, str]:
    return datetime.fromisoformat(record["eventTime"]), record["eventID"]


def history_of(records: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """The calls of the history kinds naming ``name``, oldest first (eventTime, eventID)."""
    calls = [r for r in records if kind_of(r) and name in named_groups(r)]
    return sorted(calls, key=order_key)


def is_change(record: dict[str, Any]) -> bool:
    """A successful, non-read-only call of a kind that changes the group."""
    kind = kind_of(record)
    return (
        kind is not None
        and kind not in QUERY_KINDS
        and "errorCode" not in record
        and record.get("readOnly") is not True
    )


def principal_of(identity: dict[str, Any]) -> str | None:
    """The README's "who", for the identity types the trails hold."""
    arn = identity.get("arn") or ""
    match identity.get("type"):
        case "Root":
            return "root"
        case "AssumedRole":
            return str(arn.split(":assumed-role/", 1)[1])
        case "FederatedUser":
            return str(arn.split(":federated-user/", 1)[1])
        case "IdentityCenterUser":
            return str(identity["onBehalfOf"]["userId"])
        case "AWSService":
            return str(identity["invokedBy"])
        case _:
            return str(identity["userName"])


def expected_change(record: dict[str, Any]) -> dict[str, Any]:
    """A history entry as the API should give it, for the fields in CHANGE_FIELDS."""
    p = record.get("requestParameters") or {}
    name = record["eventName"]
    identity = record["userIdentity"]
    destination = {"PutSubscriptionFilter": "destinationArn", "CreateExportTask": "destination"}
    pattern = {"PutSubscriptionFilter": "filterPattern", "StartLiveTail": "logEventFilterPattern"}
    return {
        "kind": kind_of(record),
        "eventID": record["eventID"],
        "eventTime": datetime.fromisoformat(record["eventTime"]).isoformat(),
        "principal": principal_of(identity),
        "sourceIPAddress": record.get("sourceIPAddress"),
        "succeeded": "errorCode" not in record,
        "errorCode": record.get("errorCode"),
        "errorMessage": record.get("errorMessage"),
        "retentionInDays": p.get("retentionInDays"),
        "destination": p.get(destination[name]) if name in destination else None,
        "destinationPrefix": p.get("destinationPrefix"),
        "filterName": p.get("filterName"),
        "filterPattern": p.get(pattern[name]) if name in pattern else None,
        "kmsKeyId": p.get("kmsKeyId"),
        "policyName": p.get("policyName"),
        "tags": p.get("tags") if isinstance(p.get("tags"), dict) else None,
        "tagKeys": p.get("tagKeys") if name == "UntagResource" else None,
        "queryString": p.get("queryString"),
        "naturalLanguageQuery": p.get("naturalLanguageQuery"),
        "userIdentity": {"type": identity.get("type"), "arn": identity.get("arn")},
        "event": {"eventID": record["eventID"], "eventName": name},
    }
