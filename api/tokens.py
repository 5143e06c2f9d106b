"""JWT bearer tokens: signature, expiry, issuer and audience checked; accounts from a claim.

Tokens are signed either by the issuer's keys, published at a JWKS URL (RSA, RSA-PSS, EC or
EdDSA; fetched with PyJWT's :class:`jwt.PyJWKClient`, which caches them), or with a shared
secret (HMAC). ``exp``, ``iss`` and ``aud`` are required; the accounts claim (by default
``trailql_accounts``) lists the AWS account IDs the token may see, as a JSON list of strings
or one string separated by commas or spaces.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Any

import jwt

from api.tenancy import InvalidAccountError, InvalidScopeError, Tenant, account_ids, scopes_of

#: Signatures checked with keys from a JWKS URL: public-key algorithms only, so a token can
#: never pass off an HMAC made with the public key as a signature.
PUBLIC_KEY_ALGORITHMS = (
    *("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"),
    *("ES256", "ES384", "ES512", "EdDSA"),
)
SECRET_ALGORITHMS = ("HS256", "HS384", "HS512")
#: Shortest shared secret accepted: RFC 7518 asks for at least the hash's size.
MIN_SECRET_BYTES = 32
#: Clock skew tolerated between the issuer and this server.
LEEWAY_SECONDS = 30
#: How long fetching the JWKS may take before the request is answered 503.
JWKS_TIMEOUT_SECONDS = 5.0

_SEPARATORS = re.compile(r"[\s,]+")


class InvalidTokenError(ValueError):
    """The token is not one this API accepts; the message says why (safe to show)."""


class SigningKeysUnavailableError(RuntimeError):
    """The JWKS URL does not answer: the token cannot be checked now."""


class TokenVerifier:
    """Checks tokens for one issuer and audience, with a JWKS URL or a shared secret."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        accounts_claim: str,
        scopes_claim: str = "trailql_scopes",
        jwks_url: str | None = None,
        secret: str | None = None,
    ) -> None:
        if (jwks_url is None) == (secret is None):
            raise ValueError("give a JWKS URL or a shared secret, exactly one")
        if secret is not None and len(secret.encode("utf-8")) < MIN_SECRET_BYTES:
            raise ValueError(f"the JWT secret must be at least {MIN_SECRET_BYTES} bytes")
        self.issuer = issuer
        self.audience = audience
        self.accounts_claim = accounts_claim
        self.scopes_claim = scopes_claim
        self._secret = secret
        self._jwks = (
            None
            if jwks_url is None
            else jwt.PyJWKClient(jwks_url, cache_keys=True, timeout=JWKS_TIMEOUT_SECONDS)
        )

    async def verify(self, token: str) -> Tenant:
        """The tenant a valid token stands for; :class:`InvalidTokenError` otherwise."""
        try:
            key, algorithms = await self._key(token)
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidTokenError("the token has expired") from None
        except jwt.PyJWKClientConnectionError as exc:
            raise SigningKeysUnavailableError(str(exc)) from None
        except jwt.PyJWTError as exc:
            raise InvalidTokenError(f"the token is not valid: {exc}") from None
        return Tenant(
            name=self._name(claims),
            accounts=self._accounts(claims),
            scopes=self._scopes(claims),
            expires=_expiry(claims),
        )

    def _scopes(self, claims: dict[str, Any]) -> frozenset[str]:
        """The scopes claim: a list or a space- or comma-separated string; none is ``read``."""
        value = claims.get(self.scopes_claim, [])
        if isinstance(value, str):
            value = [part for part in _SEPARATORS.split(value) if part]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise InvalidTokenError(f"the token's {self.scopes_claim!r} claim must list scopes")
        try:
            return scopes_of(value)
        except InvalidScopeError as exc:
            raise InvalidTokenError(f"the token's {self.scopes_claim!r} claim: {exc}") from None

    async def _key(self, token: str) -> tuple[Any, tuple[str, ...]]:
        if self._jwks is None:
            return self._secret, SECRET_ALGORITHMS
        # PyJWKClient fetches with urllib, blocking: off the event loop.
        signing_key = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
        return signing_key, PUBLIC_KEY_ALGORITHMS

    def _accounts(self, claims: dict[str, Any]) -> frozenset[str]:
        value = claims.get(self.accounts_claim)
        if isinstance(value, str):
            value = [part for part in _SEPARATORS.split(value) if part]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise InvalidTokenError(
                f"the token's {self.accounts_claim!r} claim must list the AWS account IDs "
                "it may see, as strings"
            )
        try:
            return account_ids(value)
        except InvalidAccountError as exc:
            raise InvalidTokenError(f"the token's {self.accounts_claim!r} claim: {exc}") from None

    @staticmethod
    def _name(claims: dict[str, Any]) -> str:
        subject = claims.get("sub")
        return f"jwt:{subject}" if isinstance(subject, str) and subject else "jwt"


def _expiry(claims: dict[str, Any]) -> datetime | None:
    """When the token stops being accepted (``exp`` and the leeway); None past datetime's range."""
    try:
        return datetime.fromtimestamp(float(claims["exp"]) + LEEWAY_SECONDS, UTC)
    except (OverflowError, ValueError, OSError):
        return None
