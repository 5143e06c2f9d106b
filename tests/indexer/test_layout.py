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


def test_settings_an_operator_adds_to_alias_at_custom_reach_every_new_month(
    es, es_connection, alias, monkeypatch
):
    """How an ILM policy gets onto the months on a distribution that has ILM (see README)."""
    sample = sigma_files()[0]
    for name, value in es_connection.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TRAILQL_INDEX", alias)
    custom = {"index.codec": "best_compression", "index.number_of_shards": 3}
    es.cluster.put_component_template(name=f"{alias}@custom", template={"settings": custom})
    try:
        assert main(["index", str(sample)]) == EXIT_OK
    finally:
        es.cluster.delete_component_template(name=f"{alias}@custom")
    for index in es.indices.get_settings(index=f"{alias}-*").values():
        made = index["settings"]["index"]
        assert made["codec"] == "best_compression"
        assert made["number_of_shards"] == "1"  # TrailQL's own layout wins over the custom one
