"""AWS Signature Version 4 for Amazon OpenSearch Service (and Elasticsearch) domains behind IAM.

Every request is signed with botocore's own signer, from boto3's usual credentials (the
environment, ``~/.aws``, an instance or task role), fetched again for each request so that
rotating role credentials are never stale. A domain is one endpoint, so ``ELASTICSEARCH_URL``
names one URL when signing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

if TYPE_CHECKING:
    from collections.abc import Mapping

    from botocore.credentials import Credentials

#: The headers the signature covers; any other (user agent, client meta) is sent unsigned.
SIGNED = ("content-type",)


class NoAwsCredentialsError(Exception):
    """Signing was asked for, and boto3 finds no credentials."""


@dataclass(frozen=True)
class AwsSigner:
    """Signs requests for one region and service (``es`` for OpenSearch Service domains)."""

    region: str
    service: str = "es"
    _session: boto3.session.Session = field(
        default_factory=boto3.session.Session, compare=False, repr=False
    )

    def credentials(self) -> Credentials:
        """boto3's current credentials; a clear error when there are none."""
        found = self._session.get_credentials()
        if found is None:
            raise NoAwsCredentialsError(
                "ELASTICSEARCH_AWS_REGION asks for AWS SigV4 signing, and boto3 finds no "
                "credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE, or "
                "run with a role"
            )
        return found

    def headers(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> dict[str, str]:
        """The headers that sign this request: Authorization, X-Amz-Date, and the rest."""
        covered = {name: value for name, value in headers.items() if name.lower() in SIGNED}
        # OpenSearch Service wants the payload's hash as a header too.
        covered["x-amz-content-sha256"] = hashlib.sha256(body or b"").hexdigest()
        request = AWSRequest(method=method, url=url, data=body or b"", headers=covered)
        SigV4Auth(self.credentials().get_frozen_credentials(), self.service, self.region).add_auth(
            request
        )
        return {
            name: value for name, value in request.headers.items() if name.lower() not in SIGNED
        }
