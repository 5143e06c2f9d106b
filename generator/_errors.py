"""Which calls fail, how, and with what message (about 6% of calls fail overall)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from generator._actions import READ_ACTIONS, RETENTION_DAYS

if TYPE_CHECKING:
    from generator._dice import Dice
    from generator._streams import Call

ACCESS_DENIED: Final = "AccessDenied"
NOT_FOUND: Final = "ResourceNotFoundException"
ALREADY_EXISTS: Final = "ResourceAlreadyExistsException"
THROTTLED: Final = "ThrottlingException"
INVALID: Final = "InvalidParameterException"

_THROTTLED_ACTIONS: Final = frozenset(
    {
        "DescribeLogGroups", "DescribeLogStreams", "FilterLogEvents", "GetLogEvents",
        "GetQueryResults", "StartQuery", "PutRetentionPolicy", "ListTagsLogGroup",
    }
)  # fmt: skip
# Failure odds per call; ReadOnly principals trying writes and CreateLogGroup on an existing
# group add to these, for ~6% failed calls overall.
_DENIED_PROBABILITY: Final = 0.018
_NOT_FOUND_PROBABILITY: Final = 0.022
_THROTTLED_PROBABILITY: Final = 0.022
_INVALID_PROBABILITY: Final = 0.016

_INVALID_MESSAGES: Final = {
    "FilterLogEvents": "Invalid character(s) in term '\"timeout'",
    "StartQuery": "Query's end date and time is either before the log groups creation time "
    "or exceeds the log groups log retention settings",
    "PutSubscriptionFilter": "Could not deliver test message to specified destination. "
    "Check if the destination is valid.",
    "CreateExportTask": "GetBucketAcl call on the given bucket failed. Please check if "
    "CloudWatch Logs has been granted permission to perform this operation.",
    "PutRetentionPolicy": "1 validation error detected: Value '{}' at 'retentionInDays' failed "
    "to satisfy constraint: Member must satisfy enum value set: "
    "[" + ", ".join(map(str, RETENTION_DAYS)) + "]",
}


def decide_error(dice: Dice, call: Call) -> str | None:
    """Decide whether the call fails, and how; a NotFound retargets it at a missing group."""
    action = call.action
    if call.principal.readonly and action not in READ_ACTIONS:
        return ACCESS_DENIED
    roll = dice.random()
    error = None
    if roll < _DENIED_PROBABILITY:
        error = ACCESS_DENIED if call.principal.deniable else None
    elif roll < _DENIED_PROBABILITY + _NOT_FOUND_PROBABILITY:
        if call.group is not None and action != "CreateLogGroup":
            call.group = call.stream.missing_group(dice, call.epoch_second)
            call.groups = []
            error = NOT_FOUND
    elif roll < _DENIED_PROBABILITY + _NOT_FOUND_PROBABILITY + _THROTTLED_PROBABILITY:
        error = THROTTLED if action in _THROTTLED_ACTIONS else None
    elif roll < (
        _DENIED_PROBABILITY + _NOT_FOUND_PROBABILITY + _THROTTLED_PROBABILITY + _INVALID_PROBABILITY
    ):
        error = INVALID if action in _INVALID_MESSAGES else None
    return error


def error_message(call: Call, params: dict[str, Any] | None) -> str:
    """The errorMessage CloudTrail records for the failed ``call``."""
    error, action = call.error, call.action
    if error == ACCESS_DENIED:
        group_arn = call.group.arn if call.group is not None else call.stream.group_arn("")
        return (
            f"User: {call.principal.arn} is not authorized to perform: logs:{action} on "
            f"resource: {group_arn}:log-stream: because no identity-based policy allows the "
            f"logs:{action} action"
        )
    if error == NOT_FOUND:
        return "The specified log group does not exist."
    if error == ALREADY_EXISTS:
        return "The specified log group already exists"
    if error == THROTTLED:
        return "Rate exceeded"
    message = _INVALID_MESSAGES[action]
    if action == "PutRetentionPolicy" and params is not None:
        return message.format(params["retentionInDays"])
    return message
