"""API keys: minted at random, stored only as SHA-256 hash lines, compared in constant time.

A key is ``tql_`` and 43 URL-safe characters (256 random bits), so one SHA-256 is enough: no
salt or slow hash is needed against guessing. The server keeps hash lines, never keys::

    NAME:SHA256-HEX:ACCOUNTS[:SCOPES][:EXPIRES]

ACCOUNTS are 12-digit IDs, comma-separated, or ``*`` for all; SCOPES, when given, what the key
may do, comma-separated (``read``, ``triage``; a line without them is ``read``, as every line
was before scopes existed); EXPIRES, when given, is the ISO 8601 instant (UTC unless it says)
from which the key is refused. Scopes start with a letter, an expiry with a digit.
``TRAILQL_API_KEYS`` holds lines separated by ``;`` or new lines; ``TRAILQL_API_KEYS_FILE``
names a file of them, one per line, ``#`` starting a comment. Mint one with
``trailql keys mint NAME ACCOUNT [ACCOUNT ...] [--days N | --expires WHEN]``; revoke one by
removing its line.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from api.tenancy import (
    READ_ONLY,
    InvalidAccountError,
    InvalidScopeError,
    Tenant,
    account_ids,
    scopes_of,
)
from common.times import utc

KEY_PREFIX = "tql_"
EVERY_ACCOUNT_MARK = "*"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
_DIGEST = re.compile(r"[0-9a-f]{64}")


class KeyConfigError(ValueError):
    """A hash line that cannot be used; the message says where and why."""


def mint_key() -> str:
    """A new random API key."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """The hex SHA-256 of a key, as hash lines store it."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def hash_line(
    name: str,
    key: str,
    accounts: Iterable[str],
    expires: datetime | None = None,
    scopes: Iterable[str] = (),
) -> str:
    """The line that lets ``key`` in as ``name``, seeing ``accounts`` (``*``: all)."""
    listed = sorted(set(accounts))
    if listed != [EVERY_ACCOUNT_MARK]:
        listed = sorted(account_ids(listed))
    line = f"{name}:{hash_key(key)}:{','.join(listed)}"
    granted = scopes_of(scopes)
    if granted != READ_ONLY:
        line += ":" + ",".join(sorted(granted))
    if expires is not None:
        line += ":" + utc(expires).isoformat().replace("+00:00", "Z")
    parse_key_line(line, "the new key")  # the line it prints must be one the server reads
    return line


@dataclass(frozen=True)
class StoredKey:
    """One hash line, parsed."""

    name: str
    digest: str
    accounts: frozenset[str] | None  # None: every account
    expires: datetime | None = None
    scopes: frozenset[str] = READ_ONLY

    def expired(self, now: datetime) -> bool:
        """Whether the key is refused at ``now``."""
        return self.expires is not None and now >= self.expires

    def tenant(self) -> Tenant:
        """Who the key lets in."""
        return Tenant(
            name=self.name, accounts=self.accounts, scopes=self.scopes, expires=self.expires
        )


def _expiry(text: str, where: str) -> datetime:
    try:
        return utc(datetime.fromisoformat(text))
    except ValueError:
        raise KeyConfigError(f"{where}: {text!r} is not an ISO 8601 date or time") from None


def parse_key_line(line: str, where: str) -> StoredKey:
    """One ``NAME:SHA256:ACCOUNTS[:SCOPES][:EXPIRES]`` line, or :class:`KeyConfigError`."""
    parts = line.split(":", 3)  # the expiry may hold colons of its own
    if len(parts) < 3:  # noqa: PLR2004  NAME, digest, accounts
        raise KeyConfigError(f"{where}: expected NAME:SHA256:ACCOUNTS[:SCOPES][:EXPIRES]")
    name, digest, accounts_text = parts[:3]
    rest = parts[3] if len(parts) > 3 else ""  # noqa: PLR2004
    scopes = READ_ONLY
    if rest[:1].isalpha():
        scopes_text, _, rest = rest.partition(":")
        try:
            scopes = scopes_of(scopes_text.split(","))
        except InvalidScopeError as exc:
            raise KeyConfigError(f"{where}: {exc}") from None
    expires = _expiry(rest, where) if rest else None
    if not _NAME.fullmatch(name):
        raise KeyConfigError(f"{where}: {name!r} is not a key name (letters, digits, ._@-)")
    if not _DIGEST.fullmatch(digest):
        raise KeyConfigError(f"{where}: the hash must be 64 lowercase hex digits (SHA-256)")
    if accounts_text == EVERY_ACCOUNT_MARK:
        return StoredKey(name, digest, None, expires, scopes)
    try:
        accounts = account_ids(accounts_text.split(","))
    except InvalidAccountError as exc:
        raise KeyConfigError(f"{where}: {exc}") from None
    return StoredKey(name, digest, accounts, expires, scopes)


def parse_key_lines(text: str, source: str) -> list[StoredKey]:
    """Every line in ``text`` (``;`` or new lines between them, ``#`` comments)."""
    return [
        parse_key_line(entry.strip(), f"{source}, line {number}")
        for number, raw in enumerate(text.splitlines(), start=1)
        for entry in raw.split("#", 1)[0].split(";")
        if entry.strip()
    ]


class ApiKeys:
    """The keys the server accepts."""

    def __init__(self, keys: Sequence[StoredKey]) -> None:
        names = [key.name for key in keys]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise KeyConfigError(f"API key names must be unique: {', '.join(twice)}")
        if len({key.digest for key in keys}) != len(keys):
            raise KeyConfigError("the same API key hash is configured twice")
        self._keys = tuple(keys)

    def __len__(self) -> int:
        return len(self._keys)

    def find(self, presented: str) -> StoredKey | None:
        """The stored key ``presented`` is, or None.

        Every stored hash is compared, each with :func:`hmac.compare_digest`, so the time
        taken says nothing about which key, or how much of one, matched.
        """
        digest = hash_key(presented)
        found = None
        for key in self._keys:
            if hmac.compare_digest(key.digest, digest):
                found = key
        return found


def load_api_keys(text: str, file: Path | None) -> ApiKeys:
    """The keys from ``TRAILQL_API_KEYS``'s text and ``TRAILQL_API_KEYS_FILE``, together."""
    keys = parse_key_lines(text, "TRAILQL_API_KEYS")
    if file is not None:
        try:
            content = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise KeyConfigError(f"TRAILQL_API_KEYS_FILE {file}: {exc.strerror}") from None
        keys += parse_key_lines(content, str(file))
    return ApiKeys(keys)


def mint(
    name: str,
    accounts: Sequence[str],
    *,
    days: int | None = None,
    expires: str | None = None,
    scopes: Sequence[str] = (),
) -> tuple[str, str]:
    """A new key and the hash line that lets it in, expiring in ``days`` or at ``expires``.

    Raises:
        KeyConfigError: a name, account or expiry that cannot be used; the message says which.
    """
    key = mint_key()
    when = _expiry(expires, "--expires") if expires is not None else None
    if days is not None:
        when = datetime.now(UTC).replace(microsecond=0) + timedelta(days=days)
    try:
        return key, hash_line(name, key, accounts, when, scopes)
    except (InvalidAccountError, InvalidScopeError) as exc:
        raise KeyConfigError(str(exc)) from None
