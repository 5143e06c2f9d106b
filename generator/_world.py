"""The accounts and regions the trail covers, and the applications running in them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Account:
    """One AWS account: its share of the traffic and the VPC its private addresses come from."""

    account_id: str
    environment: str
    weight: float
    vpc_octet: int


ACCOUNT_PROFILES: Final = (
    Account("123456789012", "shared", 0.2, 16),
    Account("234567890123", "prod", 0.5, 32),
    Account("345678901234", "staging", 0.3, 48),
)
ACCOUNTS: Final = tuple(account.account_id for account in ACCOUNT_PROFILES)
MANAGEMENT_ACCOUNT: Final = ACCOUNT_PROFILES[0].account_id

REGIONS: Final = ("us-east-1", "eu-west-1", "ap-southeast-2")
REGION_WEIGHT: Final = {"us-east-1": 0.55, "eu-west-1": 0.3, "ap-southeast-2": 0.15}

APPS: Final = (
    "orders", "payments", "checkout", "inventory", "catalog", "search", "auth",
    "notifications", "billing", "shipping", "recommendations", "reporting", "profile",
    "gateway", "media", "ledger", "pricing", "fraud", "onboarding", "webhooks",
)  # fmt: skip
