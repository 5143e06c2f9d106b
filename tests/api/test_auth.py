"""Authentication: API keys and JWTs let queries in; anything else is 401 with a reason."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from pydantic import SecretStr
from starlette.testclient import TestClient

from api import graphiql
from api.app import create_app
from api.auth import AuthConfigError, authenticator_from
from api.settings import ApiSettings
from common.elastic import Connection
from tests.api.credentials import AUDIENCE, ISSUER, KID, SIGMA, rsa_key, token

QUERY = {"query": "{ events { totalCount } }"}
BOTH_CHALLENGES = 'Bearer realm="trailql", ApiKey realm="trailql"'
REJECTED_BEARER_CHALLENGES = 'Bearer realm="trailql", error="invalid_token", ApiKey realm="trailql"'
UNREACHABLE = Connection(url="http://127.0.0.1:9")
SECRET = "a shared secret of at least thirty-two bytes"  # noqa: S105  the tests' own


def refused(response: Any, message: str, challenge: str = BOTH_CHALLENGES) -> None:
    assert response.status_code == 401
    assert response.json() == {
        "errors": [{"message": message, "extensions": {"code": "UNAUTHENTICATED"}}]
    }
    assert response.headers["www-authenticate"] == challenge
    assert response.headers["content-type"] == "application/json"


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def test_no_credential_is_401_and_says_how_to_send_one(secured_api):
    message = (
        "authentication required: send an API key in the X-API-Key header or a JWT as "
        "Authorization: Bearer <token>."
    )
    refused(secured_api.post("/graphql", json=QUERY), message)
    # A query sent with GET is a query, not GraphiQL's page.
    refused(secured_api.get("/graphql", params={"query": "{ __typename }"}), message)
    refused(secured_api.get("/graphql", headers={"accept": "application/json"}), message)
    refused(secured_api.get("/nowhere"), message)  # unknown paths too: nothing is open by mistake


def test_a_valid_api_key_or_token_is_let_in(secured_api, keys, signing_key):
    for headers in ({"X-API-Key": keys.sigma}, bearer(token(signing_key))):
        response = secured_api.post("/graphql", json=QUERY, headers=headers)
        assert response.status_code == 200
        assert response.json()["data"] == {"events": {"totalCount": 2900}}


def test_a_wrong_or_expired_api_key_is_401(secured_api, keys):
    wrong = "tql_" + "A" * 43
    for key, message in (
        (wrong, "the API key is not valid."),
        (keys.sigma[:-1], "the API key is not valid."),
        ("", "the API key is not valid."),
        (keys.expired, "the API key has expired."),
    ):
        refused(secured_api.post("/graphql", json=QUERY, headers={"X-API-Key": key}), message)


def test_an_expired_token_is_401(secured_api, signing_key):
    expired = token(signing_key, expires_in=timedelta(hours=-1))
    response = secured_api.post("/graphql", json=QUERY, headers=bearer(expired))
    refused(response, "the token has expired.", REJECTED_BEARER_CHALLENGES)


def test_tokens_not_signed_by_the_issuer_or_not_for_us_are_401(secured_api, signing_key):
    stranger = rsa_key()
    public_pem = signing_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    cases = {
        token(stranger): "the token is not valid: Signature verification failed.",
        token(signing_key, aud="another-api"): "the token is not valid: Audience doesn't match.",
        token(signing_key, iss="https://evil.test"): "the token is not valid: Invalid issuer.",
        token(signing_key, kid="unknown-kid"): (
            'the token is not valid: Unable to find a signing key that matches: "unknown-kid".'
        ),
        token(signing_key, exp=None): ('the token is not valid: Token is missing the "exp" claim.'),
        token(signing_key, accounts=None): (
            "the token's 'trailql_accounts' claim must list the AWS account IDs it may see, "
            "as strings."
        ),
        token(signing_key, accounts=[123837392027]): (
            "the token's 'trailql_accounts' claim must list the AWS account IDs it may see, "
            "as strings."
        ),
        token(signing_key, accounts=["12383739202"]): (
            "the token's 'trailql_accounts' claim: '12383739202' is not a 12-digit AWS account ID."
        ),
        token(signing_key, accounts=[]): (
            "the token's 'trailql_accounts' claim: no AWS account ID given."
        ),
        "not.a.token": "the token is not valid: Invalid header padding.",
    }
    for value, message in cases.items():
        response = secured_api.post("/graphql", json=QUERY, headers=bearer(value))
        refused(response, message, REJECTED_BEARER_CHALLENGES)
    # The public key as an HMAC secret (algorithm confusion), and no signature at all.
    claims = {"iss": ISSUER, "aud": AUDIENCE, "exp": 2_000_000_000, "trailql_accounts": [SIGMA]}
    for forged in (hand_signed("HS256", claims, public_pem), hand_signed("none", claims, b"")):
        response = secured_api.post("/graphql", json=QUERY, headers=bearer(forged))
        refused(
            response,
            "the token is not valid: The specified alg value is not allowed.",
            REJECTED_BEARER_CHALLENGES,
        )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def hand_signed(algorithm: str, claims: dict[str, Any], secret: bytes) -> str:
    """A token PyJWT would refuse to make: HS256 keyed with a public key, or alg none."""
    header = {"alg": algorithm, "typ": "JWT", "kid": KID}
    signed = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    if algorithm == "none":
        return f"{signed}."
    digest = hmac.new(secret, signed.encode(), hashlib.sha256).digest()
    return f"{signed}.{_b64(digest)}"


def test_malformed_authorization_headers_are_401(secured_api, keys, signing_key):
    cases = [
        (
            {"Authorization": "Basic dXNlcjpwYXNz"},
            "the Authorization header must be 'Bearer <token>'.",
        ),
        ({"Authorization": "Bearer "}, "the Authorization header must be 'Bearer <token>'."),
        (bearer(keys.sigma), "an API key goes in the X-API-Key header."),
        (
            {"X-API-Key": keys.sigma, **bearer(token(signing_key))},
            "send one credential: an API key in X-API-Key or a token in Authorization, not both.",
        ),
    ]
    for headers, message in cases:
        refused(secured_api.post("/graphql", json=QUERY, headers=headers), message)


def test_probes_metrics_and_graphiql_page_stay_open(secured_api):
    assert secured_api.get("/healthz").json() == {"status": "ok"}
    assert secured_api.get("/readyz").json() == {"status": "ready"}
    assert secured_api.get("/metrics").status_code == 200
    page = secured_api.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == (503 if graphiql.missing_assets() else 200)
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    script = secured_api.get(f"/graphiql/{graphiql.START_SCRIPT}")
    assert script.status_code == 200
    assert secured_api.get("/graphiql/no-such-file.js").status_code == 404


def test_a_shared_secret_token_is_let_in_and_one_with_another_secret_is_not():
    settings = ApiSettings(
        auth_disabled=False,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        jwt_secret=SecretStr(SECRET),
    )
    with TestClient(create_app(UNREACHABLE, "trailql-events", settings)) as client:
        typename = {"query": "{ __typename }"}  # needs no Elasticsearch
        good = token(SECRET, algorithm="HS256", kid=None)
        answer = client.post("/graphql", json=typename, headers=bearer(good))
        assert answer.json()["data"] == {"__typename": "Query"}
        bad = token(SECRET + "!", algorithm="HS256", kid=None)
        response = client.post("/graphql", json=typename, headers=bearer(bad))
        refused(
            response,
            "the token is not valid: Signature verification failed.",
            'Bearer realm="trailql", error="invalid_token"',
        )
        key_sent = client.post("/graphql", json=typename, headers={"X-API-Key": "tql_x"})
        refused(
            key_sent,
            "this API accepts no API keys: send a JWT as Authorization: Bearer <token>.",
            'Bearer realm="trailql"',
        )


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_jwks_is_503_not_401(signing_key):
    settings = ApiSettings(
        auth_disabled=False,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        jwt_jwks_url=f"http://127.0.0.1:{_closed_port()}/jwks.json",
    )
    with TestClient(create_app(UNREACHABLE, "trailql-events", settings)) as client:
        response = client.post("/graphql", json=QUERY, headers=bearer(token(signing_key)))
    assert response.status_code == 503
    assert response.json()["errors"][0]["extensions"] == {"code": "UPSTREAM_UNAVAILABLE"}
    assert response.headers["retry-after"] == "5"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {},
            (
                "authentication is on but no credential is configured: set TRAILQL_API_KEYS or "
                "TRAILQL_API_KEYS_FILE (trailql keys mint NAME ACCOUNT...), or "
                "TRAILQL_JWT_ISSUER, TRAILQL_JWT_AUDIENCE and TRAILQL_JWT_JWKS_URL or "
                "TRAILQL_JWT_SECRET; for local development only, TRAILQL_AUTH_DISABLED=true"
            ),
        ),
        (
            {"jwt_issuer": ISSUER, "jwt_secret": SECRET},
            "JWTs need both TRAILQL_JWT_ISSUER and TRAILQL_JWT_AUDIENCE",
        ),
        (
            {"jwt_issuer": ISSUER, "jwt_audience": AUDIENCE},
            "JWTs need TRAILQL_JWT_JWKS_URL or TRAILQL_JWT_SECRET, exactly one",
        ),
        (
            {
                "jwt_issuer": ISSUER,
                "jwt_audience": AUDIENCE,
                "jwt_secret": SECRET,
                "jwt_jwks_url": "http://127.0.0.1:1/jwks.json",
            },
            "JWTs need TRAILQL_JWT_JWKS_URL or TRAILQL_JWT_SECRET, exactly one",
        ),
        (
            {"jwt_issuer": ISSUER, "jwt_audience": AUDIENCE, "jwt_secret": "short"},
            "the JWT secret must be at least 32 bytes",
        ),
        (
            {"api_keys": "ops:abc:*"},
            "TRAILQL_API_KEYS, line 1: the hash must be 64 lowercase hex digits (SHA-256)",
        ),
    ],
)
def test_authentication_that_cannot_work_stops_the_api_from_starting(settings, message):
    configured = ApiSettings(auth_disabled=False, **settings)
    with pytest.raises(AuthConfigError) as raised:
        authenticator_from(configured)
    assert str(raised.value) == message
    with pytest.raises(AuthConfigError):
        create_app(UNREACHABLE, "trailql-events", configured)


def test_authentication_is_on_unless_disabled_explicitly(monkeypatch):
    monkeypatch.delenv("TRAILQL_AUTH_DISABLED")
    assert ApiSettings().auth_disabled is False
    monkeypatch.setenv("TRAILQL_AUTH_DISABLED", "true")
    assert authenticator_from(ApiSettings()) is None
    with TestClient(create_app(UNREACHABLE, "trailql-events")) as client:
        answer = client.post("/graphql", json={"query": "{ __typename }"})
        assert answer.json()["data"] == {"__typename": "Query"}
