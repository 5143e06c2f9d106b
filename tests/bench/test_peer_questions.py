from typing import Any

import orjson
import pytest

from bench.peer_questions import (
    PEER_SELECTION,
    Answer,
    DisagreementError,
    Question,
    agreed,
    questions,
)
from bench.query_set import EVENT_SELECTION

BOUNDS = {"min": 1740787200000, "max": 1743465599999}


def _asked() -> dict[str, Question]:
    return {one.key: one for one in questions("trailql-x", {"x-api-key": "k"}, {}, BOUNDS)}


def _sent_body(question: Question, side: str) -> Any:
    body = question.requests[side].body
    assert body is not None
    return orjson.loads(body)


def test_the_three_sides_answers_are_read_down_to_the_same_page():
    q1 = _asked()["q1"]
    trailql = {"data": {"events": {"totalCount": 2, "nodes": [{"eventID": "b"}, {"eventID": "a"}]}}}
    peer = {
        "data": {
            "events": {
                "count": 2,
                "hits": [{"_source": {"eventID": "b"}}, {"_source": {"eventID": "a"}}],
            }
        }
    }
    raw = {
        "hits": {
            "total": {"value": 2},
            "hits": [{"_source": {"eventID": "b"}}, {"_source": {"eventID": "a"}}],
        }
    }
    answers = {
        side: q1.readers[side](orjson.dumps(answer))
        for side, answer in (("trailql", trailql), ("peer", peer), ("raw", raw))
    }
    assert agreed(q1.label, answers) == Answer(2, ("b", "a"))


def test_timeline_starts_compare_as_instants_whatever_their_spelling():
    q2 = _asked()["q2"]
    trailql = {
        "data": {
            "eventStats": {
                "count": 3,
                "terms": [{"key": "GetLogEvents", "count": 3}],
                "timeline": {"buckets": [{"start": "2025-03-01T00:00:00+00:00", "count": 3}]},
            }
        }
    }
    aggregations = {
        "names": {"buckets": [{"key": "GetLogEvents", "doc_count": 3}]},
        "timeline": {
            "buckets": [
                {"key_as_string": "2025-03-01T00:00:00.000Z", "key": 1740787200000, "doc_count": 3}
            ]
        },
    }
    peer = {"data": {"events": {"count": 3, "aggregations": aggregations}}}
    raw = {"hits": {"total": {"value": 3}}, "aggregations": aggregations}
    answers = {
        side: q2.readers[side](orjson.dumps(answer))
        for side, answer in (("trailql", trailql), ("peer", peer), ("raw", raw))
    }
    assert agreed(q2.label, answers).timeline == ((1740787200000, 3),)


def test_the_same_events_in_another_order_stop_the_run():
    answers = {
        "trailql": Answer(2, ("b", "a")),
        "peer": Answer(2, ("a", "b")),
        "raw": Answer(2, ("b", "a")),
    }
    with pytest.raises(DisagreementError, match=r"peer's answer.*event_ids differ at item 0"):
        agreed("Q1", answers)


def test_a_different_total_stops_the_run():
    answers = {
        "trailql": Answer(3, ("b", "a")),
        "peer": Answer(3, ("b", "a")),
        "raw": Answer(2, ("b", "a")),
    }
    with pytest.raises(DisagreementError, match=r"raw's answer.*total 3 against 2"):
        agreed("Q1", answers)


def test_agreeing_on_no_event_stops_the_run():
    nothing = Answer(0)
    with pytest.raises(DisagreementError, match="matches no event"):
        agreed("Q3", {"trailql": nothing, "peer": nothing, "raw": nothing})


def test_the_peer_selects_every_field_but_principal():
    assert PEER_SELECTION.split() == [
        word for word in EVENT_SELECTION.split() if word != "principal"
    ]
    assert "principal" in EVENT_SELECTION.split()


def test_the_filtered_page_asks_the_peer_and_elasticsearch_the_same_filter():
    q3 = _asked()["q3"]
    peer_query = _sent_body(q3, "peer")["variables"]["query"]
    raw_query = _sent_body(q3, "raw")["query"]
    assert peer_query == {
        "bool": {
            "filter": [
                {"term": {"readOnly": {"value": False}}},
                {"terms": {"awsRegion": ["us-east-1", "eu-west-1"]}},
                {"terms": {"userIdentity__type": ["AssumedRole"]}},
            ]
        }
    }
    assert raw_query == {
        "bool": {
            "filter": [
                {"term": {"readOnly": {"value": False}}},
                {"terms": {"awsRegion": ["us-east-1", "eu-west-1"]}},
                {"terms": {"userIdentity.type": ["AssumedRole"]}},
            ]
        }
    }
