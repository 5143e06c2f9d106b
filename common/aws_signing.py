"""AWS Signature Version 4 for Amazon OpenSearch Service domains behind IAM.

Every request is signed with botocore's own signer, from boto3's usual credentials (the
environment, ``~/.aws``, an instance or task role), resolved once: botocore refreshes role
credentials by itself when they near their expiry. A domain is one endpoint, so
``ELASTICSEARCH_URL`` names one URL when signing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    from collections.abc import Mapping

#: The headers the signature covers; any other (user agent, client meta) is sent unsigned.
SIGNED = ("content-type",)

#: What is signed for: Amazon OpenSearch Service domains (managed clusters).
SERVICE = "es"


class NoAwsCredentialsError(Exception):
    """Signing was asked for, and boto3 finds no credentials."""


def query_parameters(query: str) -> dict[str, str]:
    """A query string's names and values, decoded, for botocore to encode as AWS canonicalises.

    The client sends ``filter_path=items.*.status`` as it is; AWS signs ``items.%2A.status``.
    """
    pairs = (part.partition("=") for part in query.split("&") if part)
    return {unquote(name): unquote(value) for name, _, value in pairs}


@dataclass(frozen=True)
class AwsSigner:
    """Signs requests for one region, with credentials resolved when it is made."""

    region: str
    _credentials: Any = field(default=None, compare=False, repr=False)

    @classmethod
    def from_environment(cls, region: str) -> AwsSigner:
        """boto3's credentials; a clear error when there are none."""
        import boto3  # noqa: PLC0415  only when signing: it costs 0.1 s to import

        found = boto3.session.Session().get_credentials()
        if found is None:
            raise NoAwsCredentialsError(
                "ELASTICSEARCH_AWS_REGION asks for AWS SigV4 signing, and boto3 finds no "
                "credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE, or "
                "run with a role"
            )
        return cls(region, found)

    def headers(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> dict[str, str]:
        """The headers that sign this request: Authorization, X-Amz-Date, and the rest."""
        from botocore.auth import SigV4Auth  # noqa: PLC0415  botocore only when signing
        from botocore.awsrequest import AWSRequest  # noqa: PLC0415

        covered = {name: value for name, value in headers.items() if name.lower() in SIGNED}
        # OpenSearch Service wants the payload's hash as a header too.
        covered["x-amz-content-sha256"] = hashlib.sha256(body or b"").hexdigest()
        parts = urlsplit(url)
        request = AWSRequest(
            method=method,
            url=parts._replace(query="").geturl(),
            params=query_parameters(parts.query),
            data=body or b"",
            headers=covered,
        )
        # Thread-safe; refreshes role credentials when they near their expiry.
        frozen = self._credentials.get_frozen_credentials()
        SigV4Auth(frozen, SERVICE, self.region).add_auth(request)
        return {
            name: value for name, value in request.headers.items() if name.lower() not in SIGNED
        }
