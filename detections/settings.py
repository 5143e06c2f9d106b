"""What the detections read from the environment (``TRAILQL_…``)."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

_ACCOUNT = re.compile(r"\d{12}")


def listed(text: str) -> frozenset[str]:
    """The values of a comma- or space-separated setting."""
    return frozenset(part for part in re.split(r"[\s,]+", text) if part)


class DetectionSettings(BaseSettings):
    """Rules, what counts as trusted, and where findings are sent."""

    model_config = SettingsConfigDict(env_prefix="TRAILQL_", extra="ignore")

    #: A folder of the user's own Sigma rules, loaded beside the shipped pack.
    rules_dir: Path | None = None
    #: Accounts a subscription, destination or policy may name without a finding.
    trusted_accounts: str = ""
    #: Principals whose deletions and changes are expected (CI, infrastructure as code): a
    #: TrailQL principal name, a role or user name, or an ARN.
    trusted_principals: str = ""
    #: A retention shorter than this many days is a finding, whatever it was before (0: off).
    retention_floor_days: int = 7
    #: Buckets export tasks may write to; empty: the allow-list rule is off.
    export_buckets: str = ""
    #: Whether the continuous indexer evaluates the rules after each batch.
    detections: bool = True
    #: Where each new finding is POSTed, and the secret its HMAC-SHA256 signature uses.
    webhook_url: str = ""
    webhook_secret: SecretStr | None = None
    #: The SNS topic each new finding is published to.
    sns_topic_arn: str = ""

    def trusted_account_ids(self) -> frozenset[str]:
        """The trusted accounts; a value that is not a 12-digit account is refused."""
        accounts = listed(self.trusted_accounts)
        wrong = sorted(account for account in accounts if not _ACCOUNT.fullmatch(account))
        if wrong:
            raise ValueError(f"TRAILQL_TRUSTED_ACCOUNTS: {wrong[0]!r} is not a 12-digit account")
        return accounts

    def trusted_principal_names(self) -> frozenset[str]:
        """The trusted principals, as written."""
        return listed(self.trusted_principals)

    def export_bucket_names(self) -> frozenset[str]:
        """The buckets export tasks may write to."""
        return listed(self.export_buckets)
