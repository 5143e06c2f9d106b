"""Requests to an Amazon OpenSearch Service domain carry a SigV4 signature AWS agrees with.

The domain is the run's own engine behind a front door (tests/front_door.py) that checks each
signature as AWS does, with botocore's signer over what arrived, and refuses a mismatch with
403; what passes is answered by the engine itself.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator

import pytest
from botocore.auth import SigV4Auth
from botocore.credentials import Credentials
from elasticsearch import AuthenticationException, Elasticsearch

from common.elastic import Connection, NoElasticsearchError, async_client, sync_client
from common.engine import UnsupportedEngineError
from tests.front_door import Signing, as_aws_reads_it, front_door
from tests.helpers import engine_of_this_run, on_opensearch

pytestmark = pytest.mark.engines

KEY, SECRET, TOKEN = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token"
REGION = "eu-west-1"
NOT_THE_PASSWORD = "not-the-password"  # noqa: S105  wrong on purpose
SIGNING = Signing(KEY, SECRET, TOKEN, REGION)
NAMES = ["CreateLogGroup", "DeleteLogGroup", "DeleteLogGroup", "PutRetentionPolicy"]


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)


@pytest.fixture
def index(es: Elasticsearch) -> Iterator[str]:
    """Four documents of the test's own, on the engine behind the door."""
    name = f"trailql-signing-{uuid.uuid4().hex[:8]}"
    es.indices.create(index=name, mappings={"properties": {"eventName": {"type": "keyword"}}})
    for number, event_name in enumerate(NAMES):
        es.index(index=name, id=str(number), document={"eventName": event_name}, refresh=True)
    yield name
    es.indices.delete(index=name)


def _media_type_of_this_run(content_type: str) -> None:
    """OpenSearch is asked in plain JSON; Elasticsearch in its own type, its major named."""
    if on_opensearch():
        assert content_type == "application/json"
    else:
        major = engine_of_this_run().rsplit("-", 1)[1]
        assert content_type == f"application/vnd.elasticsearch+json; compatible-with={major}"


@pytest.mark.usefixtures("aws_credentials")
def test_every_request_is_signed_as_aws_checks_it(es_connection: Connection, index: str) -> None:
    with front_door(es_connection, signing=SIGNING) as door:
        dropped = "dropped when signing"
        connection = Connection(url=door.url, aws_region=REGION, username="u", password=dropped)
        client = sync_client(connection)
        found = client.search(
            index=index,
            query={"term": {"eventName": "DeleteLogGroup"}},
            size=5,
            filter_path="hits.hits._id,hits.total",
        )
        client.close()
    assert door.forged == []
    # The engine answered: the two DeleteLogGroup documents, numbers 1 and 2.
    assert sorted(hit["_id"] for hit in found["hits"]["hits"]) == ["1", "2"]
    assert found["hits"]["total"] == {"value": 2, "relation": "eq"}
    probe, search = door.arrived
    assert probe.path == "/_nodes/_local?filter_path=nodes.*.version"
    assert search.path.startswith(f"/{index}/_search?")
    # The query as AWS canonicalises it: every name and value encoded, '*' and ',' too.
    auth = SigV4Auth(Credentials(KEY, SECRET, TOKEN), "es", REGION)
    assert auth.canonical_query_string(as_aws_reads_it(probe, door.url)) == (
        "filter_path=nodes.%2A.version"
    )
    assert "filter_path=hits.hits._id%2Chits.total" in auth.canonical_query_string(
        as_aws_reads_it(search, door.url)
    )
    assert json.loads(search.body) == {
        "query": {"term": {"eventName": "DeleteLogGroup"}},
        "size": 5,
    }
    for request in (probe, search):
        assert request.headers["x-amz-security-token"] == TOKEN
        assert "host" in request.headers["authorization"].split("SignedHeaders=")[1]
        assert dropped not in str(request.headers)
    assert "x-amz-content-sha256" in search.headers["authorization"]
    _media_type_of_this_run(search.headers["content-type"])


@pytest.mark.usefixtures("aws_credentials")
def test_a_wrong_secret_is_refused_by_the_door(
    es_connection: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The door's check can fail: a signature made with another secret is refused."""
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    with front_door(es_connection, signing=SIGNING) as door:
        client = sync_client(Connection(url=door.url, aws_region=REGION))
        with pytest.raises(UnsupportedEngineError, match="set ELASTICSEARCH_ENGINE"):
            client.search(index="trail")
        client.close()
    assert [request.path for request in door.forged] == [
        "/_nodes/_local?filter_path=nodes.*.version"
    ]


def test_signing_needs_one_endpoint() -> None:
    connection = Connection(url="http://127.0.0.1:1,http://127.0.0.1:2", aws_region=REGION)
    with pytest.raises(NoElasticsearchError, match="one URL"):
        sync_client(connection)


def test_a_probe_refused_for_credentials_is_the_request_s_answer(
    es_connection: Connection,
) -> None:
    """The engine's own 401 to the probe is raised as the client raises it, nothing more sent."""
    if on_opensearch():
        pytest.skip("OpenSearch's integ-test distribution has no users: nothing is refused")
    with front_door(es_connection) as door:
        wrong = Connection(url=door.url, username="elastic", password=NOT_THE_PASSWORD)
        client = sync_client(wrong)
        with pytest.raises(AuthenticationException):
            client.search(index="trail")
        client.close()
    assert [request.path.split("?")[0] for request in door.arrived] == ["/_nodes/_local"]


def test_an_engine_that_cannot_be_told_asks_for_the_setting(
    es_connection: Connection, index: str
) -> None:
    """The access policy refuses ``/_nodes`` with 403, as fine-grained access control does."""
    with front_door(es_connection, refused={"/_nodes": 403}) as door:
        asked = Connection(
            url=door.url, username=es_connection.username, password=es_connection.password
        )
        client = sync_client(asked)
        with pytest.raises(UnsupportedEngineError, match="set ELASTICSEARCH_ENGINE"):
            client.search(index=index)
        client.close()
        # Named, nothing is probed: the search goes straight to the engine, answered.
        door.arrived.clear()
        named = Connection(
            url=door.url,
            username=es_connection.username,
            password=es_connection.password,
            engine=engine_of_this_run(),
        )
        client = sync_client(named)
        found = client.search(index=index, query={"match_all": {}})
        client.close()
    assert found["hits"]["total"]["value"] == len(NAMES)
    [search] = door.arrived
    assert search.path.startswith(f"/{index}/_search")
    _media_type_of_this_run(search.headers["content-type"])


@pytest.mark.usefixtures("aws_credentials")
def test_the_async_client_probes_and_signs_alike(es_connection: Connection, index: str) -> None:
    async def count(url: str) -> int:
        client = async_client(Connection(url=url, aws_region=REGION))
        found = await client.search(index=index, query={"match_all": {}}, filter_path="hits.total")
        await client.close()
        return int(found["hits"]["total"]["value"])

    with front_door(es_connection, signing=SIGNING) as door:
        assert asyncio.run(count(door.url)) == len(NAMES)
    assert door.forged == []
    probe, answered = door.arrived
    assert probe.path == "/_nodes/_local?filter_path=nodes.*.version"
    _media_type_of_this_run(answered.headers["content-type"])
