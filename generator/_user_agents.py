"""What callers' tools send as userAgent: browsers, the aws-cli, SDKs and Terraform."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from generator._dice import Dice

_WORD_START: Final = re.compile(r"(?<!^)(?=[A-Z])")  # GetLogEvents: Get|Log|Events

BROWSERS: Final = (
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36"
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/132.0.0.0 Safari/537.36 Edg/132.0.0.0"
    ),
    "Mozilla/5.0 (X11; Linux x86_64; rv:134.0) Gecko/20100101 Firefox/134.0",
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.2 Safari/605.1.15"
    ),
)


def cli_agent(dice: Dice, *, os_tag: str, arch: str) -> str:
    """The aws-cli user agent up to ``md/command#logs.``; each call appends its command."""
    return (
        f"aws-cli/2.{dice.randint(18, 24)}.{dice.randint(0, 30)} "
        f"md/awscrt#0.23.{dice.randint(0, 8)} "
        f"ua/2.1 os/{os_tag} md/arch#{arch} lang/python#3.12.{dice.randint(6, 9)} "
        "md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/prompt#off "
        "md/command#logs."
    )


def boto3_lambda_agent(dice: Dice) -> str:
    """Boto3 inside a Python Lambda function."""
    version = f"1.35.{dice.randint(40, 99)}"
    return (
        f"Boto3/{version} md/Botocore#{version} ua/2.0 os/linux#5.10.230-245.912.amzn2.x86_64 "
        "md/arch#x86_64 lang/python#3.12.8 md/pyimpl#CPython "
        f"exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/{version}"
    )


def terraform_agent(dice: Dice) -> str:
    """The Terraform AWS provider, which uses the AWS SDK for Go v2."""
    return (
        f"APN/1.0 HashiCorp/1.0 Terraform/1.10.{dice.randint(0, 5)} (+https://www.terraform.io) "
        f"terraform-provider-aws/5.{dice.randint(80, 89)}.0 "
        "(+https://registry.terraform.io/providers/hashicorp/aws) "
        f"aws-sdk-go-v2/1.32.{dice.randint(5, 8)} ua/2.1 os/linux "
        f"lang/go#1.23.{dice.randint(3, 6)} "
        f"md/GOOS#linux md/GOARCH#amd64 api/cloudwatchlogs#1.45.{dice.randint(0, 9)}"
    )


def with_cli_command(cli_agent_prefix: str, action: str) -> str:
    """Complete an aws-cli agent with the command run: ``md/command#logs.get-log-events``."""
    return cli_agent_prefix + _WORD_START.sub("-", action).lower()
