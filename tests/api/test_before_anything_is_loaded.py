"""Before the first load the alias has no index: every question answers "nothing", not an error.

Elasticsearch answers a search of a missing alias with no hits and no aggregations at all;
each area must read that as the statistics of no events.
"""

from __future__ import annotations

from starlette.testclient import TestClient

from api.app import create_app
from common.elastic import Connection
from tests.helpers import graphql

QUESTIONS = """{
  event(id: "nope") { eventID }
  events(first: 5) { totalCount boundedCount { count exact } nodes { eventID } }
  newest: events(last: 5) { nodes { eventID } }
  eventStats {
    count errorRate distinct(field: PRINCIPAL)
    terms(field: EVENT_NAME) { key count }
    timeline(interval: DAY) { buckets { start count } }
    auto: timeline { interval buckets { count } }
  }
  logGroups { totalCount nodes { name } }
  logGroup(name: "/aws/lambda/none") { name }
  findings(first: 5) { totalCount nodes { id } }
  findingStats { count }
}"""

NOTHING: dict[str, object] = {
    "event": None,
    "events": {"totalCount": 0, "boundedCount": {"count": 0, "exact": True}, "nodes": []},
    "newest": {"nodes": []},
    "eventStats": {
        "count": 0,
        "errorRate": None,
        "distinct": 0,
        "terms": [],
        "timeline": {"buckets": []},
        "auto": {"interval": "1M", "buckets": []},  # no range to fit: a month
    },
    "logGroups": {"totalCount": 0, "nodes": []},
    "logGroup": None,
    "findings": {"totalCount": 0, "nodes": []},
    "findingStats": {"count": 0},
}


def test_every_area_answers_nothing_over_an_alias_not_yet_created(
    es_connection: Connection, alias: str
) -> None:
    with TestClient(create_app(es_connection, alias)) as client:
        assert graphql(client, QUESTIONS) == NOTHING
