"""The userIdentity block of a record, per identity type, with sessions that expire and renew."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from generator._calendar import event_time
from generator._dice import ALNUM, Dice
from generator._principals import Principal

if TYPE_CHECKING:
    from collections.abc import Callable


def user_identity(dice: Dice, p: Principal, t: int) -> dict[str, Any]:
    """Return the caller's userIdentity at ``t``, rotating session credentials when they expire."""
    start = t - (t - p.session_phase) % p.session_seconds if p.session_seconds else 0
    if not p.identity or start != p.session_start:
        p.session_start = start
        p.identity = _IDENTITIES[p.identity_type](dice, p, start)
    return p.identity


def _attributes(p: Principal, start: int) -> dict[str, str]:
    return {"creationDate": event_time(start), "mfaAuthenticated": str(p.mfa).lower()}


def _iam_user(_dice: Dice, p: Principal, _start: int) -> dict[str, Any]:
    p.arn = f"arn:aws:iam::{p.account}:user/{p.name}"
    return {
        "type": "IAMUser",
        "principalId": p.principal_id,
        "arn": p.arn,
        "accountId": p.account,
        "accessKeyId": p.access_key,
        "userName": p.name,
    }


def _assumed_role(dice: Dice, p: Principal, start: int) -> dict[str, Any]:
    # The AWS SDK for Go names sessions after the time they start, like Terraform does.
    session = p.session_name or f"aws-go-sdk-{start}{dice.randrange(10**9):09d}"
    p.arn = f"arn:aws:sts::{p.account}:assumed-role/{p.name}/{session}"
    return {
        "type": "AssumedRole",
        "principalId": f"{p.principal_id}:{session}",
        "arn": p.arn,
        "accountId": p.account,
        "accessKeyId": dice.key_id("ASIA"),
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": p.principal_id,
                "arn": f"arn:aws:iam::{p.account}:role{p.role_path}{p.name}",
                "accountId": p.account,
                "userName": p.name,
            },
            "attributes": _attributes(p, start),
        },
    }


def _root(dice: Dice, p: Principal, start: int) -> dict[str, Any]:
    p.arn = f"arn:aws:iam::{p.account}:root"
    return {
        "type": "Root",
        "principalId": p.account,
        "arn": p.arn,
        "accountId": p.account,
        "accessKeyId": dice.key_id("ASIA"),
        "sessionContext": {"attributes": _attributes(p, start)},
    }


def _service(_dice: Dice, p: Principal, _start: int) -> dict[str, Any]:
    return {"type": "AWSService", "invokedBy": p.name}


def _federated_user(dice: Dice, p: Principal, start: int) -> dict[str, Any]:
    issuer, issuer_id = p.issuer
    p.arn = f"arn:aws:sts::{p.account}:federated-user/{p.name}"
    return {
        "type": "FederatedUser",
        "principalId": f"{p.account}:{p.name}",
        "arn": p.arn,
        "accountId": p.account,
        "accessKeyId": dice.key_id("ASIA"),
        "sessionContext": {
            "sessionIssuer": {
                "type": "IAMUser",
                "principalId": issuer_id,
                "arn": f"arn:aws:iam::{p.account}:user/{issuer}",
                "accountId": p.account,
                "userName": issuer,
            },
            "attributes": _attributes(p, start),
        },
    }


def _identity_center_user(dice: Dice, p: Principal, _start: int) -> dict[str, Any]:
    user_id, store = p.center_user
    return {
        "type": "IdentityCenterUser",
        "accountId": p.account,
        "onBehalfOf": {"userId": user_id, "identityStoreArn": store},
        "credentialId": dice.text(ALNUM + "-_", 60),
    }


_IDENTITIES: Final[dict[str, Callable[[Dice, Principal, int], dict[str, Any]]]] = {
    "IAMUser": _iam_user,
    "AssumedRole": _assumed_role,
    "Root": _root,
    "AWSService": _service,
    "FederatedUser": _federated_user,
    "IdentityCenterUser": _identity_center_user,
}
