"""Each account's fixed cast of callers, and which of them makes a given call.

Every account has SSO users, CI and Terraform roles, Lambda and EC2 roles, Grafana, IAM users,
root, AWS services, a federated user and Identity Center users, each with its own tools,
addresses and habits; Lambda execution roles join as their functions' log groups appear.
"""

from __future__ import annotations

import uuid
from itertools import accumulate
from typing import Final

from generator._actions import LOGS
from generator._dice import Dice
from generator._principals import TLS12, TLS13, Principal
from generator._user_agents import (
    BROWSERS,
    boto3_lambda_agent,
    cli_agent,
    terraform_agent,
)
from generator._world import ACCOUNT_PROFILES, MANAGEMENT_ACCOUNT, Account

_PEOPLE: Final = (
    "maria.garcia", "james.okafor", "li.wei", "sofia.rossi", "arjun.patel", "emma.schmidt",
    "noah.kim", "fatima.haddad", "lucas.martin", "hana.sato", "olivia.brown", "mateo.silva",
)  # fmt: skip

# How much each kind of caller favours each action (relative to the other callers).
_ALL_READS: Final = {
    "DescribeLogGroups": 3.0, "DescribeLogStreams": 3.0, "GetLogEvents": 3.0,
    "FilterLogEvents": 3.0, "StartQuery": 3.0, "GetQueryResults": 3.0, "StartLiveTail": 3.0,
    "ListTagsLogGroup": 1.0, "ListTagsForResource": 1.0, "GenerateQuery": 3.0,
}  # fmt: skip
_ALL_WRITES: Final = {
    "CreateLogGroup": 1.0, "DeleteLogGroup": 1.0, "PutRetentionPolicy": 1.0,
    "DeleteRetentionPolicy": 1.0, "PutSubscriptionFilter": 1.0, "DeleteSubscriptionFilter": 1.0,
    "CreateExportTask": 1.0, "AssociateKmsKey": 1.0, "DisassociateKmsKey": 1.0,
    "PutDataProtectionPolicy": 1.0, "PutResourcePolicy": 0.5, "TagLogGroup": 0.5,
    "TagResource": 1.0,
}  # fmt: skip
_CLI_READS: Final = {
    action: weight for action, weight in _ALL_READS.items() if action != "GenerateQuery"
}
# What Terraform, CloudFormation and CI pipelines do: every write but exporting.
_DEPLOYER_WRITES: Final = {
    action: weight for action, weight in _ALL_WRITES.items() if action != "CreateExportTask"
}
_INVENTORY_READS: Final = {
    "DescribeLogGroups": 3.0, "ListTagsLogGroup": 1.0, "ListTagsForResource": 2.0,
}  # fmt: skip


def _scaled(weights: dict[str, float], factor: float) -> dict[str, float]:
    return {action: weight * factor for action, weight in weights.items()}


def _human_ips(dice: Dice) -> tuple[str, ...]:
    """A person's addresses: the office (twice as likely), home, and an IPv6 one."""
    office = f"203.0.113.{dice.randrange(1, 255)}"
    home = f"198.51.100.{dice.randrange(1, 255)}"
    site, host = dice.randrange(0x10000), dice.randrange(1, 0x10000)
    ipv6 = f"2001:db8:{site:x}:{dice.randrange(0x10000):x}::{host:x}"
    return (office, office, home, ipv6)


class Cast:
    """Every account's callers; built once per run, drawing from the run's dice."""

    def __init__(self, dice: Dice) -> None:
        self.dice = dice
        identity_store = (
            f"arn:aws:identitystore::{MANAGEMENT_ACCOUNT}:identitystore/d-{dice.hex_digits(10)}"
        )
        self._principals: dict[str, list[Principal]] = {}
        # Per account and action: who makes such calls, and their cumulative affinities.
        self._callers: dict[tuple[str, str], tuple[list[Principal], list[float]]] = {}
        self._execution_roles: dict[tuple[str, str], Principal] = {}
        for account in ACCOUNT_PROFILES:
            self._enlist(account, identity_store)

    def principal_for(self, account_id: str, action: str) -> Principal:
        """Draw who in the account makes an ``action`` call, by their affinity for it."""
        callers, cumulative_weights = self._callers[account_id, action]
        return self.dice.pick_weighted(callers, cumulative_weights)

    def principal_by_name(self, account_id: str, name: str) -> Principal:
        """The caller in the account called ``name``."""
        return next(
            principal for principal in self._principals[account_id] if principal.name == name
        )

    def execution_role(self, account_id: str, group_name: str) -> Principal:
        """Lambda's service creates a function's log group with the function's own role."""
        key = (account_id, group_name)
        role = self._execution_roles.get(key)
        if role is None:
            function = group_name.rsplit("/", 1)[-1]
            role = Principal(
                "AssumedRole",
                account_id,
                f"{function[:40]}-role-{self.dice.alnum(8).lower()}",
                {},
                "aws",
                "awslambda-worker/1.0 rv:2",
                session_name=function,
                session_seconds=6 * 3600,
                ips=tuple(self.dice.public_ip((3, 18, 52, 54)) for _ in range(3)),
            )
            self._finish(role)
            self._execution_roles[key] = role
        return role

    def _sso_user(
        self, account: Account, person: str, role: str, affinity: dict[str, float]
    ) -> Principal:
        on_macos = self.dice.chance(0.6)  # most of the team is on macOS
        return Principal(
            "AssumedRole",
            account.account_id,
            role,
            affinity,
            "human",
            cli_agent(
                self.dice,
                os_tag="macos#24.2.0" if on_macos else "linux#6.8.0-51-generic",
                arch="arm64" if on_macos else "x86_64",
            ),
            role_path="/aws-reserved/sso.amazonaws.com/",
            session_name=f"{person}@example.com",
            session_seconds=8 * 3600,
            readonly="ReadOnly" in role,
            console_share=0.65,
            uses_cli=True,
            browser=self.dice.choice(BROWSERS),
            ips=_human_ips(self.dice),
        )

    def _role(
        self,
        account: Account,
        role: str,
        affinity: dict[str, float],
        network: str,
        user_agent: str,
        *,
        session_name: str = "",
        session_seconds: int = 3600,
        uses_cli: bool = False,
    ) -> Principal:
        ips = tuple(self.dice.public_ip((3, 18, 34, 52, 54)) for _ in range(4))
        return Principal(
            "AssumedRole",
            account.account_id,
            role,
            affinity,
            network,
            user_agent,
            session_name=session_name,
            session_seconds=session_seconds,
            uses_cli=uses_cli,
            ips=ips,
        )

    def _iam_user(
        self,
        account: Account,
        user: str,
        affinity: dict[str, float],
        network: str,
        user_agent: str,
        *,
        uses_cli: bool = False,
    ) -> Principal:
        ips = _human_ips(self.dice) if network == "human" else (self.dice.public_ip((3, 52, 54)),)
        return Principal(
            "IAMUser",
            account.account_id,
            user,
            affinity,
            network,
            user_agent,
            uses_cli=uses_cli,
            ips=ips,
            tls=TLS12 if "java" in user_agent else TLS13,
        )

    def _enlist(self, account: Account, identity_store: str) -> None:
        """Build an account's callers; their weights set who does what, and how often."""
        dice = self.dice
        account_id = account.account_id
        people = dice.sample(_PEOPLE, 6)
        admin_role = f"AWSReservedSSO_AdministratorAccess_{dice.hex_digits(16)}"
        reader_role = f"AWSReservedSSO_ReadOnlyAccess_{dice.hex_digits(16)}"
        cast = [
            self._sso_user(account, people[0], admin_role, _ALL_READS | _scaled(_ALL_WRITES, 2)),
            self._sso_user(account, people[1], admin_role, _ALL_READS | _scaled(_ALL_WRITES, 1)),
            self._sso_user(
                account, people[2], reader_role, _ALL_READS | _scaled(_ALL_WRITES, 0.15)
            ),
            self._sso_user(account, people[3], reader_role, _ALL_READS | _scaled(_ALL_WRITES, 0.1)),
            self._role(
                account,
                "terraform-deployer",
                _INVENTORY_READS | _scaled(_DEPLOYER_WRITES, 6),
                "aws",
                terraform_agent(dice),
                session_seconds=1800,
            ),
            self._role(
                account,
                "github-actions-deployer",
                _scaled(_INVENTORY_READS, 0.5) | _scaled(_DEPLOYER_WRITES, 2),
                "ci",
                cli_agent(dice, os_tag="linux#6.8.0-1017-azure", arch="x86_64"),
                session_name="GitHubActions",
                uses_cli=True,
            ),
            self._role(
                account,
                f"log-archiver-role-{dice.alnum(8)}",
                {"DescribeLogGroups": 1.0, "CreateExportTask": 12.0},
                "vpce",
                boto3_lambda_agent(dice),
                session_name="log-archiver",
                session_seconds=6 * 3600,
            ),
            self._role(
                account,
                "grafana-cloudwatch-datasource",
                {
                    "DescribeLogGroups": 4.0,
                    "StartQuery": 8.0,
                    "GetQueryResults": 8.0,
                    "GetLogEvents": 1.0,
                    "FilterLogEvents": 2.0,
                    "DescribeLogStreams": 1.0,
                },
                "aws",
                f"Grafana/11.4.{dice.randint(0, 2)} AWS-SDK-Go/1.55.5 (go1.22.7; linux; amd64)",
                session_name="grafana",
                session_seconds=900,
            ),
            self._role(
                account,
                "ec2-cloudwatch-agent",
                {"DescribeLogStreams": 6.0, "DescribeLogGroups": 2.0, "PutRetentionPolicy": 0.5},
                "vpce",
                "CWAgent/1.300051.0b992 (go1.22.9; linux; amd64) ID/i-0" + dice.hex_digits(16),
                session_name="i-0" + dice.hex_digits(16),
                session_seconds=6 * 3600,
            ),
            self._role(
                account,
                f"log-insights-reporter-role-{dice.alnum(8)}",
                {
                    "StartQuery": 3.0,
                    "GetQueryResults": 3.0,
                    "FilterLogEvents": 3.0,
                    "GetLogEvents": 2.0,
                },
                "vpce",
                boto3_lambda_agent(dice),
                session_name="log-insights-reporter",
                session_seconds=6 * 3600,
            ),
            self._iam_user(
                account,
                "jenkins-ci",
                _scaled(_INVENTORY_READS, 0.5) | _scaled(_DEPLOYER_WRITES, 1.5),
                "aws",
                "aws-sdk-java/2.29.45 Linux/5.15.0-1071-aws OpenJDK_64-Bit_Server_VM/21.0.5+11-LTS "
                "Java/21.0.5 vendor/Eclipse_Adoptium io/sync http/Apache cfg/retry-mode/legacy",
            ),
            self._iam_user(
                account,
                people[4].replace(".", "-"),
                _scaled(_CLI_READS, 0.5) | _scaled(_ALL_WRITES, 0.4),
                "human",
                cli_agent(dice, os_tag="linux#6.8.0-51-generic", arch="x86_64"),
                uses_cli=True,
            ),
            self._iam_user(
                account,
                "splunk-addon",
                {
                    "FilterLogEvents": 3.0,
                    "DescribeLogGroups": 1.5,
                    "DescribeLogStreams": 1.5,
                    "GetLogEvents": 2.0,
                },
                "aws",
                "Boto3/1.28.57 Python/3.9.19 Linux/4.18.0-553.el8_10.x86_64 Botocore/1.31.57 "
                "Splunk_TA_AWS/7.8.0",
            ),
            Principal(
                "Root",
                account_id,
                "root",
                {
                    "DescribeLogGroups": 0.4,
                    "DescribeLogStreams": 0.3,
                    "GetLogEvents": 0.3,
                    "PutRetentionPolicy": 0.3,
                    "DeleteLogGroup": 0.3,
                    "AssociateKmsKey": 0.3,
                },
                "human",
                "",
                session_seconds=3600,
                mfa=True,
                console_share=1.0,
                browser=dice.choice(BROWSERS),
                ips=_human_ips(dice),
            ),
            Principal(
                "AWSService",
                account_id,
                "cloudformation.amazonaws.com",
                {"DescribeLogGroups": 0.3} | _scaled(_DEPLOYER_WRITES, 3),
                "service",
                "cloudformation.amazonaws.com",
            ),
            Principal(
                "AWSService",
                account_id,
                "delivery.logs.amazonaws.com",
                {"DescribeLogGroups": 0.5, "PutResourcePolicy": 4.0},
                "service",
                "delivery.logs.amazonaws.com",
            ),
            Principal(
                "AWSService",
                account_id,
                LOGS,
                {"DescribeLogGroups": 0.6, "DescribeLogStreams": 0.6, "ListTagsForResource": 1.0},
                "service",
                LOGS,
            ),
            Principal(
                "FederatedUser",
                account_id,
                "support-portal",
                {
                    "DescribeLogGroups": 1.0,
                    "FilterLogEvents": 2.0,
                    "GetLogEvents": 2.0,
                    "StartQuery": 1.0,
                    "GetQueryResults": 1.0,
                    "PutRetentionPolicy": 0.3,
                },
                "aws",
                "aws-sdk-js/3.716.0 ua/2.1 os/linux#5.10.230-223.885.amzn2.x86_64 lang/js "
                "md/nodejs#20.18.1 api/cloudwatch-logs#3.716.0 m/E,N",
                session_seconds=12 * 3600,
                ips=(dice.public_ip((3, 52)), dice.public_ip((3, 52))),
                issuer=("federation-broker", dice.unique_id("AIDA")),
            ),
        ]
        cast.extend(
            Principal(
                "IdentityCenterUser",
                account_id,
                person,
                {
                    "GenerateQuery": 6.0,
                    "StartQuery": 0.6,
                    "DescribeLogGroups": 0.5,
                    "StartLiveTail": 0.5,
                },
                "human",
                "",
                session_seconds=8 * 3600,
                console_share=1.0,
                browser=dice.choice(BROWSERS),
                ips=_human_ips(dice),
                identity_center_user=(str(uuid.UUID(int=dice.getrandbits(128))), identity_store),
            )
            for person in (people[5], people[0])
        )
        for principal in cast:
            self._finish(principal)
        self._principals[account_id] = cast
        actions = {action for principal in cast for action in principal.affinity}
        for action in actions:
            callers = [principal for principal in cast if principal.affinity.get(action, 0.0) > 0]
            cumulative_weights = list(accumulate(caller.affinity[action] for caller in callers))
            self._callers[account_id, action] = (callers, cumulative_weights)

    def _finish(self, principal: Principal) -> None:
        """Give a principal the long-lived ids its identity type carries."""
        if principal.identity_type == "IAMUser":
            principal.principal_id = self.dice.unique_id("AIDA")
            principal.access_key = self.dice.key_id("AKIA")
        elif principal.identity_type == "AssumedRole":
            principal.principal_id = self.dice.unique_id("AROA")
        if principal.session_seconds:
            principal.session_phase = self.dice.randrange(principal.session_seconds)
