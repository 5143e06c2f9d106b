"""The data the guides are written over: the sample trails and a small generated trail.

The samples hold real CloudWatch Logs calls but few of them (no subscription filter, export or
read of log contents); the generated trail (2,000 events, seed 11, as `trailql generate` writes
it) holds every kind. Both are indexed behind one alias, as scripts/demo indexes them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from starlette.testclient import TestClient

from api.app import create_app
from common.elastic import Connection
from generator import generate
from indexer.run import index_sources
from tests.api.log_group_files import read_trail
from tests.helpers import drop_alias
from tests.samples import SAMPLES, read_sample_records

GENERATED_EVENTS = 2000
GENERATED_SEED = 11


@dataclass(frozen=True)
class GuideData:
    alias: str
    records: list[dict[str, Any]]  # read back from the files with the standard library


@pytest.fixture(scope="session")
def guide_data(es: Elasticsearch, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GuideData]:
    folder: Path = tmp_path_factory.mktemp("guide-trail")
    generate(folder, events=GENERATED_EVENTS, seed=GENERATED_SEED)
    alias = f"trailql-guides-{uuid.uuid4().hex[:10]}"
    try:
        summary = index_sources([str(SAMPLES), str(folder)], client=es, alias=alias)
        assert summary.clean, summary
        yield GuideData(alias, read_sample_records() + read_trail(folder))
    finally:
        drop_alias(es, alias)


@pytest.fixture(scope="session")
def guides_api(es_connection: Connection, guide_data: GuideData) -> Iterator[TestClient]:
    with TestClient(create_app(es_connection, guide_data.alias)) as client:
        yield client
