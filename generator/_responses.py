"""What a successful call returns (responseElements) and what it changes in the simulated world.

Carrying each change into the log group's state is what keeps later calls coherent: nothing is
written to a group before it is created, and a re-created group starts over.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from generator._actions import READ_ACTIONS
from generator._streams import Followup

if TYPE_CHECKING:
    from collections.abc import Callable

    from generator._dice import Dice
    from generator._log_groups import LogGroup
    from generator._streams import Call

# Callers whose new log groups soon get a retention policy from the same caller.
_SETS_RETENTION_ON_CREATE: Final = frozenset(
    {"terraform-deployer", "cloudformation.amazonaws.com", "ec2-cloudwatch-agent"}
)


def apply(dice: Dice, call: Call, params: dict[str, Any] | None) -> dict[str, Any] | None:
    """Carry a successful call's effect into the world; return its responseElements."""
    action, group = call.action, call.group
    if action == "CreateExportTask":
        return {"taskId": dice.uuid4()}
    if action == "StartQuery":
        query_id = dice.uuid4()
        call.stream.queries.append((query_id, call.principal))
        for delay in range(1, 1 + dice.choice((1, 2, 2, 3))):  # polling for the results
            call.stream.follow(
                call.epoch_second + delay * 2,
                Followup("GetQueryResults", call.principal, None, query_id),
            )
        return {"queryId": query_id}
    if group is None or params is None or action in READ_ACTIONS:
        return None
    effect = _EFFECTS.get(action)
    if effect is not None:
        effect(dice, call, group, params)
    return None


def _created(dice: Dice, call: Call, group: LogGroup, params: dict[str, Any]) -> None:
    group.exists = True
    group.last_change = call.epoch_second
    group.owner = call.principal
    group.kms_key = params.get("kmsKeyId")
    call.stream.existing_groups.append(group)
    if call.principal.name in _SETS_RETENTION_ON_CREATE and dice.chance(0.75):
        call.stream.follow(
            call.epoch_second + dice.randint(1, 4),
            Followup("PutRetentionPolicy", call.principal, group),
        )


def _deleted(_dice: Dice, call: Call, group: LogGroup, _params: dict[str, Any]) -> None:
    group.exists = False
    group.last_change = call.epoch_second
    group.retention = group.kms_key = None
    group.filters.clear()
    group.protected = False
    call.stream.existing_groups.remove(group)
    if group.reborn is not None:
        call.stream.plan("create", group.reborn, group)
        group.death = group.reborn = None


def _set_retention(_dice: Dice, _call: Call, group: LogGroup, params: dict[str, Any]) -> None:
    group.retention = params["retentionInDays"]


def _clear_retention(_dice: Dice, _call: Call, group: LogGroup, _params: dict[str, Any]) -> None:
    group.retention = None


def _add_filter(_dice: Dice, _call: Call, group: LogGroup, params: dict[str, Any]) -> None:
    group.filters[params["filterName"]] = params["destinationArn"]


def _drop_filter(_dice: Dice, _call: Call, group: LogGroup, params: dict[str, Any]) -> None:
    group.filters.pop(params["filterName"], None)


def _set_kms_key(_dice: Dice, _call: Call, group: LogGroup, params: dict[str, Any]) -> None:
    group.kms_key = params["kmsKeyId"]


def _clear_kms_key(_dice: Dice, _call: Call, group: LogGroup, _params: dict[str, Any]) -> None:
    group.kms_key = None


def _protect(_dice: Dice, _call: Call, group: LogGroup, _params: dict[str, Any]) -> None:
    group.protected = True


_EFFECTS: Final[dict[str, Callable[[Dice, Call, LogGroup, dict[str, Any]], None]]] = {
    "CreateLogGroup": _created,
    "DeleteLogGroup": _deleted,
    "PutRetentionPolicy": _set_retention,
    "DeleteRetentionPolicy": _clear_retention,
    "PutSubscriptionFilter": _add_filter,
    "DeleteSubscriptionFilter": _drop_filter,
    "AssociateKmsKey": _set_kms_key,
    "DisassociateKmsKey": _clear_kms_key,
    "PutDataProtectionPolicy": _protect,
}
