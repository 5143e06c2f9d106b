"""A caller of the API: who it is, where it calls from, and its current session."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

TLS13: Final = ("TLSv1.3", "TLS_AES_128_GCM_SHA256")
TLS12: Final = ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256")  # older Java stacks


@dataclass(slots=True)
class Principal:
    """One caller and its habits; session credentials rotate as simulated time passes."""

    identity_type: str
    account_id: str
    name: str  # user, role or service name
    affinity: dict[str, float]  # how likely this caller is to be the one making a call
    network: str  # "human", "vpce", "aws", "ci" or "service"
    user_agent: str  # full string, or the aws-cli prefix when uses_cli is True
    principal_id: str = ""
    role_path: str = "/"
    session_name: str = ""  # fixed session name; "" derives one from the session start
    session_seconds: int = 0  # 0: long-term credentials
    session_phase: int = 0
    access_key: str = ""
    mfa: bool = False
    readonly: bool = False
    console_share: float = 0.0
    uses_cli: bool = False
    browser: str = ""
    ips: tuple[str, ...] = ()
    tls: tuple[str, str] = TLS13
    issuer: tuple[str, str] = ("", "")  # federated users: issuing IAM user's name and id
    identity_center_user: tuple[str, str] = ("", "")  # user id and identity store ARN
    session_start: int = -1
    identity: dict[str, Any] = field(default_factory=dict)
    arn: str = ""

    @property
    def deniable(self) -> bool:
        """Whether a missing identity-based permission could deny this caller now and then.

        Root, services and Identity Center callers have no identity policy to deny them, and
        the SSO administrators' permission set allows everything.
        """
        return (
            self.identity_type in {"IAMUser", "AssumedRole", "FederatedUser"}
            and "AdministratorAccess" not in self.name
        )
