"""requestParameters of the calls that change a log group's configuration (or the account's)."""

from __future__ import annotations

import time
from itertools import accumulate
from typing import TYPE_CHECKING, Any, Final

import orjson

from generator._actions import FILTER_PATTERNS, MAX_FILTERS, RETENTION_DAYS
from generator._calendar import DAY_SECONDS
from generator._errors import INVALID

if TYPE_CHECKING:
    from generator._dice import Dice
    from generator._log_groups import LogGroup
    from generator._streams import Call, Stream

# How often each valid retention is chosen, in RETENTION_DAYS order.
_RETENTION_CUMULATIVE_WEIGHTS: Final = tuple(
    accumulate((1, 2, 1, 8, 10, 12, 4, 9, 1, 1, 3, 8, 2, 1, 2, 1, 1, 0.3, 0.3, 0.3, 0.3, 0.3))
)
_INVALID_RETENTION_DAYS: Final = (2, 10, 21, 45, 100, 1000)
# Subscription filter names and where each sends: (kind, function or stream name).
_SUBSCRIPTIONS: Final = {
    "datadog-forwarder": ("lambda", "datadog-forwarder"),
    "LambdaStream_log-shipper-opensearch": ("lambda", "log-shipper-opensearch"),
    "splunk-firehose": ("firehose", "splunk-logs"),
    "errors-to-kinesis": ("kinesis", "log-errors"),
}
_DATA_IDENTIFIERS: Final = ("EmailAddress", "CreditCardNumber", "AwsSecretKey", "IpAddress", "Name")
# Resource policy names and the service each lets write into log groups.
_RESOURCE_POLICIES: Final = {
    "AWSLogDeliveryWrite20150319": "delivery.logs.amazonaws.com",
    "TrustEventsToStoreLogEvent": "events.amazonaws.com",
    "route53-query-logging": "route53.amazonaws.com",
    "es-log-publishing": "es.amazonaws.com",
}
_RESOURCE_POLICY_NAMES: Final = tuple(_RESOURCE_POLICIES)
_TAG_TEAMS: Final = ("platform", "payments", "growth", "data", "sre", "security")


def _tags(dice: Dice, group: LogGroup, stream: Stream) -> dict[str, str]:
    tags = {"team": dice.choice(_TAG_TEAMS), "env": stream.account.environment, "app": group.app}
    if dice.chance(0.4):
        tags["cost-center"] = f"cc-{dice.randint(1000, 9999)}"
    return tags


def create_log_group(dice: Dice, call: Call) -> dict[str, Any]:
    group = call.target()
    params: dict[str, Any] = {"logGroupName": group.name}
    if dice.chance(0.15):
        params["kmsKeyId"] = dice.choice(call.stream.kms_keys)
    if call.principal.identity_type != "AWSService" and dice.chance(0.5):
        params["tags"] = _tags(dice, group, call.stream)
    if dice.chance(0.05):
        params["logGroupClass"] = "INFREQUENT_ACCESS"
    return params


def put_retention_policy(dice: Dice, call: Call) -> dict[str, Any]:
    group = call.target()
    if call.error == INVALID:
        return {"logGroupName": group.name, "retentionInDays": dice.choice(_INVALID_RETENTION_DAYS)}
    days = group.retention
    while days == group.retention:  # a change, not a no-op re-apply
        days = dice.pick_weighted(RETENTION_DAYS, _RETENTION_CUMULATIVE_WEIGHTS)
    return {"logGroupName": group.name, "retentionInDays": days}


def create_export_task(_dice: Dice, call: Call) -> dict[str, Any]:
    """Export yesterday (UTC) to the account's archive bucket, as a nightly job would."""
    group = call.target()
    day_start = call.epoch_second - call.epoch_second % DAY_SECONDS - DAY_SECONDS
    date = time.strftime("%Y-%m-%d", time.gmtime(day_start))
    slug = group.name.strip("/").replace("/", "-").replace("$", "")
    account_id, region = call.stream.account.account_id, call.stream.region
    return {
        "taskName": f"export-{slug}-{date}",
        "logGroupName": group.name,
        "from": day_start * 1000,
        "to": (day_start + DAY_SECONDS) * 1000 - 1,
        "destination": f"acme-log-archive-{account_id}-{region}",
        "destinationPrefix": f"exports/{slug}/{date.replace('-', '/')}",
    }


def put_subscription_filter(dice: Dice, call: Call) -> dict[str, Any]:
    """Add a filter the group lacks, or (at the limit, or sometimes) update one it has."""
    group = call.target()
    account_id, region = call.stream.account.account_id, call.stream.region
    environment = call.stream.account.environment
    if group.filters and (len(group.filters) >= MAX_FILTERS or dice.chance(0.4)):
        name = dice.choice(sorted(group.filters))
    else:
        name = dice.choice([other for other in _SUBSCRIPTIONS if other not in group.filters])
    kind, destination = _SUBSCRIPTIONS[name]
    params: dict[str, Any] = {
        "logGroupName": group.name,
        "filterName": name,
        "filterPattern": dice.choice(FILTER_PATTERNS),
    }
    if kind == "lambda":
        params["destinationArn"] = f"arn:aws:lambda:{region}:{account_id}:function:{destination}"
    elif kind == "firehose":
        params["destinationArn"] = (
            f"arn:aws:firehose:{region}:{account_id}:deliverystream/{destination}-{environment}"
        )
        params["roleArn"] = f"arn:aws:iam::{account_id}:role/CWLtoFirehoseRole"
    else:
        params["destinationArn"] = (
            f"arn:aws:kinesis:{region}:{account_id}:stream/{destination}-{environment}"
        )
        params["roleArn"] = f"arn:aws:iam::{account_id}:role/CWLtoKinesisRole"
        if dice.chance(0.5):
            params["distribution"] = "ByLogStream"
    return params


def delete_subscription_filter(dice: Dice, call: Call) -> dict[str, Any]:
    group = call.target()
    name = dice.choice(sorted(group.filters)) if group.filters else "datadog-forwarder"
    return {"logGroupName": group.name, "filterName": name}


def associate_kms_key(dice: Dice, call: Call) -> dict[str, Any]:
    return {"logGroupName": call.target().name, "kmsKeyId": dice.choice(call.stream.kms_keys)}


def put_data_protection_policy(dice: Dice, call: Call) -> dict[str, Any]:
    group = call.target()
    identifiers = [
        f"arn:aws:dataprotection::aws:data-identifier/{name}"
        for name in dice.sample(_DATA_IDENTIFIERS, 2)
    ]
    document = {
        "Name": "data-protection-policy",
        "Description": "",
        "Version": "2021-06-01",
        "Statement": [
            {
                "Sid": "audit-policy",
                "DataIdentifier": identifiers,
                "Operation": {"Audit": {"FindingsDestination": {}}},
            },
            {
                "Sid": "redact-policy",
                "DataIdentifier": identifiers,
                "Operation": {"Deidentify": {"MaskConfig": {}}},
            },
        ],
    }
    identifier = group.arn if dice.chance(0.4) else group.name
    return {"logGroupIdentifier": identifier, "policyDocument": orjson.dumps(document).decode()}


def put_resource_policy(dice: Dice, call: Call) -> dict[str, Any]:
    account_id = call.stream.account.account_id
    name = dice.choice(_RESOURCE_POLICY_NAMES)
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": name,
                "Effect": "Allow",
                "Principal": {"Service": _RESOURCE_POLICIES[name]},
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": call.stream.group_arn("*"),
                "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
            }
        ],
    }
    return {"policyName": name, "policyDocument": orjson.dumps(document).decode()}


def tag_log_group(dice: Dice, call: Call) -> dict[str, Any]:
    group = call.target()
    return {"logGroupName": group.name, "tags": _tags(dice, group, call.stream)}


def tag_resource(dice: Dice, call: Call) -> dict[str, Any]:
    group = call.target()
    return {"resourceArn": group.arn, "tags": _tags(dice, group, call.stream)}
