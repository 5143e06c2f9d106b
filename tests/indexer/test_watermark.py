"""The indexed time each event carries, and what a pipeline tells live subscriptions.

Live subscriptions follow ``trailql.indexedAt`` and read, from ``<alias>_writers``, the
earliest stamp a running pipeline still has on its way (``indexer.watermark``).
"""

from __future__ import annotations

import time

from elasticsearch import Elasticsearch

from common.writers import PENDING_SINCE, writers_index
from indexer.run import index_sources
from indexer.watermark import Watermark
from schema import event_mapping, index_template
from schema.paths import INDEXED_AT
from tests.samples import SIGMA, records_of, sigma_files


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def test_every_event_carries_the_time_it_was_indexed_searchable_not_stored(
    es: Elasticsearch, alias
):
    before = _now_ms()
    summary = index_sources([str(SIGMA)], client=es, alias=alias)
    after = _now_ms()
    assert summary.clean
    expected = sum(len(records_of(path)) for path in sigma_files())
    response = es.search(
        index=alias,
        query={"range": {INDEXED_AT: {"gte": before, "lte": after, "format": "epoch_millis"}}},
        size=1,
        track_total_hits=True,
    )
    assert response["hits"]["total"]["value"] == expected
    assert "trailql" not in response["hits"]["hits"][0]["_source"]


def test_an_index_an_older_trailql_made_gets_the_indexed_time_too(es: Elasticsearch, alias):
    old_mapping = event_mapping()
    del old_mapping["properties"]["trailql"]["properties"]["indexedAt"]
    template = index_template(alias)
    template["template"]["mappings"] = old_mapping
    es.indices.put_index_template(name=alias, **template)
    es.indices.create(index=f"{alias}-2023.07")  # the month most samples fall in
    assert "indexedAt" not in _derived_mapping(es, f"{alias}-2023.07")

    summary = index_sources([str(SIGMA)], client=es, alias=alias)

    assert summary.clean
    assert "indexedAt" in _derived_mapping(es, f"{alias}-2023.07")
    in_july = es.count(index=f"{alias}-2023.07")["count"]
    with_time = es.count(index=f"{alias}-2023.07", query={"exists": {"field": INDEXED_AT}})
    assert in_july > 0
    assert with_time["count"] == in_july


def _derived_mapping(es: Elasticsearch, index: str) -> dict[str, object]:
    mapping = es.indices.get_mapping(index=index)[index]["mappings"]
    return dict(mapping["properties"]["trailql"]["properties"])


def _pending(es: Elasticsearch, alias: str) -> list[object]:
    response = es.options(ignore_status=404).search(
        index=writers_index(alias), query={"match_all": {}}, size=10
    )
    return [hit["_source"][PENDING_SINCE] for hit in response.get("hits", {}).get("hits", [])]


def test_a_pipeline_publishes_its_pending_stamp_before_stamping_and_clears_it_after(
    es: Elasticsearch, alias
):
    with Watermark(es, alias, settle_every=3600) as watermark:
        assert _pending(es, alias) == []
        body, first = watermark.stamp(b'{"x":\x00}')
        assert body == b'{"x":%d}' % first
        # Published, and visible to a search, before the stamp was handed out.
        [pending] = _pending(es, alias)
        assert isinstance(pending, int)
        assert pending <= first
        _, second = watermark.stamp(b"\x00")
        assert second >= first
        watermark.done(first)
        watermark.settle()
        assert _pending(es, alias) == [second]  # the first is answered; the second is not
        watermark.done(second)
        watermark.settle()
        assert _pending(es, alias) == [None]  # nothing on its way
        _, third = watermark.stamp(b"\x00")
        [again] = _pending(es, alias)  # busy again: published before stamping
        assert isinstance(again, int)
        assert second <= again <= third
        watermark.done(third)
    assert _pending(es, alias) == []  # gone with the pipeline


def test_after_a_run_no_pipeline_is_left_pending(es: Elasticsearch, alias):
    summary = index_sources([str(SIGMA)], client=es, alias=alias)
    assert summary.clean
    assert es.indices.exists(index=writers_index(alias))
    assert _pending(es, alias) == []
