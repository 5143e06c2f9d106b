"""Loading trail files from S3, served by moto's server mode over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest

from tests.samples import SIGMA, STRATUS, records_of, sigma_files
from trailql.cli import EXIT_OK, main

BUCKET = "trail-bucket"
PREFIX = "org-trail/"
STRATUS_ACCOUNT = "111122223333"


@pytest.fixture
def bucket(moto_endpoint, monkeypatch) -> Iterator[dict[str, set[str]]]:
    """The samples uploaded in CloudTrail's layout; eventIDs by day folder."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    ids_by_day: dict[str, set[str]] = {}
    for path in sigma_files():
        key = PREFIX + path.relative_to(SIGMA).as_posix()
        s3.upload_file(str(path), BUCKET, key)
        ids_by_day.setdefault("2023-07-10", set()).update(r["eventID"] for r in records_of(path))
    # The stratus files, spread over five day folders of another account.
    for number, path in enumerate(sorted(STRATUS.glob("*.json"))):
        day = f"2024-11-0{number % 5 + 1}"
        folder = day.replace("-", "/")
        key = f"{PREFIX}AWSLogs/{STRATUS_ACCOUNT}/CloudTrail/eu-west-1/{folder}/{path.name}"
        s3.upload_file(str(path), BUCKET, key)
        ids_by_day.setdefault(day, set()).update(r["eventID"] for r in records_of(path))
    digest = f"{PREFIX}AWSLogs/{STRATUS_ACCOUNT}/CloudTrail-Digest/eu-west-1/2024/11/02/d.json.gz"
    s3.put_object(Bucket=BUCKET, Key=digest, Body=b"not events")
    yield ids_by_day
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=BUCKET, Key=item["Key"])
    s3.delete_bucket(Bucket=BUCKET)


def _indexed_ids(es, alias: str) -> set[str]:
    es.indices.refresh(index=alias, ignore_unavailable=True, allow_no_indices=True)
    hits = es.search(
        index=alias, size=10_000, source=False, ignore_unavailable=True, allow_no_indices=True
    )["hits"]["hits"]
    return {hit["_id"] for hit in hits}


@pytest.mark.parametrize("parse_workers", ["1", "2"])
def test_a_prefix_loads_every_trail_file(es, alias, bucket, monkeypatch, parse_workers):
    """Also with worker processes parsing: the objects go to them as downloaded."""
    monkeypatch.setenv("TRAILQL_INDEX", alias)
    arguments = ["index", "--parse-workers", parse_workers, f"s3://{BUCKET}/{PREFIX}"]
    assert main(arguments) == EXIT_OK
    assert _indexed_ids(es, alias) == set().union(*bucket.values())
    assert len(_indexed_ids(es, alias)) == 3210


def test_since_and_until_select_day_folders(es, alias, bucket, monkeypatch):
    monkeypatch.setenv("TRAILQL_INDEX", alias)
    uri = f"s3://{BUCKET}/{PREFIX}"
    assert main(["index", uri, "--since", "2024-11-02", "--until", "2024-11-03"]) == EXIT_OK
    assert _indexed_ids(es, alias) == bucket["2024-11-02"] | bucket["2024-11-03"]


def test_one_day_of_the_delivered_sigma_files(es, alias, bucket, monkeypatch):
    monkeypatch.setenv("TRAILQL_INDEX", alias)
    uri = f"s3://{BUCKET}/{PREFIX}AWSLogs/"
    assert main(["index", uri, "--since", "2023-07-10", "--until", "2023-07-10"]) == EXIT_OK
    assert _indexed_ids(es, alias) == bucket["2023-07-10"]
    assert len(bucket["2023-07-10"]) == 2900


@pytest.mark.usefixtures("bucket")
def test_days_outside_every_folder_load_nothing(es, alias, monkeypatch):
    monkeypatch.setenv("TRAILQL_INDEX", alias)
    assert main(["index", f"s3://{BUCKET}/{PREFIX}", "--since", "2025-01-01"]) == EXIT_OK
    assert _indexed_ids(es, alias) == set()


def test_a_missing_bucket_is_reported(alias, moto_endpoint, monkeypatch, capsys):
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("TRAILQL_INDEX", alias)
    assert main(["index", "s3://no-such-bucket/AWSLogs/"]) != EXIT_OK
    assert "s3://no-such-bucket/AWSLogs/: " in capsys.readouterr().err
