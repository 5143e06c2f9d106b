"""The pieces of verification on their own: names, digests, keys, hashes, signatures."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from integrity import (
    DigestFormatError,
    FixedKeys,
    Location,
    PublicKey,
    PublicKeyError,
    check_signature,
    digest_name,
    hash_uncompressed,
    keys_of_listing,
    log_file_name,
    parse_digest,
)
from integrity.digests import gunzip_digest

DIGEST_KEY = (
    "trails/AWSLogs/o-abc123def4/111122223333/CloudTrail-Digest/eu-west-1/2024/02/29/"
    "111122223333_CloudTrail-Digest_eu-west-1_org_trail-2_us-east-1_20240229T235959Z"
    "_backfill.json.gz"
)
LOG_KEY = (
    "AWSLogs/111122223333/CloudTrail/us-gov-west-1/2024/03/01/"
    "111122223333_CloudTrail_us-gov-west-1_20240301T0005Z_aBc123.json.gz"
)


def test_a_digest_key_gives_its_trail_scope_and_hour():
    name = digest_name(Location("bucket", DIGEST_KEY))
    assert name is not None
    assert name.trail == "org_trail-2"
    assert name.home_region == "us-east-1"
    assert name.end == datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC)
    assert name.backfill
    assert name.scope.account == "111122223333"
    assert name.scope.account_folder == "trails/AWSLogs/o-abc123def4/111122223333/"
    assert name.scope.region == "eu-west-1"


@pytest.mark.parametrize(
    "key",
    [
        DIGEST_KEY.replace("20240229T235959Z", "20240230T235959Z"),  # no 30 February
        DIGEST_KEY.replace("111122223333_CloudTrail-Digest", "999922223333_CloudTrail-Digest"),
        DIGEST_KEY.replace(".json.gz", ".json"),
        "AWSLogs/111122223333/CloudTrail-Digest/eu-west-1/2024/02/29/readme.json.gz",
    ],
)
def test_a_key_not_laid_out_as_cloudtrail_s_is_no_digest(key):
    assert digest_name(Location("bucket", key)) is None


def test_a_log_file_key_gives_its_delivery_minute():
    name = log_file_name(Location(None, LOG_KEY))
    assert name is not None
    assert name.delivered == datetime(2024, 3, 1, 0, 5, tzinfo=UTC)
    assert name.scope.region == "us-gov-west-1"
    assert log_file_name(Location(None, "AWSLogs/x/CloudTrail/y/z.json.gz")) is None


def _digest(**changes) -> dict[str, Any]:
    content = {
        "awsAccountId": "111122223333",
        "digestStartTime": "2024-03-01T00:00:00Z",
        "digestEndTime": "2024-03-01T01:00:00Z",
        "digestS3Bucket": "b",
        "digestS3Object": "k",
        "digestPublicKeyFingerprint": "f",
        "digestSignatureAlgorithm": "SHA256withRSA",
        "previousDigestSignature": None,
        "logFiles": [
            {"s3Bucket": "b", "s3Object": "o", "hashValue": "A" * 64, "hashAlgorithm": "SHA-256"}
        ],
    }
    content.update(changes)
    return content


def test_a_digest_s_fields_are_read_and_its_hashes_lowercased():
    digest = parse_digest(json.dumps(_digest()).encode())
    assert digest.end_text == "2024-03-01T01:00:00Z"
    assert digest.starts_chain
    assert digest.log_files[0].sha256 == "a" * 64


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"not json", "invalid JSON"),
        (b"[1, 2]", "not an object"),
        (json.dumps(_digest(logFiles={})).encode(), "logFiles is not a list"),
        (json.dumps({"digestEndTime": "x"}).encode(), "no digestStartTime"),
        (json.dumps(_digest(digestEndTime=12)).encode(), "digestEndTime is not a text"),
        (json.dumps(_digest(digestEndTime="soon")).encode(), "is not a time"),
        (json.dumps(_digest(logFiles=[7])).encode(), "logFiles[1] is not an object"),
        (
            json.dumps(
                _digest(logFiles=[{"s3Bucket": "b", "s3Object": "o", "hashValue": "zz"}])
            ).encode(),
            "not a hex SHA-256",
        ),
        (
            json.dumps(
                _digest(
                    logFiles=[
                        {
                            "s3Bucket": "b",
                            "s3Object": "o",
                            "hashValue": "a" * 64,
                            "hashAlgorithm": "MD5",
                        }
                    ]
                )
            ).encode(),
            "is not SHA-256",
        ),
    ],
)
def test_what_is_not_a_digest_says_why(content, reason):
    with pytest.raises(DigestFormatError, match=reason.replace("[", r"\[")):
        parse_digest(content)


def test_a_gzip_bomb_is_refused_without_unpacking_it():
    bomb = gzip.compress(b"\0" * (80 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 200_000
    with pytest.raises(DigestFormatError, match="larger than 64 MiB"):
        gunzip_digest(bomb)
    with pytest.raises(DigestFormatError, match="ends before"):
        gunzip_digest(gzip.compress(b"{}")[:-9])


def test_a_log_file_s_hash_is_of_its_uncompressed_bytes_members_and_all():
    first, second = b'{"Records": [', b"]}"
    joined = gzip.compress(first) + gzip.compress(second)
    hashed = hash_uncompressed(io.BytesIO(joined))
    assert hashed.sha256 == hashlib.sha256(first + second).hexdigest()
    assert hashed.damage is None
    plain = hash_uncompressed(io.BytesIO(b'{"Records": []}'))
    assert plain.sha256 == hashlib.sha256(b'{"Records": []}').hexdigest()
    cut = hash_uncompressed(io.BytesIO(gzip.compress(b"x" * 100_000)[:-20]))
    assert cut.damage is not None


def _key_pair() -> tuple[rsa.RSAPrivateKey, bytes]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.PKCS1
    )
    return private, der


def test_key_lists_read_as_the_aws_cli_and_boto3_give_them():
    _, der = _key_pair()
    cli = {
        "PublicKeyList": [
            {
                "Value": base64.b64encode(der).decode(),
                "ValidityStartTime": "2024-01-01T00:00:00Z",
                "ValidityEndTime": 1735689600.0,  # the AWS CLI v1 prints epoch seconds
                "Fingerprint": "fp",
            }
        ]
    }
    [key] = keys_of_listing(cli)
    assert key.der == der
    assert key.valid_from == datetime(2024, 1, 1, tzinfo=UTC)
    assert key.valid_until == datetime(2025, 1, 1, tzinfo=UTC)
    boto = {
        "PublicKeyList": [{"Value": der, "Fingerprint": "fp", "ValidityStartTime": key.valid_from}]
    }
    assert keys_of_listing(boto)[0].der == der
    for bad in (
        {},
        {"PublicKeyList": [{"Value": "AAAA"}]},
        {"PublicKeyList": [{"Fingerprint": "f", "Value": 3}]},
    ):
        with pytest.raises(PublicKeyError):
            keys_of_listing(bad)


def test_a_signature_made_as_cloudtrail_makes_it_verifies_and_nothing_else_does():
    private, der = _key_pair()
    content = _digest(digestS3Bucket="trail-bucket", digestS3Object="AWSLogs/d.json.gz")
    raw = json.dumps(content).encode()
    text = (
        f"2024-03-01T01:00:00Z\ntrail-bucket/AWSLogs/d.json.gz\n{hashlib.sha256(raw).hexdigest()}"
        "\nnull"
    )
    signature = private.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256()).hex()
    keys = FixedKeys([PublicKey("f", der)])
    digest = parse_digest(raw)
    sha = hashlib.sha256(raw).hexdigest()
    assert check_signature(digest, sha, signature, keys, "us-east-1").valid
    tampered = hashlib.sha256(raw + b" ").hexdigest()
    assert not check_signature(digest, tampered, signature, keys, "us-east-1").valid
    refused = check_signature(digest, sha, "not hex", keys, "us-east-1")
    assert refused.reason == "the signature is not hex"
    unknown = check_signature(digest, sha, signature, FixedKeys([]), "us-east-1")
    assert unknown.reason == "no CloudTrail public key has the fingerprint f"
