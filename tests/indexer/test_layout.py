"""``TRAILQL_SHARDS`` and ``TRAILQL_REPLICAS`` shape the monthly indices ``trailql index`` makes."""

from __future__ import annotations

import pytest

from tests.samples import records_of, sigma_files
from trailql.cli import EXIT_OK, main


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({}, {"number_of_shards": "2", "auto_expand_replicas": "0-1"}),
        (
            {"TRAILQL_SHARDS": "2", "TRAILQL_REPLICAS": "0"},
            {"number_of_shards": "2", "number_of_replicas": "0", "auto_expand_replicas": "false"},
        ),
    ],
    ids=["default", "set"],
)
def test_the_layout_asked_for_is_the_layout_made(  # noqa: PLR0917
    es, es_connection, alias, monkeypatch, environment, expected
):
    sample = sigma_files()[0]
    months = {record["eventTime"][:7].replace("-", ".") for record in records_of(sample)}
    for name, value in es_connection.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TRAILQL_INDEX", alias)
    monkeypatch.setenv("TRAILQL_SHARDS", "2")  # the default layout but for this
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    if not environment:
        monkeypatch.delenv("TRAILQL_REPLICAS", raising=False)

    assert main(["index", str(sample)]) == EXIT_OK

    settings = es.indices.get_settings(index=f"{alias}-*")
    assert sorted(settings) == sorted(f"{alias}-{month}" for month in months)
    for index in settings.values():
        made = index["settings"]["index"]
        assert {key: made.get(key) for key in expected} == expected
