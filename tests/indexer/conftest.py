"""Fixtures of the continuous-ingestion tests: a small generated trail, state cleanup.

``aws``, ``names`` and ``trail_100k`` are in tests/conftest.py: the cluster tests use them too.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from common.indices import state_index
from generator import generate
from tests.indexer.continuous import (
    TrailObject,
    repack,
)


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
