"""The bulk writer on the real Elasticsearch: one bad document never fails the others."""

from __future__ import annotations

import orjson

from indexer.bulk import BulkResult, BulkWriter, Outcome
from indexer.indices import install_template

TIME = "2023-07-10T12:00:00Z"


def _event(event_id: str, **more: object) -> bytes:
    return orjson.dumps({"eventID": event_id, "eventTime": TIME, **more})


def _write(es, actions) -> dict[str, BulkResult[str]]:
    results: list[BulkResult[str]] = []
    with BulkWriter[str](es, results.append, max_bytes=1024 * 1024) as writer:
        for index, doc_id, document, operation in actions:
            writer.add(index, doc_id, document, doc_id[:40], operation=operation)
    assert len(results) == len(actions)
    return {result.action.tag: result for result in results}


def test_a_request_refused_whole_is_split_down_to_the_document_at_fault(es, alias):
    install_template(es, alias)
    index = f"{alias}-2023.07"
    good = [f"good-{n}" for n in range(9)]
    too_long = "x" * 600  # Elasticsearch refuses the whole request: an _id over 512 bytes
    ids = [*good[:4], too_long, *good[4:]]
    results = _write(es, [(index, i, _event(i), "create") for i in ids])

    refused = results[too_long[:40]]
    assert (refused.outcome, refused.status, refused.deferred) == (Outcome.REJECTED, 400, False)
    assert refused.reason is not None
    assert "id [" in refused.reason
    assert "is too long, must be no longer than 512 bytes" in refused.reason
    assert {i: results[i].outcome for i in good} == dict.fromkeys(good, Outcome.INDEXED)
    es.indices.refresh(index=index)
    assert es.count(index=index)["count"] == 9


def test_a_document_refused_alone_is_rejected_alone(es, alias):
    install_template(es, alias)
    index = f"{alias}-2023.07"
    actions = [
        (index, "before", _event("before"), "create"),
        (index, "empty-key", _event("empty-key", **{"": 1}), "create"),
        (index, "after", _event("after"), "create"),
    ]
    results = _write(es, actions)
    assert results["before"].outcome is Outcome.INDEXED
    assert results["after"].outcome is Outcome.INDEXED
    refused = results["empty-key"]
    assert (refused.outcome, refused.status) == (Outcome.REJECTED, 400)
    assert refused.reason is not None
    assert refused.reason.startswith("document_parsing_exception: ")
    assert "field name cannot be an empty string" in refused.reason


def test_create_index_and_delete_each_answer_as_they_should(es, alias):
    install_template(es, alias)
    index = f"{alias}-2023.07"
    first = _write(es, [(index, "a", _event("a"), "create"), (index, "b", _event("b"), "index")])
    assert {tag: r.outcome for tag, r in first.items()} == {
        "a": Outcome.INDEXED,
        "b": Outcome.INDEXED,
    }
    again = _write(
        es,
        [
            (index, "a", _event("a"), "create"),  # already stored: refused, so it is known
            (index, "b", _event("b", eventName="X"), "index"),  # overwritten
            (index, "c", None, "delete"),  # never stored
        ],
    )
    assert again["a"].outcome is Outcome.ALREADY_PRESENT
    assert again["b"].outcome is Outcome.INDEXED
    assert (again["c"].outcome, again["c"].status, again["c"].deferred) == (
        Outcome.REJECTED,
        404,
        False,
    )
    removed = _write(es, [(index, "b", None, "delete")])
    assert removed["b"].outcome is Outcome.INDEXED
    es.indices.refresh(index=index)
    assert [hit["_id"] for hit in es.search(index=index)["hits"]["hits"]] == ["a"]
