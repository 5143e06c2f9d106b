"""A digest's signature: RSA with SHA-256 over its end, its place, its hash and the chain.

The signed text is four lines: ``digestEndTime``; ``digestS3Bucket/digestS3Object``; the hex
SHA-256 of the uncompressed digest; ``previousDigestSignature`` (the text ``null`` when there
is none), joined by newlines with none at the end, as CloudTrail signs it and the AWS CLI
checks it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from integrity.digests import SIGNATURE_ALGORITHM, Digest
from integrity.keys import KeySource, PublicKey


def signed_text(digest: Digest, digest_sha256: str) -> bytes:
    """The text CloudTrail signs for a digest whose uncompressed bytes hash to this."""
    previous = digest.previous_signature if digest.previous_signature is not None else "null"
    return (
        f"{digest.end_text}\n{digest.bucket}/{digest.key}\n{digest_sha256}\n{previous}"
    ).encode()


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    """Whether a signature holds; ``reason`` says why not."""

    valid: bool
    reason: str | None = None


def check_signature(
    digest: Digest, digest_sha256: str, signature_hex: str, keys: KeySource, home_region: str
) -> SignatureCheck:
    """Check a digest's signature with CloudTrail's key of its fingerprint.

    Raises:
        integrity.keys.PublicKeyError: the keys could not be had at all (CloudTrail out of reach).
    """
    if digest.signature_algorithm != SIGNATURE_ALGORITHM:
        return SignatureCheck(
            valid=False, reason=f"signature algorithm {digest.signature_algorithm!r} is not known"
        )
    try:
        signature = bytes.fromhex(signature_hex)
    except ValueError:
        return SignatureCheck(valid=False, reason="the signature is not hex")
    key = keys.find(digest.fingerprint, home_region, digest.end)
    if key is None:
        return SignatureCheck(
            valid=False,
            reason=f"no CloudTrail public key has the fingerprint {digest.fingerprint}",
        )
    public_key = _rsa_key(key)
    if public_key is None:
        return SignatureCheck(valid=False, reason=f"the key {key.fingerprint} is not an RSA key")
    try:
        public_key.verify(
            signature, signed_text(digest, digest_sha256), padding.PKCS1v15(), hashes.SHA256()
        )
    except InvalidSignature:
        return SignatureCheck(
            valid=False, reason=f"the signature does not verify with the key {key.fingerprint}"
        )
    return SignatureCheck(valid=True)


@lru_cache(maxsize=64)
def _rsa_key(key: PublicKey) -> rsa.RSAPublicKey | None:
    """The key, loaded once (DER PKCS#1 as CloudTrail gives it, or SubjectPublicKeyInfo)."""
    try:
        loaded = serialization.load_der_public_key(key.der)
    except ValueError:
        return None
    return loaded if isinstance(loaded, rsa.RSAPublicKey) else None
