"""Who a request comes from: an API key (``X-API-Key``) or a JWT (``Authorization: Bearer``).

:func:`authenticator_from` builds the :class:`Authenticator` the settings describe, or none
when authentication is disabled, which must be asked for explicitly
(``TRAILQL_AUTH_DISABLED=true``): with nothing configured the API refuses to start rather
than answering every request 401 or, worse, every request with every account.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from api.keys import KEY_PREFIX, ApiKeys, KeyConfigError, load_api_keys
from api.settings import ApiSettings
from api.tenancy import Tenant
from api.tokens import InvalidTokenError, TokenVerifier

logger = logging.getLogger("trailql.api.auth")

API_KEY_HEADER = "x-api-key"
REALM = 'realm="trailql"'


class AuthConfigError(ValueError):
    """The authentication settings cannot be used; the message says which and why."""


class UnauthenticatedError(Exception):
    """No credential, or one this API does not accept. The message is for the client."""

    def __init__(self, message: str, *, invalid_token: bool = False) -> None:
        super().__init__(message)
        self.invalid_token = invalid_token


@dataclass(frozen=True)
class Authenticator:
    """The credentials this API accepts: API keys, tokens, or both."""

    api_keys: ApiKeys | None
    tokens: TokenVerifier | None

    def _how(self) -> str:
        ways = []
        if self.api_keys is not None:
            ways.append("an API key in the X-API-Key header")
        if self.tokens is not None:
            ways.append("a JWT as Authorization: Bearer <token>")
        return " or ".join(ways)

    def challenge(self, *, invalid_token: bool = False) -> str:
        """The ``WWW-Authenticate`` value of a 401: one challenge per accepted credential."""
        challenges = []
        if self.tokens is not None:
            error = ', error="invalid_token"' if invalid_token else ""
            challenges.append(f"Bearer {REALM}{error}")
        if self.api_keys is not None:
            challenges.append(f"ApiKey {REALM}")
        return ", ".join(challenges)

    async def authenticate(self, headers: Mapping[str, str]) -> Tenant:
        """The tenant the request's credential stands for; :class:`UnauthenticatedError`."""
        api_key = headers.get(API_KEY_HEADER)
        authorization = headers.get("authorization")
        if api_key is not None and authorization is not None:
            raise UnauthenticatedError(
                "send one credential: an API key in X-API-Key or a token in Authorization, "
                "not both."
            )
        if api_key is not None:
            return self._by_key(api_key)
        if authorization is not None:
            return await self._by_token(authorization)
        raise UnauthenticatedError(f"authentication required: send {self._how()}.")

    def _by_key(self, api_key: str) -> Tenant:
        if self.api_keys is None:
            raise UnauthenticatedError(f"this API accepts no API keys: send {self._how()}.")
        key = self.api_keys.find(api_key)
        if key is None:
            raise UnauthenticatedError("the API key is not valid.")
        if key.expired(datetime.now(UTC)):
            raise UnauthenticatedError("the API key has expired.")
        return key.tenant()

    async def _by_token(self, authorization: str) -> Tenant:
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise UnauthenticatedError("the Authorization header must be 'Bearer <token>'.")
        if token.startswith(KEY_PREFIX) and self.api_keys is not None:
            raise UnauthenticatedError("an API key goes in the X-API-Key header.")
        if self.tokens is None:
            raise UnauthenticatedError(f"this API accepts no bearer tokens: send {self._how()}.")
        try:
            return await self.tokens.verify(token)
        except InvalidTokenError as exc:
            raise UnauthenticatedError(f"{exc}.", invalid_token=True) from None


def _token_verifier(settings: ApiSettings) -> TokenVerifier | None:
    secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else None
    wanted = (settings.jwt_issuer, settings.jwt_audience, settings.jwt_jwks_url, secret)
    if not any(wanted):
        return None
    if not settings.jwt_issuer or not settings.jwt_audience:
        raise AuthConfigError("JWTs need both TRAILQL_JWT_ISSUER and TRAILQL_JWT_AUDIENCE")
    if bool(settings.jwt_jwks_url) == bool(secret):
        raise AuthConfigError("JWTs need TRAILQL_JWT_JWKS_URL or TRAILQL_JWT_SECRET, exactly one")
    try:
        return TokenVerifier(
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            accounts_claim=settings.jwt_accounts_claim,
            scopes_claim=settings.jwt_scopes_claim,
            jwks_url=settings.jwt_jwks_url or None,
            secret=secret or None,
        )
    except ValueError as exc:
        raise AuthConfigError(str(exc)) from None


def authenticator_from(settings: ApiSettings) -> Authenticator | None:
    """What the settings ask for; None when authentication is disabled."""
    if settings.auth_disabled:
        logger.warning(
            "authentication is disabled (TRAILQL_AUTH_DISABLED): every request sees every "
            "account. For local development only."
        )
        return None
    try:
        api_keys = load_api_keys(settings.api_keys, settings.api_keys_file)
    except KeyConfigError as exc:
        raise AuthConfigError(str(exc)) from None
    tokens = _token_verifier(settings)
    if not api_keys and tokens is None:
        raise AuthConfigError(
            "authentication is on but no credential is configured: set TRAILQL_API_KEYS or "
            "TRAILQL_API_KEYS_FILE (trailql keys mint NAME ACCOUNT...), or "
            "TRAILQL_JWT_ISSUER, TRAILQL_JWT_AUDIENCE and TRAILQL_JWT_JWKS_URL or "
            "TRAILQL_JWT_SECRET; for local development only, TRAILQL_AUTH_DISABLED=true"
        )
    return Authenticator(api_keys=api_keys or None, tokens=tokens)
