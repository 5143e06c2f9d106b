"""The userIdentity block of a record, per identity type, with sessions that expire and renew."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from generator._calendar import event_time
from generator._dice import ALNUM, Dice
from generator._principals import Principal

if TYPE_CHECKING:
    from collections.abc import Callable


def user_identity(dice: Dice, principal: Principal, epoch_second: int) -> dict[str, Any]:
    """The caller's userIdentity at ``epoch_second``, with new credentials once they expire."""
    session_start = (
        epoch_second - (epoch_second - principal.session_phase) % principal.session_seconds
        if principal.session_seconds
        else 0
    )
    if not principal.identity or session_start != principal.session_start:
        principal.session_start = session_start
        principal.identity = _BUILDERS[principal.identity_type](dice, principal, session_start)
    return principal.identity


def _attributes(principal: Principal, session_start: int) -> dict[str, str]:
    return {
        "creationDate": event_time(session_start),
        "mfaAuthenticated": str(principal.mfa).lower(),
    }


def _iam_user(_dice: Dice, principal: Principal, _session_start: int) -> dict[str, Any]:
    principal.arn = f"arn:aws:iam::{principal.account_id}:user/{principal.name}"
    return {
        "type": "IAMUser",
        "principalId": principal.principal_id,
        "arn": principal.arn,
        "accountId": principal.account_id,
        "accessKeyId": principal.access_key,
        "userName": principal.name,
    }


def _assumed_role(dice: Dice, principal: Principal, session_start: int) -> dict[str, Any]:
    # The AWS SDK for Go names sessions after the time they start, like Terraform does.
    session = principal.session_name or f"aws-go-sdk-{session_start}{dice.randrange(10**9):09d}"
    account_id, role = principal.account_id, principal.name
    principal.arn = f"arn:aws:sts::{account_id}:assumed-role/{role}/{session}"
    return {
        "type": "AssumedRole",
        "principalId": f"{principal.principal_id}:{session}",
        "arn": principal.arn,
        "accountId": account_id,
        "accessKeyId": dice.key_id("ASIA"),
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": principal.principal_id,
                "arn": f"arn:aws:iam::{account_id}:role{principal.role_path}{role}",
                "accountId": account_id,
                "userName": role,
            },
            "attributes": _attributes(principal, session_start),
        },
    }


def _root(dice: Dice, principal: Principal, session_start: int) -> dict[str, Any]:
    principal.arn = f"arn:aws:iam::{principal.account_id}:root"
    return {
        "type": "Root",
        "principalId": principal.account_id,
        "arn": principal.arn,
        "accountId": principal.account_id,
        "accessKeyId": dice.key_id("ASIA"),
        "sessionContext": {"attributes": _attributes(principal, session_start)},
    }


def _service(_dice: Dice, principal: Principal, _session_start: int) -> dict[str, Any]:
    return {"type": "AWSService", "invokedBy": principal.name}


def _federated_user(dice: Dice, principal: Principal, session_start: int) -> dict[str, Any]:
    issuer, issuer_id = principal.issuer
    account_id, user = principal.account_id, principal.name
    principal.arn = f"arn:aws:sts::{account_id}:federated-user/{user}"
    return {
        "type": "FederatedUser",
        "principalId": f"{account_id}:{user}",
        "arn": principal.arn,
        "accountId": account_id,
        "accessKeyId": dice.key_id("ASIA"),
        "sessionContext": {
            "sessionIssuer": {
                "type": "IAMUser",
                "principalId": issuer_id,
                "arn": f"arn:aws:iam::{account_id}:user/{issuer}",
                "accountId": account_id,
                "userName": issuer,
            },
            "attributes": _attributes(principal, session_start),
        },
    }


def _identity_center_user(dice: Dice, principal: Principal, _session_start: int) -> dict[str, Any]:
    user_id, identity_store = principal.identity_center_user
    return {
        "type": "IdentityCenterUser",
        "accountId": principal.account_id,
        "onBehalfOf": {"userId": user_id, "identityStoreArn": identity_store},
        "credentialId": dice.text(ALNUM + "-_", 60),
    }


_BUILDERS: Final[dict[str, Callable[[Dice, Principal, int], dict[str, Any]]]] = {
    "IAMUser": _iam_user,
    "AssumedRole": _assumed_role,
    "Root": _root,
    "AWSService": _service,
    "FederatedUser": _federated_user,
    "IdentityCenterUser": _identity_center_user,
}
