"""``ELASTICSEARCH_URL`` with several nodes, and the index layout settings, read as written."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from common.elastic import Connection, sync_client
from common.settings import ElasticsearchSettings, IndexSettings


def test_several_urls_give_the_client_every_node(monkeypatch):
    monkeypatch.setenv(
        "ELASTICSEARCH_URL", " http://127.0.0.1:9311, http://127.0.0.1:9312 ,https://es.example:443"
    )
    url = ElasticsearchSettings().url
    assert url == "http://127.0.0.1:9311,http://127.0.0.1:9312,https://es.example:443"
    client = sync_client(Connection(url=url or ""))
    try:
        nodes = {(node.scheme, node.host, node.port) for node in client.transport.node_pool.all()}
    finally:
        client.close()
    assert nodes == {
        ("http", "127.0.0.1", 9311),
        ("http", "127.0.0.1", 9312),
        ("https", "es.example", 443),
    }


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("http://a:9200,,http://b:9200", "URL 2 of 3 is empty (a stray comma?)"),
        ("http://a:9200,", "URL 2 of 2 is empty"),
        ("ftp://a:21", "URL 1 ('ftp://a:21') is not an http:// or https:// URL with a host"),
        ("http://a", "URL 1 ('http://a') has no port"),
        ("http://a:99999", "URL 1 ('http://a:99999') is not a URL: Port out of range"),
        ("http://a:9200,http://a:9200", "URL 2 ('http://a:9200') is listed twice"),
        ("a:9200", "is not an http:// or https:// URL with a host"),
        (",".join(f"http://n{n}:9200" for n in range(65)), "lists 65 URLs; list at most 64"),
        ("http://" + "x" * 100_000, "…') has no port"),
    ],
)
def test_an_unusable_url_list_says_which_url_and_why(monkeypatch, value, message):
    monkeypatch.setenv("ELASTICSEARCH_URL", value)
    with pytest.raises(ValidationError) as refused:
        ElasticsearchSettings()
    assert message in str(refused.value)
    assert len(str(refused.value)) < 1_000


def test_a_password_in_a_url_is_never_repeated_in_an_error(monkeypatch):
    monkeypatch.setenv("ELASTICSEARCH_URL", "https://admin:hunter2-secret@es.example,ftp://x")
    with pytest.raises(ValidationError) as refused:
        ElasticsearchSettings()
    assert "hunter2" not in str(refused.value)
    assert "URL 2 ('ftp://x')" in str(refused.value)


def test_no_url_means_the_local_node(monkeypatch):
    monkeypatch.setenv("ELASTICSEARCH_URL", "  ")
    assert ElasticsearchSettings().url is None


@pytest.mark.parametrize(
    ("shards", "replicas", "expected"),
    [
        (None, None, (1, "auto")),
        ("6", "auto", (6, "auto")),
        ("1", "AUTO", (1, "auto")),
        ("3", "0", (3, 0)),
        ("3", " 2 ", (3, 2)),
        ("1024", "32", (1024, 32)),
    ],
)
def test_shards_and_replicas_are_read_from_the_environment(monkeypatch, shards, replicas, expected):
    for name, value in (("TRAILQL_SHARDS", shards), ("TRAILQL_REPLICAS", replicas)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    settings = IndexSettings()
    assert (settings.shards, settings.replicas) == expected


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TRAILQL_SHARDS", "0"),
        ("TRAILQL_SHARDS", "1025"),
        ("TRAILQL_SHARDS", "two"),
        ("TRAILQL_REPLICAS", "-1"),
        ("TRAILQL_REPLICAS", "33"),
        ("TRAILQL_REPLICAS", "1.5"),
        ("TRAILQL_REPLICAS", "one"),
        ("TRAILQL_REPLICAS", "\u0661"),  # an Arabic-Indic one: a digit to Python, not to us
        ("TRAILQL_REPLICAS", "9" * 10_000),
        ("TRAILQL_REPLICAS", ""),
    ],
)
def test_an_impossible_layout_is_refused(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as refused:
        IndexSettings()
    assert name.removeprefix("TRAILQL_").lower() in str(refused.value)
