"""The requestParameters of each action, shaped as the SDKs and the console send them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from generator import _config_requests as config
from generator import _read_requests as read

if TYPE_CHECKING:
    from collections.abc import Callable

    from generator._dice import Dice
    from generator._streams import Call


def request_parameters(dice: Dice, call: Call) -> dict[str, Any] | None:
    """Draw the call's requestParameters (None where CloudTrail records null)."""
    return _BUILDERS[call.action](dice, call)


def _name_only(_dice: Dice, call: Call) -> dict[str, Any]:
    return {"logGroupName": call.target().name}


_BUILDERS: Final[dict[str, Callable[[Dice, Call], dict[str, Any] | None]]] = {
    "CreateLogGroup": config.create_log_group,
    "DeleteLogGroup": _name_only,
    "PutRetentionPolicy": config.put_retention_policy,
    "DeleteRetentionPolicy": _name_only,
    "CreateExportTask": config.create_export_task,
    "PutSubscriptionFilter": config.put_subscription_filter,
    "DeleteSubscriptionFilter": config.delete_subscription_filter,
    "AssociateKmsKey": config.associate_kms_key,
    "DisassociateKmsKey": _name_only,
    "PutDataProtectionPolicy": config.put_data_protection_policy,
    "PutResourcePolicy": config.put_resource_policy,
    "TagLogGroup": config.tag_log_group,
    "TagResource": config.tag_resource,
    "DescribeLogGroups": read.describe_log_groups,
    "DescribeLogStreams": read.describe_log_streams,
    "GetLogEvents": read.get_log_events,
    "FilterLogEvents": read.filter_log_events,
    "StartQuery": read.start_query,
    "GetQueryResults": read.get_query_results,
    "StartLiveTail": read.start_live_tail,
    "ListTagsLogGroup": _name_only,
    "ListTagsForResource": read.list_tags_for_resource,
    "GenerateQuery": read.generate_query,
}
