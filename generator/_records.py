"""The CloudTrail record of a call: its envelope, where the call came from, and how."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from generator._actions import DATA_ACTIONS, LOGS, MONITORING, READ_ACTIONS
from generator._calendar import event_time
from generator._errors import error_message
from generator._identities import user_identity
from generator._user_agents import with_cli_command
from generator._world import REGIONS

if TYPE_CHECKING:
    from generator._dice import Dice
    from generator._streams import Call

_AWS_INTERNAL: Final = "AWS Internal"  # console calls relayed inside AWS


def record(
    dice: Dice, call: Call, params: dict[str, Any] | None, response: dict[str, Any] | None
) -> dict[str, Any]:
    """Build the record CloudTrail writes for ``call``, keys in CloudTrail's order."""
    principal, action = call.principal, call.action
    account_id, region = call.stream.account.account_id, call.stream.region
    event_source = MONITORING if action == "GenerateQuery" else LOGS
    identity = user_identity(dice, principal, call.epoch_second)
    source_ip, user_agent, via_vpc_endpoint, from_console = _origin(dice, call)
    data_event = action in DATA_ACTIONS
    event: dict[str, Any] = {
        "eventVersion": "1.09" if data_event or principal.identity_type == "AWSService" else "1.10",
        "userIdentity": identity,
        "eventTime": event_time(call.epoch_second),
        "eventSource": event_source,
        "eventName": action,
        "awsRegion": region,
        "sourceIPAddress": source_ip,
        "userAgent": user_agent,
    }
    if call.error is not None:
        event["errorCode"] = call.error
        event["errorMessage"] = error_message(call, params)
    event["requestParameters"] = params
    event["responseElements"] = response
    event["requestID"] = dice.uuid4()
    event["eventID"] = dice.uuid4()
    event["readOnly"] = action in READ_ACTIONS
    if data_event and call.group is not None:
        event["resources"] = [
            {"accountId": account_id, "type": "AWS::Logs::LogGroup", "ARN": call.group.arn}
        ]
    event["eventType"] = "AwsApiCall"
    event["managementEvent"] = not data_event
    event["recipientAccountId"] = account_id
    if via_vpc_endpoint:
        event["vpcEndpointId"] = call.stream.vpc_endpoint_id
        event["vpcEndpointAccountId"] = account_id
    event["eventCategory"] = "Data" if data_event else "Management"
    if principal.network != "service" and source_ip != _AWS_INTERNAL:
        event["tlsDetails"] = {
            "tlsVersion": principal.tls[0],
            "cipherSuite": principal.tls[1],
            "clientProvidedHostHeader": f"{event_source.split('.')[0]}.{region}.amazonaws.com",
        }
    if from_console:
        event["sessionCredentialFromConsole"] = "true"
    return event


def _origin(dice: Dice, call: Call) -> tuple[str, str, bool, bool]:
    """Return sourceIPAddress, userAgent, whether via a VPC endpoint, whether console."""
    principal = call.principal
    if principal.network == "service":
        return principal.name, principal.user_agent, False, False
    from_console = bool(principal.browser) and (
        call.action == "GenerateQuery" or dice.random() < principal.console_share
    )
    if from_console:
        if dice.chance(0.05):
            return _AWS_INTERNAL, _AWS_INTERNAL, False, True
        return dice.choice(principal.ips), principal.browser, False, True
    user_agent = (
        with_cli_command(principal.user_agent, call.action)
        if principal.uses_cli
        else principal.user_agent
    )
    if principal.network == "vpce":
        second_octet = call.stream.account.vpc_octet + REGIONS.index(call.stream.region)
        private_ip = f"10.{second_octet}.{dice.randrange(64)}.{dice.randrange(1, 255)}"
        return private_ip, user_agent, True, False
    if principal.network == "ci":
        return dice.public_ip((4, 13, 20, 40, 52)), user_agent, False, False
    return dice.choice(principal.ips), user_agent, False, False
