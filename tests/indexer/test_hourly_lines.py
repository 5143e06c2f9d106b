"""The count documents' ``_bulk`` lines, written without a dict per line, as orjson writes them."""

from __future__ import annotations

import orjson
import pytest

from indexer.hourly import _action, _action_opening, _count_document, _document_id
from schema.hourly import COUNTED_PATHS


@pytest.mark.parametrize(
    "index", ["trailql_hours-2025.03", "ünïcode_hours-2025.03", "a.b-c_hours-1"]
)
@pytest.mark.parametrize("events", [1, 37, 2**40])
def test_an_action_line_is_what_orjson_writes_for_its_dict(index, events):
    document_id = _document_id(1_740_787_200_000, ["logs.amazonaws.com", None, True, 5])
    expected = orjson.dumps(
        {
            "index": {
                "_index": index,
                "_id": document_id,
                "version": events,
                "version_type": "external",
            }
        }
    )
    assert _action(_action_opening(index), document_id, events) == expected


def test_a_count_document_nests_each_counted_path_and_leaves_out_missing_values():
    key: dict[str, object] = {path: f"v{number}" for number, path in enumerate(COUNTED_PATHS)}
    key[COUNTED_PATHS[0]] = None
    document = _count_document(7, key, 3)
    assert (document["eventTime"], document["events"], document["_doc_count"]) == (7, 3, 3)
    for number, path in enumerate(COUNTED_PATHS):
        holder: object = document
        for part in path.split("."):
            holder = holder.get(part) if isinstance(holder, dict) else None
        assert holder == (None if number == 0 else f"v{number}"), path
