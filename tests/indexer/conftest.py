"""Fixtures of the continuous-ingestion tests: moto over HTTP, generated trails, state cleanup."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from common.indices import state_index
from generator import generate
from tests.indexer.continuous import (
    REGION,
    TrailObject,
    repack,
)


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    """S3 and SQS clients, with the environment pointing every boto3 client at moto."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    session = boto3.session.Session()
    return session.client("s3"), session.client("sqs")


@pytest.fixture
def names() -> str:
    """A fresh bucket and queue name for one test (the moto server lives for the whole run)."""
    return f"trail-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def stateful_alias(es, alias: str) -> Iterator[str]:
    """The test's alias, with its state index removed afterwards too."""
    yield alias
    es.options(ignore_status=404).indices.delete(index=state_index(alias))


@pytest.fixture(scope="session")
def trail_40(tmp_path_factory: pytest.TempPathFactory) -> list[TrailObject]:
    """4,000 generated events in 40 files of 100; the first two with keys needing encoding."""
    root = tmp_path_factory.mktemp("trail-4k")
    generate(root / "generated", events=4_000, seed=40, days=1)
    return repack(root / "generated", root / "packed", events=4_000, files=40, odd_names=2)


@pytest.fixture(scope="session")
def trail_100k(tmp_path_factory: pytest.TempPathFactory) -> list[TrailObject]:
    """100,000 generated events in 250 files of 400, as a busy account's trail holds them.

    ``generate`` spreads one day over 2,468 small files; moto's S3 (about 15 ms a request on
    a busy two-core machine) would spend a minute just on those, so they are repacked.
    """
    root = tmp_path_factory.mktemp("trail-100k")
    generate(root / "generated", events=100_000, seed=100, days=1)
    return repack(root / "generated", root / "packed", events=100_000, files=250)
