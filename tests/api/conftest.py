"""Fixtures for authentication and tenants: keys, an issuer's JWKS, and the API secured."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from common.elastic import Connection
from indexer.run import IndexSummary
from tests.api.credentials import (
    AUDIENCE,
    ISSUER,
    SIGMA,
    STRATUS,
    api_key,
    jwks_of,
    rsa_key,
    serving_jwks,
)


@dataclass(frozen=True)
class Keys:
    """API keys minted for the tests, and the hash lines the API is configured with."""

    sigma: str  # sees the sigma account only
    stratus: str  # sees two stratus accounts
    everything: str  # '*'
    expired: str  # sigma's account, expired yesterday
    lines: str


@pytest.fixture(scope="session")
def keys() -> Keys:
    sigma, sigma_line = api_key("sigma-team", SIGMA)
    stratus, stratus_line = api_key("stratus-team", *STRATUS)
    everything, everything_line = api_key("ops", "*")
    yesterday = datetime.now(UTC) - timedelta(days=1)
    expired, expired_line = api_key("former-contractor", SIGMA, expires=yesterday)
    lines = f"{sigma_line};{stratus_line};{everything_line};{expired_line}"
    return Keys(sigma, stratus, everything, expired, lines)


@pytest.fixture(scope="session")
def signing_key() -> Any:
    """The issuer's private key: tokens signed with it are valid."""
    return rsa_key()


@pytest.fixture(scope="session")
def jwks_url(signing_key) -> Iterator[str]:
    with serving_jwks(jwks_of(signing_key)) as url:
        yield url


@pytest.fixture(scope="session")
def secured_settings(keys: Keys, jwks_url: str) -> ApiSettings:
    """Authentication on, with both API keys and JWTs."""
    return ApiSettings(
        auth_disabled=False,
        api_keys=keys.lines,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        jwt_jwks_url=jwks_url,
    )


@pytest.fixture(scope="session")
def secured_api(
    es_connection: Connection,
    samples_alias: tuple[str, IndexSummary],
    secured_settings: ApiSettings,
) -> Iterator[TestClient]:
    """The API over the indexed samples, with authentication on."""
    app = create_app(es_connection, samples_alias[0], secured_settings)
    with TestClient(app) as client:
        yield client
