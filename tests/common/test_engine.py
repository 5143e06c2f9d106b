"""Telling engines apart, and what is translated for each (the engines themselves answer in
tests/engines/ and in the runs of scripts/test-engines)."""

from __future__ import annotations

import pytest
from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig, TransportApiResponse
from pydantic import ValidationError

from common.engine import Dialect, Engine, Server, UnsupportedEngineError, server_from_probe
from common.settings import ElasticsearchSettings
from schema.mapping import index_template

ELASTIC = {"x-elastic-product": "Elasticsearch"}
JSON9 = "application/vnd.elasticsearch+json; compatible-with=9"
NDJSON9 = "application/vnd.elasticsearch+x-ndjson; compatible-with=9"


def nodes(*versions: str) -> dict[str, object]:
    return {"nodes": {f"n{i}": {"version": v} for i, v in enumerate(versions)}}


def test_elasticsearch_is_told_by_its_product_header() -> None:
    assert server_from_probe(200, ELASTIC, nodes("9.3.2")) == Server(Engine.ELASTICSEARCH, "9.3.2")
    assert server_from_probe(200, ELASTIC, nodes("8.19.3")) == Server(
        Engine.ELASTICSEARCH, "8.19.3"
    )


def test_opensearch_sends_no_product_header() -> None:
    assert server_from_probe(200, {}, nodes("2.19.6")) == Server(Engine.OPENSEARCH, "2.19.6")


def test_the_oldest_node_of_a_rolling_upgrade_decides() -> None:
    oldest = server_from_probe(200, ELASTIC, nodes("9.3.2", "8.19.3", "9.0.0"))
    assert oldest == Server(Engine.ELASTICSEARCH, "8.19.3")


def test_without_the_right_to_read_nodes_elasticsearch_is_taken_as_9() -> None:
    assert server_from_probe(403, ELASTIC, {"error": "forbidden"}) == Server(
        Engine.ELASTICSEARCH, "9"
    )


@pytest.mark.parametrize(("status", "headers"), [(401, ELASTIC), (503, ELASTIC), (429, {})])
def test_an_answer_the_request_would_get_too_is_passed_on(
    status: int, headers: dict[str, str]
) -> None:
    assert server_from_probe(status, headers, {"error": "x"}) is None


@pytest.mark.parametrize(
    ("status", "headers", "body"),
    [(403, {}, {"error": "forbidden"}), (404, {}, {}), (200, ELASTIC, {"nodes": {}})],
)
def test_an_answer_that_cannot_tell_asks_for_the_setting(
    status: int, headers: dict[str, str], body: object
) -> None:
    with pytest.raises(UnsupportedEngineError) as refused:
        server_from_probe(status, headers, body)
    assert str(refused.value) == (
        f"cannot tell which engine this is: GET /_nodes/_local answered {status} without a "
        "version (credentials that may not read node information?); set ELASTICSEARCH_ENGINE "
        "to elasticsearch-9, elasticsearch-8 or opensearch-2 to say which"
    )


@pytest.mark.parametrize(
    ("headers", "version", "message"),
    [
        (ELASTIC, "7.17.29", "Elasticsearch 7.17.29 is not supported"),
        ({}, "1.3.20", "OpenSearch 1.3.20 is not supported"),
        (
            {},
            "7.10.2",
            "Elasticsearch 7.10.2 (older than 7.14, which names itself) is not supported",
        ),
    ],
)
def test_older_engines_are_refused_by_name(
    headers: dict[str, str], version: str, message: str
) -> None:
    with pytest.raises(UnsupportedEngineError) as refused:
        server_from_probe(200, headers, nodes(version))
    assert str(refused.value) == (f"{message}: TrailQL runs on Elasticsearch 8, 9 and OpenSearch 2")


def test_a_setting_names_an_engine_and_major() -> None:
    assert Server.named("opensearch-2") == Server(Engine.OPENSEARCH, "2")
    assert ElasticsearchSettings(engine=" OpenSearch-2 ").engine == "opensearch-2"
    assert ElasticsearchSettings().engine == "auto"
    with pytest.raises(ValidationError, match="use auto or one of elasticsearch-8"):
        ElasticsearchSettings(engine="solr-9")


def test_elasticsearch_9_is_asked_as_the_client_asks() -> None:
    dialect = Dialect(Server(Engine.ELASTICSEARCH, "9.3.2"))
    body: dict[str, object] = {"query": {"match_all": {}}}
    headers = {"accept": JSON9, "content-type": JSON9, "authorization": "Basic x"}
    assert dialect.request("POST", "/a/_search", headers, body) == ("/a/_search", headers, body)
    # So the transport hands such requests on untouched; every other dialect translates.
    assert dialect.passthrough
    assert not Dialect(Server(Engine.ELASTICSEARCH, "8.19.3")).passthrough
    assert not Dialect(Server(Engine.OPENSEARCH, "2.19.6")).passthrough


def test_elasticsearch_8_is_asked_in_its_own_media_type() -> None:
    dialect = Dialect(Server(Engine.ELASTICSEARCH, "8.19.3"))
    _, sent, _ = dialect.request(
        "POST", "/_bulk", {"Accept": JSON9, "Content-Type": NDJSON9, "x": JSON9}, b""
    )
    assert sent == {
        "Accept": "application/vnd.elasticsearch+json; compatible-with=8",
        "Content-Type": "application/vnd.elasticsearch+x-ndjson; compatible-with=8",
        "x": JSON9,
    }


OPENSEARCH = Dialect(Server(Engine.OPENSEARCH, "2.19.6"))


def test_opensearch_is_asked_in_plain_json() -> None:
    _, sent, _ = OPENSEARCH.request(
        "POST", "/_bulk", {"accept": JSON9, "content-type": NDJSON9}, b""
    )
    assert sent == {"accept": "application/json", "content-type": "application/x-ndjson"}


def test_opensearch_gets_flat_objects_and_component_templates_made_first() -> None:
    template = index_template("trail")
    target, _, sent = OPENSEARCH.request("PUT", "/_index_template/trail", {}, template)
    assert target == "/_index_template/trail"
    assert "ignore_missing_component_templates" not in sent
    assert sent["composed_of"] == ["trail@custom"]
    settings = sent["template"]["settings"]
    assert settings == {**template["template"]["settings"], "index.mapping.depth.limit": 300}
    original = template["template"]["mappings"]["properties"]
    properties = sent["template"]["mappings"]["properties"]
    assert properties["trailql"]["properties"]["requestParameters"] == {"type": "flat_object"}
    assert original["trailql"]["properties"]["requestParameters"]["type"] == "flattened"
    # Everything else as it was; a field named "type" is a field, not a mapping's type.
    assert properties["userIdentity"] == original["userIdentity"]
    assert properties["eventTime"] == original["eventTime"]
    assert OPENSEARCH.preliminaries("PUT", "/_index_template/trail", template) == [
        ("PUT", "/_component_template/trail@custom?create=true", {"template": {}})
    ]
    assert OPENSEARCH.preliminaries("PUT", "/_index_template/trail", {"composed_of": []}) == []


def test_opensearch_mappings_of_new_indices_and_added_fields() -> None:
    mapping = {"properties": {"p": {"type": "flattened", "depth_limit": 20}}}
    _, _, created = OPENSEARCH.request("PUT", "/trail-2025.01", {}, {"mappings": mapping})
    assert created == {
        "mappings": {"properties": {"p": {"type": "flat_object"}}},
        # OpenSearch would refuse arrays nested deeper than 20 even in unindexed objects.
        "settings": {"index.mapping.depth.limit": 300},
    }
    _, _, added = OPENSEARCH.request("PUT", "/trail-2025.01/_mapping", {}, mapping)
    assert added == {"properties": {"p": {"type": "flat_object"}}}


def test_opensearch_point_in_time_lives_elsewhere() -> None:
    target, _, _ = OPENSEARCH.request("POST", "/trail/_pit?keep_alive=1m", {}, None)
    assert target == "/trail/_search/point_in_time?keep_alive=1m"
    target, _, body = OPENSEARCH.request("DELETE", "/_pit", {}, {"id": "abc"})
    assert (target, body) == ("/_search/point_in_time", {"pit_id": ["abc"]})
    meta = ApiResponseMeta(200, "1.1", HttpHeaders(), 0.0, NodeConfig("http", "h", 1))
    answer = OPENSEARCH.response(
        "POST", "/trail/_pit?keep_alive=1m", TransportApiResponse(meta, {"pit_id": "abc"})
    )
    assert answer.body == {"pit_id": "abc", "id": "abc"}
    assert answer.meta.headers["x-elastic-product"] == "Elasticsearch"
    # Over no index, OpenSearch opens one without an id; Elasticsearch says 404, as this does.
    empty = TransportApiResponse(meta, {"pit_id": None, "_shards": {"total": 0}})
    missing = OPENSEARCH.response("POST", "/nothing/_pit?keep_alive=1m", empty)
    assert missing.meta.status == 404
    assert missing.body["error"]["type"] == "index_not_found_exception"
