"""``generate(digests=…)``: CloudTrail's digest files, checked with the standard library and
``cryptography`` alone (not through TrailQL's integrity package)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from generator import DigestOptions, generate
from trailql.cli import EXIT_OK, main

START = datetime(2025, 3, 1, tzinfo=UTC)
DIGEST_KEY = re.compile(
    r"(?P<prefix>.*)AWSLogs/(?P<account>\d{12})/CloudTrail-Digest/(?P<region>[a-z0-9-]+)/"
    r"(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/(?P=account)_CloudTrail-Digest_(?P=region)_"
    r"(?P<trail>[A-Za-z0-9_.-]+)_us-east-1_(?P<end>\d{8}T\d{6}Z)(?P<backfill>_backfill)?\.json\.gz"
)
FIELDS = {
    "awsAccountId",
    "digestStartTime",
    "digestEndTime",
    "digestS3Bucket",
    "digestS3Object",
    "digestPublicKeyFingerprint",
    "digestSignatureAlgorithm",
    "newestEventTime",
    "oldestEventTime",
    "previousDigestS3Bucket",
    "previousDigestS3Object",
    "previousDigestHashValue",
    "previousDigestHashAlgorithm",
    "previousDigestSignature",
    "logFiles",
}
LOG_FILE_FIELDS = {
    "s3Bucket",
    "s3Object",
    "hashValue",
    "hashAlgorithm",
    "newestEventTime",
    "oldestEventTime",
}


@pytest.fixture(scope="module")
def trail(tmp_path_factory) -> tuple[Path, dict[str, Any]]:
    root = tmp_path_factory.mktemp("digests")
    made = generate(
        root / "out",
        events=200,
        seed=5,
        start=START,
        days=1,
        digests=DigestOptions(
            signing_key=root / "key.pem",
            bucket="audit-bucket",
            prefix="org/",
            backfill_hours=1,
            pauses=((START + timedelta(hours=6), START + timedelta(hours=8)),),
        ),
    )
    assert made.public_keys is not None
    assert made.digests == sum(1 for _ in (root / "out").rglob("*CloudTrail-Digest*.json.gz"))
    return root / "out", made.public_keys


def _public_key(keys: dict[str, Any]) -> rsa.RSAPublicKey:
    [entry] = keys["PublicKeyList"]
    loaded = serialization.load_der_public_key(base64.b64decode(entry["Value"]))
    assert isinstance(loaded, rsa.RSAPublicKey)
    assert (
        entry["Fingerprint"]
        == hashlib.md5(base64.b64decode(entry["Value"]), usedforsecurity=False).hexdigest()
    )
    return loaded


def test_digests_are_laid_out_filled_in_chained_and_signed_as_cloudtrail_s(trail):
    out, keys = trail
    public_key = _public_key(keys)
    digests = sorted(p for p in out.rglob("*.json.gz") if "CloudTrail-Digest" in p.parts)
    assert len(digests) > 9 * 20
    previous: dict[tuple[str, str], tuple[str, str, str]] = {}
    for path in digests:
        relative = path.relative_to(out).as_posix()
        match = DIGEST_KEY.fullmatch("org/" + relative)
        assert match is not None, relative
        raw = gzip.decompress(path.read_bytes())
        content = json.loads(raw)
        assert set(content) == FIELDS
        end = datetime.strptime(match["end"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        assert content["digestEndTime"] == f"{end:%Y-%m-%dT%H:%M:%SZ}"
        assert (match["y"], match["m"], match["d"]) == (f"{end:%Y}", f"{end:%m}", f"{end:%d}")
        assert content["digestS3Bucket"] == "audit-bucket"
        assert content["digestS3Object"] == "org/" + relative
        assert content["awsAccountId"] == match["account"]
        assert content["digestSignatureAlgorithm"] == "SHA256withRSA"
        assert content["digestPublicKeyFingerprint"] == keys["PublicKeyList"][0]["Fingerprint"]
        for listed in content["logFiles"]:
            assert set(listed) == LOG_FILE_FIELDS
            data = gzip.decompress((out / listed["s3Object"].removeprefix("org/")).read_bytes())
            assert listed["hashValue"] == hashlib.sha256(data).hexdigest()
            assert listed["hashAlgorithm"] == "SHA-256"
        sha256 = hashlib.sha256(raw).hexdigest()
        signature = path.with_name(path.name + ".sig").read_text().strip()
        chained = content["previousDigestSignature"] or "null"
        signed = f"{content['digestEndTime']}\naudit-bucket/{content['digestS3Object']}\n"
        public_key.verify(
            bytes.fromhex(signature),
            f"{signed}{sha256}\n{chained}".encode(),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
        if match["backfill"]:
            assert content["previousDigestS3Object"] is None
            continue
        chain = (match["account"], match["region"])
        if content["previousDigestS3Object"] is not None:
            key, hashed, signed_before = previous[chain]
            assert content["previousDigestS3Object"] == key
            assert content["previousDigestHashValue"] == hashed
            assert content["previousDigestHashAlgorithm"] == "SHA-256"
            assert content["previousDigestSignature"] == signed_before
        previous[chain] = (content["digestS3Object"], sha256, signature)


def test_a_pause_has_no_files_and_no_digests_and_the_next_digest_starts_a_chain(trail):
    out, _ = trail
    restarts = []
    for path in out.rglob("*CloudTrail-Digest*.json.gz"):
        content = json.loads(gzip.decompress(path.read_bytes()))
        start = datetime.fromisoformat(content["digestStartTime"])
        assert not START + timedelta(hours=6) <= start < START + timedelta(hours=7)
        if content["previousDigestS3Object"] is None and not path.name.endswith(
            "_backfill.json.gz"
        ):
            restarts.append(start)
    # Each account and region: its first digest, then the first after the pause.
    assert max(restarts) == START + timedelta(hours=7, seconds=31)
    for path in out.rglob("*_CloudTrail_*.json.gz"):
        stamp = datetime.strptime(path.name.split("_")[3], "%Y%m%dT%H%MZ").replace(tzinfo=UTC)
        assert not START + timedelta(hours=6) <= stamp < START + timedelta(hours=8)


def test_the_same_seed_and_key_give_the_same_digests(trail, tmp_path):
    out, _ = trail
    again = generate(
        tmp_path / "again",
        events=200,
        seed=5,
        start=START,
        days=1,
        digests=DigestOptions(
            signing_key=out.parent / "key.pem",
            bucket="audit-bucket",
            prefix="org/",
            backfill_hours=1,
            pauses=((START + timedelta(hours=6), START + timedelta(hours=8)),),
        ),
    )
    assert again.digests > 0
    first = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    second = {
        p.relative_to(tmp_path / "again"): p.read_bytes()
        for p in (tmp_path / "again").rglob("*")
        if p.is_file()
    }
    assert first == second


def test_the_command_writes_signed_digests_that_verify(tmp_path, capsys):
    key = tmp_path / "key.pem"
    out = tmp_path / "out"
    arguments = ["generate", str(out), "--events", "50", "--digests", "--signing-key", str(key)]
    assert main(arguments) == EXIT_OK
    assert key.exists()
    public_keys = tmp_path / "key.public-keys.json"
    assert json.loads(public_keys.read_text())["PublicKeyList"]
    assert "digest files signed with" in capsys.readouterr().err
    assert main(["verify", str(out), "--public-keys", str(public_keys)]) == EXIT_OK
    assert main(["generate", str(out), "--signing-key", str(key)]) == 2  # without --digests
