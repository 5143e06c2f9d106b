"""``trailql verify`` over generated trails, tampered with in every way the issue names.

Each case runs three ways: a folder with each digest's signature beside it, the same folder
offline (no signatures: the newest digest of each chain, and backfills, cannot be verified),
and moto's S3 with the signatures in the objects' metadata. The expected verdicts are worked
out from the files (tests/integrity/trails.py), not by the code under test.
"""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from common.layout import DayRange
from generator import DigestOptions, generate
from integrity import FixedKeys, KeySource, Report, keys_of_listing, take_inventory, verify
from tests.integrity.trails import (
    Expected,
    FolderTrail,
    PristineFiles,
    S3Trail,
    Trail,
    a_digest_with_files,
    chain,
    digest_field,
    gunzip_json,
    is_backfill,
    is_digest,
    listed_keys,
    neighbours,
    now,
    offline,
    untouched,
    verdicts,
)
from tests.samples import SAMPLES
from trailql.cli import EXIT_INCOMPLETE, EXIT_OK, main

EVENTS = 100
SEED = 1111
START = datetime(2025, 3, 1, tzinfo=UTC)
ACCOUNT, REGION = "123456789012", "us-east-1"  # the generator's shared-services account
MODES = ("folder", "offline", "s3")


@dataclass(frozen=True)
class Pristine:
    """A generated trail, never touched, and the keys that verify it."""

    folder: Path
    keys: KeySource
    key_list: dict[str, Any]
    files: PristineFiles


def _generate(root: Path, name: str, **options: Any) -> Pristine:
    folder = root / name
    trail = generate(
        folder,
        events=EVENTS,
        seed=SEED,
        start=START,
        days=1,
        digests=DigestOptions(signing_key=root / "signing-key.pem", **options),
    )
    assert trail.public_keys is not None
    keys = FixedKeys(keys_of_listing(trail.public_keys))
    return Pristine(folder, keys, trail.public_keys, PristineFiles(folder))


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> dict[str, Pristine]:
    root = tmp_path_factory.mktemp("pristine")
    pause = (START + timedelta(hours=9), START + timedelta(hours=12))
    return {
        "plain": _generate(root, "plain", backfill_hours=1),
        "paused": _generate(root, "paused", pauses=(pause,)),
        "forged": _generate(root, "forged", other_key_digests=frozenset({4})),
    }


@pytest.fixture(scope="module")
def s3_client(moto_endpoint) -> Any:
    return boto3.session.Session(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106  moto takes any
        region_name="us-east-1",
    ).client("s3", endpoint_url=moto_endpoint)


Make = Callable[[str], tuple[Trail, KeySource, PristineFiles]]


@pytest.fixture(params=MODES)
def mode(request) -> str:
    return str(request.param)


@pytest.fixture
def make(mode, pristine, s3_client, tmp_path) -> Iterator[Make]:
    with ExitStack() as cleanup:

        def made(name: str) -> tuple[Trail, KeySource, PristineFiles]:
            source = pristine[name]
            if mode == "s3":
                trail: Trail = cleanup.enter_context(S3Trail(source.folder, s3_client))
            else:
                trail = FolderTrail(source.folder, tmp_path / name, signatures=mode == "folder")
            return trail, source.keys, source.files

        yield made


def _verify(trail: Trail, keys: KeySource, s3_client: Any) -> Report:
    inventory = take_inventory(trail.sources, DayRange(), s3=s3_client)
    return verify(inventory, keys, now=now())


def _expect(mode: str, trail: Trail, expected: Expected) -> Expected:
    return offline(trail, expected) if mode == "offline" else expected


def _check(report: Report, expected: Expected) -> None:
    found = verdicts(report)
    assert found.digests == expected.digests
    assert found.files == expected.files
    assert found.gaps == expected.gaps


def test_an_untouched_trail_is_all_valid(make, mode, s3_client):
    trail, keys, facts = make("plain")
    expected = untouched(facts)
    assert len(expected.files) > 50
    assert len(expected.digests) > 9 * 24  # a digest an hour per account and region
    report = _verify(trail, keys, s3_client)
    _check(report, _expect(mode, trail, expected))
    assert report.clean  # unverifiable and not yet covered are reported, but fail nothing


def test_an_hour_with_no_files_has_a_digest_listing_none(make, mode, s3_client):
    trail, keys, facts = make("plain")
    empty = [k for k in facts.listing() if is_digest(k) and not listed_keys(facts, k)]
    assert len(empty) > 9  # a quiet trail: most hours of most accounts deliver nothing
    report = _verify(trail, keys, s3_client)
    found = verdicts(report).digests
    expected = _expect(mode, trail, untouched(facts)).digests
    assert {k: found[k] for k in empty} == {k: expected[k] for k in empty}
    assert {found[k] for k in empty} <= {"valid", "unverifiable"}


def test_backfill_digests_vouch_for_the_files_they_list(make, mode, s3_client):
    trail, keys, facts = make("plain")
    backfills = [k for k in facts.listing() if is_backfill(k)]
    assert backfills
    late = [f for k in backfills for f in listed_keys(facts, k)]
    report = _verify(trail, keys, s3_client)
    files, digests = verdicts(report).files, verdicts(report).digests
    if mode == "offline":  # no later digest carries a backfill's signature
        assert {digests[k] for k in backfills} == {"unverifiable"}
        assert {files[f] for f in late} == {"not_yet_covered"}
    else:
        assert {digests[k] for k in backfills} == {"valid"}
        assert {files[f] for f in late} == {"valid"}


def _edited(data: bytes) -> bytes:
    content = json.loads(gzip.decompress(data))
    content["Records"][0]["sourceIPAddress"] = "203.0.113.66"
    return gzip.compress(json.dumps(content).encode(), mtime=0)


def test_a_record_edited_inside_a_gzip_file_makes_it_modified(make, mode, s3_client):
    trail, keys, facts = make("plain")
    expected = untouched(facts)
    victim = listed_keys(facts, a_digest_with_files(facts, ACCOUNT, REGION))[0]
    trail.write(victim, _edited(trail.read(victim)))
    expected.files[victim] = "modified"
    report = _verify(trail, keys, s3_client)
    _check(report, _expect(mode, trail, expected))
    assert not report.clean


def test_a_deleted_file_is_missing(make, mode, s3_client):
    trail, keys, facts = make("plain")
    expected = untouched(facts)
    victim = listed_keys(facts, a_digest_with_files(facts, ACCOUNT, REGION))[0]
    trail.delete(victim)
    expected.files[victim] = "missing"
    report = _verify(trail, keys, s3_client)
    _check(report, _expect(mode, trail, expected))
    assert not report.clean


def test_a_file_no_digest_lists_is_unlisted_or_not_yet_covered(make, mode, s3_client):
    trail, keys, facts = make("plain")
    expected = untouched(facts)
    records = gzip.compress(b'{"Records": []}', mtime=0)
    covered = (
        f"AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/2025/03/01/"
        f"{ACCOUNT}_CloudTrail_{REGION}_20250301T1017Z_planted00000000.json.gz"
    )
    recent = datetime.now(UTC) - timedelta(minutes=5)
    fresh = (
        f"AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/{recent:%Y/%m/%d}/"
        f"{ACCOUNT}_CloudTrail_{REGION}_{recent:%Y%m%dT%H%MZ}_planted00000001.json.gz"
    )
    for key in (covered, fresh):
        trail.write(key, records)
    expected.files |= {covered: "unlisted", fresh: "not_yet_covered"}
    report = _verify(trail, keys, s3_client)
    _check(report, _expect(mode, trail, expected))


def test_an_edited_digest_is_modified_and_vouches_for_nothing(make, mode, s3_client):
    trail, keys, facts = make("plain")
    expected = untouched(facts)
    victim = a_digest_with_files(facts, ACCOUNT, REGION)
    content = gunzip_json(trail.read(victim))
    content["newestEventTime"] = "2025-03-01T23:59:59Z"
    trail.write(victim, gzip.compress(json.dumps(content).encode(), mtime=0))
    expected.digests[victim] = "modified"
    for listed in listed_keys(facts, victim):
        expected.files[listed] = "unlisted"
    report = _verify(trail, keys, s3_client)
    _check(report, _expect(mode, trail, expected))
    assert not report.clean


def test_a_deleted_digest_is_missing_and_leaves_a_gap(make, mode, s3_client):
    trail, keys, facts = make("plain")
    expected = untouched(facts)
    victim = a_digest_with_files(facts, ACCOUNT, REGION)
    before, after = neighbours(facts, victim)
    orphans = listed_keys(facts, victim)
    trail.delete(victim)
    del expected.digests[victim]
    expected.digests[victim] = "missing"
    for listed in orphans:
        expected.files[listed] = "unlisted"
    start = digest_field(facts, before, "digestEndTime")
    end = digest_field(facts, after, "digestStartTime")
    expected.gaps = {(after, "digest_missing", start, end)}
    report = _verify(trail, keys, s3_client)
    _check(report, _expect(mode, trail, expected))
    assert not report.clean


def test_a_digest_signed_with_another_key_is_refused(make, mode, s3_client):
    trail, keys, facts = make("forged")
    expected = untouched(facts)
    scopes = {(k.split("/")[1], k.split("/")[3]) for k in expected.digests}
    forged = {chain(facts, account, region)[4] for account, region in scopes}
    assert len(forged) == 9  # the fifth digest of each account and region
    for key in forged:
        expected.digests[key] = "signature_invalid"
        for listed in listed_keys(facts, key):
            expected.files[listed] = "unlisted"
    report = _verify(trail, keys, s3_client)
    _check(report, _expect(mode, trail, expected))
    assert not report.clean


def test_a_moved_digest_is_moved_and_vouches_for_nothing(make, mode, s3_client):
    trail, keys, facts = make("plain")
    expected = untouched(facts)
    victim = a_digest_with_files(facts, ACCOUNT, REGION)
    moved_to = victim.replace("/2025/03/01/", "/2025/03/02/")
    trail.move(victim, moved_to)
    del expected.digests[victim]
    expected.digests[moved_to] = "moved"
    for listed in listed_keys(facts, victim):
        expected.files[listed] = "unlisted"
    report = _verify(trail, keys, s3_client)
    _check(report, _expect(mode, trail, expected))  # the chain still holds: no gap
    assert not report.clean


def test_a_chain_restarted_after_a_gap_is_a_gap_and_nothing_fails(make, mode, s3_client):
    trail, keys, facts = make("paused")
    expected = untouched(facts)
    for key in expected.digests:
        if digest_field(facts, key, "previousDigestS3Object") is not None:
            continue
        digests = chain(facts, key.split("/")[1], key.split("/")[3])
        position = digests.index(key)
        if position == 0:
            continue  # the first digest of all starts its chain, after nothing
        start = digest_field(facts, digests[position - 1], "digestEndTime")
        end = digest_field(facts, key, "digestStartTime")
        expected.gaps.add((key, "restarted", start, end))
    assert len(expected.gaps) == 9  # one pause, every account and region
    assert {end for *_, end in expected.gaps} == {"2025-03-01T11:00:31Z"}
    report = _verify(trail, keys, s3_client)
    _check(report, _expect(mode, trail, expected))
    assert report.clean


def test_the_command_prints_each_problem_and_exits_1(pristine, tmp_path, capsys):
    trail = FolderTrail(pristine["plain"].folder, tmp_path / "trail", signatures=True)
    facts = pristine["plain"].files
    victim = listed_keys(facts, a_digest_with_files(facts, ACCOUNT, REGION))[0]
    trail.delete(victim)
    key_file = tmp_path / "keys.json"
    key_file.write_text(json.dumps(pristine["plain"].key_list))
    arguments = ["verify", str(trail.root), "--public-keys", str(key_file)]
    assert main([*arguments, "--json"]) == EXIT_INCOMPLETE
    answer = json.loads(capsys.readouterr().out)
    assert answer["valid"] is False
    assert answer["files"]["missing"] == 1
    assert answer["problems"] == [
        {"file": victim, "kind": "missing", "detail": answer["problems"][0]["detail"]}
    ]
    assert main(arguments) == EXIT_INCOMPLETE
    assert f"missing {victim}: listed in" in capsys.readouterr().err.replace("\n", "")


def test_the_command_exits_0_when_everything_checked_is_valid(pristine, tmp_path, capsys):
    key_file = tmp_path / "keys.json"
    key_file.write_text(json.dumps(pristine["plain"].key_list))
    folder = str(pristine["plain"].folder)
    assert main(["verify", folder, "--public-keys", str(key_file)]) == EXIT_OK
    # Only some days: the digests before the first day are not looked for.
    since = ["--since", "2025-03-02", "--json"]
    assert main(["verify", folder, "--public-keys", str(key_file), *since]) == EXIT_OK
    answer = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert answer["problems"] == []
    assert set(answer["digests"]) == {"valid"}


def test_the_sample_corpus_is_all_unlisted(capsys):
    expected = sum(
        1
        for path in SAMPLES.rglob("*")
        if path.is_file() and path.name.endswith((".json", ".json.gz"))
    )
    assert main(["verify", str(SAMPLES), "--json"]) == EXIT_INCOMPLETE
    answer = json.loads(capsys.readouterr().out)
    assert answer["files"] == {"unlisted": expected}
    assert answer["digests"] == {}
    assert answer["gaps"] == []


def test_a_missing_folder_or_key_file_is_an_error_not_a_trace(tmp_path, capsys):
    assert main(["verify", str(tmp_path / "nowhere")]) == 2
    assert "no such folder" in capsys.readouterr().err
    bad_keys = tmp_path / "keys.json"
    bad_keys.write_text('{"PublicKeyList": [{"Fingerprint": "x", "Value": "not base64!"}]}')
    assert main(["verify", str(tmp_path), "--public-keys", str(bad_keys)]) == 2
    assert "Value is not base64" in capsys.readouterr().err


def test_generate_uploads_to_s3_with_signatures_as_metadata_and_verify_agrees(
    moto_endpoint, s3_client, tmp_path, monkeypatch, capsys
):
    for name, value in {
        "AWS_ENDPOINT_URL_S3": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    bucket = f"generated-{uuid.uuid4().hex[:10]}"
    s3_client.create_bucket(Bucket=bucket)
    key = tmp_path / "key.pem"
    target = f"s3://{bucket}/org-trail"
    arguments = ["generate", target, "--events", "40", "--digests", "--signing-key", str(key)]
    assert main(arguments) == EXIT_OK
    listed = s3_client.list_objects_v2(Bucket=bucket)["Contents"]
    digests = [o["Key"] for o in listed if "/CloudTrail-Digest/" in o["Key"]]
    assert digests
    assert all(o["Key"].startswith("org-trail/AWSLogs/") for o in listed)
    assert not any(o["Key"].endswith(".sig") for o in listed)
    metadata = s3_client.head_object(Bucket=bucket, Key=digests[0])["Metadata"]
    assert set(metadata) == {"signature", "signature-algorithm"}
    content = gunzip_json(s3_client.get_object(Bucket=bucket, Key=digests[0])["Body"].read())
    assert (content["digestS3Bucket"], content["digestS3Object"]) == (bucket, digests[0])
    capsys.readouterr()
    public_keys = str(tmp_path / "key.public-keys.json")
    assert main(["verify", f"{target}/", "--public-keys", public_keys, "--json"]) == EXIT_OK
    answer = json.loads(capsys.readouterr().out)
    assert set(answer["digests"]) == {"valid"}
    assert answer["files"]["valid"] == len(listed) - len(digests)
