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
    st, p, action, t = call.stream, call.principal, call.action, call.epoch_second
    acct, region = st.account.account_id, st.region
    source = MONITORING if action == "GenerateQuery" else LOGS
    identity = user_identity(dice, p, t)
    ip, agent, vpce, console = _origin(dice, call)
    data = action in DATA_ACTIONS
    rec: dict[str, Any] = {
        "eventVersion": "1.09" if data or p.identity_type == "AWSService" else "1.10",
        "userIdentity": identity,
        "eventTime": event_time(t),
        "eventSource": source,
        "eventName": action,
        "awsRegion": region,
        "sourceIPAddress": ip,
        "userAgent": agent,
    }
    if call.error is not None:
        rec["errorCode"] = call.error
        rec["errorMessage"] = error_message(call, params)
    rec["requestParameters"] = params
    rec["responseElements"] = response
    rec["requestID"] = dice.uuid4()
    rec["eventID"] = dice.uuid4()
    rec["readOnly"] = action in READ_ACTIONS
    if data and call.group is not None:
        rec["resources"] = [
            {"accountId": acct, "type": "AWS::Logs::LogGroup", "ARN": call.group.arn}
        ]
    rec["eventType"] = "AwsApiCall"
    rec["managementEvent"] = not data
    rec["recipientAccountId"] = acct
    if vpce:
        rec["vpcEndpointId"] = st.vpc_endpoint_id
        rec["vpcEndpointAccountId"] = acct
    rec["eventCategory"] = "Data" if data else "Management"
    if p.network != "service" and ip != _AWS_INTERNAL:
        rec["tlsDetails"] = {
            "tlsVersion": p.tls[0],
            "cipherSuite": p.tls[1],
            "clientProvidedHostHeader": f"{source.split('.')[0]}.{region}.amazonaws.com",
        }
    if console:
        rec["sessionCredentialFromConsole"] = "true"
    return rec


def _origin(dice: Dice, call: Call) -> tuple[str, str, bool, bool]:
    """Return sourceIPAddress, userAgent, whether via a VPC endpoint, whether console."""
    p = call.principal
    if p.network == "service":
        return p.name, p.user_agent, False, False
    console = bool(p.browser) and (
        call.action == "GenerateQuery" or dice.random() < p.console_share
    )
    if console:
        if dice.chance(0.05):
            return _AWS_INTERNAL, _AWS_INTERNAL, False, True
        return dice.choice(p.ips), p.browser, False, True
    agent = with_cli_command(p.user_agent, call.action) if p.uses_cli else p.user_agent
    if p.network == "vpce":
        octet = call.stream.account.vpc_octet + REGIONS.index(call.stream.region)
        return f"10.{octet}.{dice.randrange(64)}.{dice.randrange(1, 255)}", agent, True, False
    if p.network == "ci":
        return dice.public_ip((4, 13, 20, 40, 52)), agent, False, False
    return dice.choice(p.ips), agent, False, False
