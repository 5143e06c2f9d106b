"""What live subscriptions refuse, and how: close codes for connections, codes for operations.

Every refusal here comes before any event is indexed: a connection refused at
``connection_init`` (4403 and why), a subscription before it is acknowledged (4401), a
message of the wrong shape (4400), and each limit a subscription document or its
connection can go over, with its ``extensions.code``.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import websockets
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin, Subprotocol

from api.live_events import ADDED_ORDER
from api.pagination import encode_cursor
from tests.api.credentials import AUDIENCE, ISSUER, api_key, rsa_key, token
from tests.api.live_client import EVENTS_ADDED, FINDINGS_ADDED, LEGACY, TRANSPORT, Client, connect
from tests.api.test_live import serving, until_subscribed

SIGMA = "123837392027"


@pytest.fixture(scope="module")
def keys():
    good, good_line = api_key("sigma-team", SIGMA)
    yesterday = datetime.now(UTC) - timedelta(days=1)
    expired, expired_line = api_key("former-contractor", SIGMA, expires=yesterday)
    return {"good": good, "expired": expired, "lines": f"{good_line};{expired_line}"}


@pytest.fixture(scope="module")
def signing_key():
    return rsa_key()


@pytest.fixture(scope="module")
def secured(es_connection, samples_alias, keys):
    secret = "s" * 40
    with serving(
        es_connection,
        samples_alias[0],
        auth_disabled=False,
        api_keys=keys["lines"],
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        jwt_secret=secret,
        live_max_subscriptions_per_connection=2,
        live_max_subscriptions_per_credential=3,
        max_query_cost=30,
    ) as served:
        yield served, secret


async def _refused_at_init(url: str, payload: dict[str, Any] | None) -> tuple[int | None, str]:
    async with connect(url) as client:
        await client.send({"type": "connection_init", "payload": payload or {}})
        return await client.closed()


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (None, "authentication required: send in connection_init's payload an API key"),
        ({"X-API-Key": "tql_not-a-key"}, "the API key is not valid."),
        ({"Authorization": "Bearer not.a.token"}, "the token is not valid"),
        ({"X-API-Key": 42}, "authentication required"),
    ],
    ids=["no credential", "wrong key", "malformed token", "key not a string"],
)
def test_a_connection_with_a_bad_credential_is_closed_with_4403_and_why(secured, payload, reason):
    served, _ = secured
    code, said = asyncio.run(_refused_at_init(served.url, payload))
    assert code == 4403
    assert said.startswith(reason)


def test_an_expired_key_and_a_token_signed_by_another_key_are_refused(secured, keys):
    served, _ = secured
    stranger = token(rsa_key(), algorithm="RS256")
    expired = asyncio.run(_refused_at_init(served.url, {"x-api-key": keys["expired"]}))
    foreign = asyncio.run(_refused_at_init(served.url, {"authorization": f"Bearer {stranger}"}))
    assert expired == (4403, "the API key has expired.")
    assert foreign[0] == 4403
    assert foreign[1].startswith("the token is not valid")


def test_subscribing_before_the_connection_is_acknowledged_closes_it_with_4401(secured):
    served, _ = secured

    async def scenario() -> tuple[int | None, str]:
        async with connect(served.url) as client:
            await client.subscribe("1")
            return await client.closed()

    assert asyncio.run(scenario()) == (4401, "Unauthorized")


def test_the_legacy_protocol_says_why_before_closing_with_4403(secured):
    served, _ = secured

    async def scenario() -> tuple[dict[str, Any], tuple[int | None, str]]:
        async with connect(served.url, LEGACY) as client:
            await client.send({"type": "connection_init", "payload": {"X-API-Key": "tql_x"}})
            error = await client.receive()
            return error, await client.closed()

    error, closed = asyncio.run(scenario())
    assert error == {
        "type": "connection_error",
        "payload": {
            "message": "the API key is not valid.",
            "extensions": {"code": "UNAUTHENTICATED"},
        },
    }
    assert closed == (4403, "the API key is not valid.")


def test_a_valid_key_or_token_is_acknowledged(secured, keys):
    served, secret = secured
    lasting = token(secret, algorithm="HS256", accounts=(SIGMA,))

    async def scenario() -> list[str]:
        acks = []
        for payload in ({"X-API-Key": keys["good"]}, {"Authorization": f"Bearer {lasting}"}):
            async with connect(served.url) as client:
                acks.append((await client.init(payload))["type"])
        return acks

    assert asyncio.run(scenario()) == ["connection_ack"] * 2


def test_a_connection_whose_key_expires_is_closed_with_4403_when_it_does(
    es_connection, samples_alias
):
    brief, line = api_key("brief", SIGMA, expires=datetime.now(UTC) + timedelta(seconds=3))

    async def scenario(url: str) -> tuple[str, tuple[int | None, str]]:
        async with connect(url) as client:
            ack = (await client.init({"X-API-Key": brief}))["type"]
            await client.subscribe("1")
            return ack, await client.closed()

    with serving(es_connection, samples_alias[0], auth_disabled=False, api_keys=line) as served:
        ack, closed = asyncio.run(scenario(served.url))
    assert ack == "connection_ack"
    assert closed == (4403, "the credential has expired; connect again with a valid one")


async def _errors(url: str, payload: dict[str, Any], *subscriptions: dict[str, Any]) -> list[Any]:
    """The first message answering each subscription (an error, or a next)."""
    async with connect(url) as client:
        await client.init(payload)
        answers = []
        for number, subscription in enumerate(subscriptions):
            await client.send({"id": str(number), "type": "subscribe", "payload": subscription})
            answers.append(await client.receive())
        return answers


def _code(answer: dict[str, Any]) -> str:
    """The code of an operation's error message (every error in it has the same)."""
    assert answer["type"] == "error", answer
    [code] = {error["extensions"]["code"] for error in answer["payload"]}
    return str(code)


COSTLY = (
    "subscription { eventsAdded { cursor node { eventID eventName eventTime eventSource "
    "awsRegion userAgent principal sourceIPAddress errorCode errorMessage readOnly "
    "recipientAccountId requestParameters responseElements record userIdentity { type arn "
    "userName principalId accountId } } } }"
)
ALIASES = "subscription { eventsAdded { " + " ".join(f"c{i}: cursor" for i in range(70)) + " } }"


@pytest.mark.parametrize(
    ("subscription", "code"),
    [
        ({"query": COSTLY}, "QUERY_TOO_COSTLY"),
        ({"query": ALIASES}, "QUERY_TOO_COSTLY"),
        ({"query": "subscription { eventsAdded { nope } }"}, "GRAPHQL_VALIDATION_FAILED"),
        ({"query": "{ events { totalCount } }"}, "BAD_REQUEST"),
        ({"query": EVENTS_ADDED, "variables": {"after": "not-a-cursor"}}, "INVALID_CURSOR"),
        ({"query": EVENTS_ADDED, "variables": {"filter": {"search": "logs~1"}}}, "BAD_USER_INPUT"),
        (
            {"query": EVENTS_ADDED, "variables": {"filter": {"eventName": ["x"] * 2_000}}},
            "BAD_USER_INPUT",
        ),
        (
            {"query": EVENTS_ADDED, "variables": {"filter": {"eventName": ["x" * 5_000]}}},
            "BAD_USER_INPUT",
        ),
        ({"query": EVENTS_ADDED, "variables": {"filter": {"from": "yesterday"}}}, "BAD_USER_INPUT"),
        (
            {"query": EVENTS_ADDED, "variables": {"filter": {"logFileIntegrity": ["MODIFIED"]}}},
            "BAD_USER_INPUT",
        ),
        (
            {
                "query": EVENTS_ADDED,
                "variables": {"filter": {"or": [{"not": {"logFileIntegrity": []}}]}},
            },
            "BAD_USER_INPUT",
        ),
        (
            {"query": FINDINGS_ADDED, "variables": {"filter": {"accountId": ["x"] * 2_000}}},
            "BAD_USER_INPUT",
        ),
        (
            {"query": FINDINGS_ADDED, "variables": {"filter": {"principal": ["x" * 5_000]}}},
            "BAD_USER_INPUT",
        ),
        ({"query": FINDINGS_ADDED, "variables": {"filter": {"to": "soon"}}}, "BAD_USER_INPUT"),
        (
            {"query": FINDINGS_ADDED, "variables": {"filter": {"severity": ["DIRE"]}}},
            "BAD_USER_INPUT",
        ),
        ({"query": FINDINGS_ADDED, "variables": {"after": "not-a-cursor"}}, "INVALID_CURSOR"),
        (
            {"query": "subscription { findingsAdded { node { events { record } } } }"},
            "QUERY_TOO_COSTLY",
        ),
    ],
    ids=[
        "too costly",
        "too many aliases",
        "unknown field",
        "a query over WebSocket",
        "a cursor this API did not issue",
        "fuzzy search",
        "a list too long",
        "a text too long",
        "not a time",
        "logFileIntegrity",
        "logFileIntegrity deep inside",
        "findings: a list too long",
        "findings: a text too long",
        "findings: not a time",
        "findings: not a severity",
        "findings: a cursor this API did not issue",
        "findings: too costly",
    ],
)
def test_a_subscription_over_a_limit_or_wrong_is_refused_with_its_code(
    secured, keys, subscription, code
):
    served, _ = secured
    [answer] = asyncio.run(_errors(served.url, {"X-API-Key": keys["good"]}, subscription))
    assert _code(answer) == code


def test_a_cursor_from_events_is_not_a_cursor_of_eventsadded(secured, keys, samples_api):
    served, _ = secured
    page = samples_api.post(
        "/graphql", json={"query": "{ events(first: 1) { pageInfo { endCursor } } }"}
    )
    cursor = page.json()["data"]["events"]["pageInfo"]["endCursor"]
    subscription = {"query": EVENTS_ADDED, "variables": {"after": cursor}}
    [answer] = asyncio.run(_errors(served.url, {"X-API-Key": keys["good"]}, subscription))
    assert _code(answer) == "INVALID_CURSOR"


def test_eventsadded_says_why_it_refuses_logfileintegrity(secured, keys):
    served, _ = secured
    subscription = {"query": EVENTS_ADDED, "variables": {"filter": {"logFileIntegrity": ["VALID"]}}}
    [answer] = asyncio.run(_errors(served.url, {"X-API-Key": keys["good"]}, subscription))
    assert _code(answer) == "BAD_USER_INPUT"
    assert answer["payload"][0]["message"].startswith(
        "`logFileIntegrity`: eventsAdded cannot match a trail file's integrity verdict"
    )


def test_a_cursor_of_eventsadded_is_not_a_cursor_of_findingsadded(secured, keys):
    served, _ = secured
    cursor = encode_cursor(ADDED_ORDER, [1_700_000_000_000, "an-event"])
    subscription = {"query": FINDINGS_ADDED, "variables": {"after": cursor}}
    [answer] = asyncio.run(_errors(served.url, {"X-API-Key": keys["good"]}, subscription))
    assert _code(answer) == "INVALID_CURSOR"


def test_subscriptions_of_both_streams_count_against_one_limit(secured, keys):
    served, _ = secured
    events = {"query": EVENTS_ADDED}
    findings = {"query": FINDINGS_ADDED, "variables": {"filter": {"severity": ["HIGH"]}}}

    async def scenario() -> dict[str, Any]:
        async with connect(served.url) as client:
            await client.init({"X-API-Key": keys["good"]})
            await client.send({"id": "1", "type": "subscribe", "payload": events})
            await until_subscribed(served, 1)
            await client.send({"id": "2", "type": "subscribe", "payload": findings})
            async with asyncio.timeout(30):  # a hang guard
                while served.app.state.live.feeds["findings"].subscribers < 1:  # noqa: ASYNC110
                    await asyncio.sleep(0.02)
            await client.send({"id": "3", "type": "subscribe", "payload": findings})
            return await client.receive()

    refused = asyncio.run(scenario())
    assert refused["id"] == "3"
    assert _code(refused) == "RATE_LIMITED"
    assert "at most 2 subscriptions per connection" in refused["payload"][0]["message"]


def test_subscriptions_per_connection_and_per_credential_are_limited(secured, keys):
    served, _ = secured
    one = {"query": EVENTS_ADDED}
    credential = {"X-API-Key": keys["good"]}

    async def subscribe(client: Client, number: int, admitted: int) -> None:
        await client.send({"id": str(number), "type": "subscribe", "payload": one})
        await until_subscribed(served, admitted)

    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        async with connect(served.url) as first, connect(served.url) as second:
            for client in (first, second):
                await client.init(credential)
            await subscribe(first, 0, 1)
            await subscribe(first, 1, 2)
            await first.send({"id": "2", "type": "subscribe", "payload": one})
            per_connection = await first.receive()  # admitted subscriptions stay silent
            await subscribe(second, 3, 3)
            await second.send({"id": "4", "type": "subscribe", "payload": one})
            return per_connection, await second.receive()

    per_connection, per_credential = asyncio.run(scenario())
    assert _code(per_connection) == "RATE_LIMITED"
    assert "at most 2 subscriptions per connection" in per_connection["payload"][0]["message"]
    assert per_connection["id"] == "2"
    assert _code(per_credential) == "RATE_LIMITED"
    assert "at most 3 subscriptions per credential" in per_credential["payload"][0]["message"]
    assert per_credential["id"] == "4"


@pytest.mark.parametrize(
    "message",
    [
        [1, 2, 3],
        {"type": 7},
        {"type": "subscribe", "id": ["x"], "payload": {"query": EVENTS_ADDED}},
        {"type": "subscribe", "id": "1", "payload": "subscription { eventsAdded { cursor } }"},
        {"type": "subscribe", "id": "1", "payload": {"query": 12}},
        {"type": "subscribe", "id": "1", "payload": {"query": EVENTS_ADDED, "variables": [1]}},
        {"type": "complete", "id": {"a": 1}},
        {"type": "no-such-type"},
    ],
    ids=[
        "not an object",
        "type not a string",
        "id not a string",
        "payload not an object",
        "query not a string",
        "variables not an object",
        "complete without a string id",
        "unknown type",
    ],
)
def test_a_message_of_the_wrong_shape_closes_the_connection_with_4400(secured, keys, message):
    served, _ = secured

    async def scenario() -> tuple[int | None, str]:
        async with connect(served.url, TRANSPORT) as client:
            await client.init({"X-API-Key": keys["good"]})
            await client.send(message)
            return await client.closed()

    code, _ = asyncio.run(scenario())
    assert code == 4400


def test_a_message_not_json_or_binary_closes_the_connection_with_4400(secured, keys):
    served, _ = secured

    async def scenario(frame: str | bytes) -> int | None:
        async with connect(served.url) as client:
            await client.init({"X-API-Key": keys["good"]})
            await client.connection.send(frame)
            code, _ = await client.closed()
            return code

    assert asyncio.run(scenario("{not json")) == 4400
    assert asyncio.run(scenario(b"\x00\x01")) == 4400
    assert asyncio.run(scenario("[" * 5_000)) == 4400


def test_a_page_on_another_origin_may_open_a_websocket_only_when_allowed(
    es_connection, samples_alias
):
    async def opens(url: str, origin: str) -> int:
        """101 when the handshake succeeds, else the status it was refused with."""
        address = url.replace("http://", "ws://", 1)
        try:
            async with websockets.connect(
                address, subprotocols=[Subprotocol(TRANSPORT)], origin=Origin(origin)
            ):
                return 101
        except InvalidStatus as refused:
            return int(refused.response.status_code)

    with serving(
        es_connection, samples_alias[0], cors_origins="https://dashboard.example"
    ) as served:
        allowed = asyncio.run(opens(served.url, "https://dashboard.example"))
        other = asyncio.run(opens(served.url, "https://elsewhere.example"))
    assert allowed == 101
    assert other == 403


def test_a_completed_subscription_gives_its_place_back(secured, keys):
    served, _ = secured
    one = {"query": EVENTS_ADDED}

    async def scenario() -> dict[str, Any]:
        async with connect(served.url) as client:
            await client.init({"X-API-Key": keys["good"]})
            for number in (1, 2):
                await client.send({"id": str(number), "type": "subscribe", "payload": one})
                await until_subscribed(served, number)
            await client.send({"id": "1", "type": "complete"})
            async with asyncio.timeout(30):  # a hang guard
                while served.subscribers > 1:  # noqa: ASYNC110  the feed is looked at from outside
                    await asyncio.sleep(0.02)
            await client.send({"id": "3", "type": "subscribe", "payload": one})
            await until_subscribed(served, 2)
            await client.send({"id": "4", "type": "subscribe", "payload": one})
            return await client.receive()

    refused = asyncio.run(scenario())
    assert refused["id"] == "4"
    assert _code(refused) == "RATE_LIMITED"
