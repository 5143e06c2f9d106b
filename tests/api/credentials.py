"""Credentials for the tests: API keys minted here, and JWTs signed with RSA keys made here.

The issuer's signing keys are served as a JWKS over HTTP on a loopback port, as an identity
provider publishes them, so the API fetches them exactly as it would in production.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from api.keys import hash_line, mint_key

ISSUER = "https://idp.test/trailql"
AUDIENCE = "trailql-api"
KID = "test-signing-key"

#: The tenants of the samples: the sigma account, and two of the stratus ones.
SIGMA = "123837392027"
STRATUS = ("017622104382", "056392974792")


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwks_of(key: rsa.RSAPrivateKey, kid: str = KID) -> dict[str, Any]:
    jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {"keys": [{**jwk, "kid": kid, "use": "sig", "alg": "RS256"}]}


@contextmanager
def serving_jwks(jwks: dict[str, Any]) -> Iterator[str]:
    """The JWKS on a loopback port, in a thread; yields its URL."""
    body = json.dumps(jwks).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host!s}:{port}/.well-known/jwks.json"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def token(
    key: Any,
    *,
    accounts: Any = (SIGMA,),
    expires_in: timedelta = timedelta(minutes=5),
    algorithm: str = "RS256",
    kid: str | None = KID,
    **claims: Any,
) -> str:
    """A token signed with ``key``; any claim can be changed or, given None, left out."""
    now = datetime.now(UTC)
    payload: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "iat": now,
        "exp": now + expires_in,
        "trailql_accounts": list(accounts) if isinstance(accounts, tuple) else accounts,
        **claims,
    }
    payload = {name: value for name, value in payload.items() if value is not None}
    headers = {"kid": kid} if kid else None
    return jwt.encode(payload, key, algorithm=algorithm, headers=headers)


def api_key(name: str, *accounts: str, expires: datetime | None = None) -> tuple[str, str]:
    """A new key and its hash line."""
    key = mint_key()
    return key, hash_line(name, key, accounts, expires)
