"""What counts as a change to a log group, and how one CloudTrail event reads as one.

A log group's history is a list of calls, each with its kind and the few parameters that
matter for that kind (the retention set, where a subscription sends, ...). The parameters are
read from ``requestParameters`` by CloudTrail's own names, whatever the kind, so a call that
records one more parameter in future shows it without a change here.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON

from api.filters import failure_query
from api.types import Event
from schema import failed, principal_name
from schema.document import parse_event_time
from schema.paths import EVENT_NAME, EVENT_SOURCE, READ_ONLY

LOGS = "logs.amazonaws.com"
MONITORING = "monitoring.amazonaws.com"  # where CloudTrail records the query generator


@strawberry.enum(description="What a call in a log group's history did to it, or with it.")
class LogGroupChangeKind(Enum):
    """One kind per CloudWatch Logs action (two for tags: the old and the new API)."""

    CREATED = strawberry.enum_value("CREATED", description="CreateLogGroup.")
    DELETED = strawberry.enum_value("DELETED", description="DeleteLogGroup.")
    RETENTION_SET = strawberry.enum_value(
        "RETENTION_SET", description="PutRetentionPolicy: retentionInDays is the new retention."
    )
    RETENTION_REMOVED = strawberry.enum_value(
        "RETENTION_REMOVED",
        description="DeleteRetentionPolicy: events are kept forever from then on.",
    )
    SUBSCRIPTION_FILTER_PUT = strawberry.enum_value(
        "SUBSCRIPTION_FILTER_PUT",
        description="PutSubscriptionFilter: the filter filterName added, or updated, to send "
        "to destination.",
    )
    SUBSCRIPTION_FILTER_DELETED = strawberry.enum_value(
        "SUBSCRIPTION_FILTER_DELETED",
        description="DeleteSubscriptionFilter: the filter filterName removed.",
    )
    EXPORT_TASK_CREATED = strawberry.enum_value(
        "EXPORT_TASK_CREATED",
        description="CreateExportTask: an export to the S3 bucket destination, under "
        "destinationPrefix.",
    )
    KMS_KEY_ASSOCIATED = strawberry.enum_value(
        "KMS_KEY_ASSOCIATED", description="AssociateKmsKey: encrypted with kmsKeyId from then on."
    )
    KMS_KEY_DISASSOCIATED = strawberry.enum_value(
        "KMS_KEY_DISASSOCIATED", description="DisassociateKmsKey."
    )
    DATA_PROTECTION_POLICY_PUT = strawberry.enum_value(
        "DATA_PROTECTION_POLICY_PUT", description="PutDataProtectionPolicy."
    )
    DATA_PROTECTION_POLICY_DELETED = strawberry.enum_value(
        "DATA_PROTECTION_POLICY_DELETED", description="DeleteDataProtectionPolicy."
    )
    RESOURCE_POLICY_PUT = strawberry.enum_value(
        "RESOURCE_POLICY_PUT",
        description="PutResourcePolicy naming this group as its resourceArn (account-wide "
        "policies name no group and are not in any group's history).",
    )
    RESOURCE_POLICY_DELETED = strawberry.enum_value(
        "RESOURCE_POLICY_DELETED", description="DeleteResourcePolicy naming this group."
    )
    TAGGED = strawberry.enum_value("TAGGED", description="TagLogGroup or TagResource: tags set.")
    UNTAGGED = strawberry.enum_value(
        "UNTAGGED", description="UntagLogGroup or UntagResource: the tags tagKeys removed."
    )
    QUERY_STARTED = strawberry.enum_value(
        "QUERY_STARTED", description="StartQuery: a Logs Insights query (queryString)."
    )
    LIVE_TAIL_STARTED = strawberry.enum_value(
        "LIVE_TAIL_STARTED", description="StartLiveTail, filtered by filterPattern if set."
    )
    QUERY_GENERATED = strawberry.enum_value(
        "QUERY_GENERATED",
        description="GenerateQuery: the query generator asked naturalLanguageQuery about "
        "this group (recorded by CloudTrail under monitoring.amazonaws.com).",
    )


_K = LogGroupChangeKind

#: The calls a history holds, by (eventSource, eventName).
KIND_OF_CALL: dict[tuple[str, str], LogGroupChangeKind] = {
    (LOGS, "CreateLogGroup"): _K.CREATED,
    (LOGS, "DeleteLogGroup"): _K.DELETED,
    (LOGS, "PutRetentionPolicy"): _K.RETENTION_SET,
    (LOGS, "DeleteRetentionPolicy"): _K.RETENTION_REMOVED,
    (LOGS, "PutSubscriptionFilter"): _K.SUBSCRIPTION_FILTER_PUT,
    (LOGS, "DeleteSubscriptionFilter"): _K.SUBSCRIPTION_FILTER_DELETED,
    (LOGS, "CreateExportTask"): _K.EXPORT_TASK_CREATED,
    (LOGS, "AssociateKmsKey"): _K.KMS_KEY_ASSOCIATED,
    (LOGS, "DisassociateKmsKey"): _K.KMS_KEY_DISASSOCIATED,
    (LOGS, "PutDataProtectionPolicy"): _K.DATA_PROTECTION_POLICY_PUT,
    (LOGS, "DeleteDataProtectionPolicy"): _K.DATA_PROTECTION_POLICY_DELETED,
    (LOGS, "PutResourcePolicy"): _K.RESOURCE_POLICY_PUT,
    (LOGS, "DeleteResourcePolicy"): _K.RESOURCE_POLICY_DELETED,
    (LOGS, "TagLogGroup"): _K.TAGGED,
    (LOGS, "TagResource"): _K.TAGGED,
    (LOGS, "UntagLogGroup"): _K.UNTAGGED,
    (LOGS, "UntagResource"): _K.UNTAGGED,
    (LOGS, "StartQuery"): _K.QUERY_STARTED,
    (LOGS, "StartLiveTail"): _K.LIVE_TAIL_STARTED,
    (MONITORING, "GenerateQuery"): _K.QUERY_GENERATED,
}

#: Kinds that only read the group; every other kind changes it.
QUERY_KINDS = frozenset({_K.QUERY_STARTED, _K.LIVE_TAIL_STARTED, _K.QUERY_GENERATED})

#: How the schema says what "last change" means; kept beside the query that implements it.
CHANGE_DEFINITION = (
    "A change is a successful call (no errorCode), not read-only, of one of the kinds of "
    "LogGroupChangeKind other than QUERY_STARTED, LIVE_TAIL_STARTED and QUERY_GENERATED"
)


def _calls_query(kinds: frozenset[LogGroupChangeKind] | None) -> dict[str, Any]:
    """Events that are calls of these kinds (all kinds for None)."""
    by_source: dict[str, list[str]] = {}
    for (source, name), kind in KIND_OF_CALL.items():
        if kinds is None or kind in kinds:
            by_source.setdefault(source, []).append(name)
    either = [
        {"bool": {"filter": [{"term": {EVENT_SOURCE: source}}, {"terms": {EVENT_NAME: names}}]}}
        for source, names in sorted(by_source.items())
    ]
    return {"bool": {"should": either, "minimum_should_match": 1}}


def history_calls_query() -> dict[str, Any]:
    """Events that belong in a history (whether or not they succeeded)."""
    return _calls_query(None)


def change_query() -> dict[str, Any]:
    """Events that changed a group, as :data:`CHANGE_DEFINITION` says."""
    changes = frozenset(KIND_OF_CALL.values()) - QUERY_KINDS
    return {
        "bool": {
            "filter": [_calls_query(changes)],
            "must_not": [failure_query(), {"term": {READ_ONLY: True}}],
        }
    }


#: The stored UserIdentity type, as the Event type declares it (generated from schema.fields).
_USER_IDENTITY: Any = Event.__strawberry_definition__.get_field("userIdentity").type


@strawberry.type(
    description=(
        "One call in a log group's history: what it did, who made it, when, from where, "
        "and whether it succeeded. The parameter fields are set when the call recorded them."
    )
)
class LogGroupChange:
    """A history entry, read from one event (the event itself is ``event``)."""

    kind: LogGroupChangeKind
    event_id: strawberry.ID = strawberry.field(name="eventID", description="The event's ID.")
    event_time: datetime = strawberry.field(description="When the call was made, in UTC.")
    principal: str | None = strawberry.field(
        description="Who, as Event.principal names them (the IAM user name, role/session, ...)."
    )
    user_identity: Any = strawberry.field(
        graphql_type=_USER_IDENTITY, description="Who, exactly as CloudTrail recorded them."
    )
    source_ip_address: str | None = strawberry.field(
        name="sourceIPAddress",
        description="Where the call came from: an address, or a service's name, as recorded.",
    )
    succeeded: bool = strawberry.field(description="Whether the call succeeded (no errorCode).")
    error_code: str | None
    error_message: str | None
    retention_in_days: int | None = strawberry.field(
        description="RETENTION_SET: the retention set, in days."
    )
    filter_name: str | None = strawberry.field(description="The subscription filter's name.")
    filter_pattern: str | None = strawberry.field(
        description="The subscription filter's pattern, or the live tail's logEventFilterPattern."
    )
    destination: str | None = strawberry.field(
        description="Where the data goes: the subscription filter's destinationArn, or the "
        "export task's S3 bucket."
    )
    destination_prefix: str | None = strawberry.field(
        description="The export task's key prefix in the bucket."
    )
    kms_key_id: str | None = strawberry.field(
        description="The KMS key associated (KMS_KEY_ASSOCIATED, or CREATED with a key)."
    )
    policy_name: str | None = strawberry.field(description="The resource policy's name.")
    tags: Any = strawberry.field(
        graphql_type=JSON | None,
        description="The tags set (TAGGED, or CREATED with tags), as recorded.",
    )
    tag_keys: list[str] | None = strawberry.field(description="UNTAGGED: the tag keys removed.")
    query_string: str | None = strawberry.field(description="QUERY_STARTED: the query run.")
    natural_language_query: str | None = strawberry.field(
        description="QUERY_GENERATED: what the query generator was asked."
    )
    event: Any = strawberry.field(
        graphql_type=Event, description="The whole event, as for `event(id:)`."
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _whole_number(value: object) -> int | None:
    """SDKs send numbers as JSON numbers or as strings; CloudTrail keeps either."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _tag_keys(parameters: dict[str, Any]) -> list[str] | None:
    # UntagResource records tagKeys; the older UntagLogGroup records the keys as `tags`.
    keys = parameters.get("tagKeys", parameters.get("tags"))
    if isinstance(keys, list):
        return [key for key in keys if isinstance(key, str)]
    return None


def change_from_event(record: dict[str, Any]) -> LogGroupChange | None:
    """The history entry an event stands for; None when its call is not one of the kinds."""
    kind = KIND_OF_CALL.get((str(record.get("eventSource")), str(record.get("eventName"))))
    if kind is None:
        return None
    parameters = record.get("requestParameters")
    p: dict[str, Any] = parameters if isinstance(parameters, dict) else {}
    succeeded = not failed(record)
    error_code = None if succeeded else str(record["errorCode"])
    tags = p.get("tags")
    return LogGroupChange(
        kind=kind,
        event_id=strawberry.ID(str(record["eventID"])),
        event_time=parse_event_time(record.get("eventTime")),
        principal=principal_name(record.get("userIdentity")),
        user_identity=record.get("userIdentity"),
        source_ip_address=_text(record.get("sourceIPAddress")),
        succeeded=succeeded,
        error_code=error_code,
        error_message=_text(record.get("errorMessage")),
        retention_in_days=_whole_number(p.get("retentionInDays")),
        filter_name=_text(p.get("filterName")),
        filter_pattern=_text(p.get("filterPattern", p.get("logEventFilterPattern"))),
        destination=_text(p.get("destinationArn", p.get("destination"))),
        destination_prefix=_text(p.get("destinationPrefix")),
        kms_key_id=_text(p.get("kmsKeyId")),
        policy_name=_text(p.get("policyName")),
        tags=tags if isinstance(tags, dict) else None,
        tag_keys=_tag_keys(p) if kind is _K.UNTAGGED else None,
        query_string=_text(p.get("queryString")),
        natural_language_query=_text(p.get("naturalLanguageQuery")),
        event=record,
    )
