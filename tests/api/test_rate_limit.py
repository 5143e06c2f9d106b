"""Each credential's rate and in-flight requests are limited: 429 with Retry-After, counted.

The app's clock is one the test moves, so "after the window" is a step of the clock, not a
wait.
"""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import REGISTRY
from starlette.testclient import TestClient

from api.app import create_app
from api.rate_limit import Rate, RateConfigError, RateLimiter, parse_rates
from api.settings import ApiSettings
from tests.api.credentials import api_key

QUERY = {"query": "{ eventStats { count } }"}


class Clock:
    """Seconds that pass only when the test says."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _refused(reason: str) -> float:
    return REGISTRY.get_sample_value("trailql_rate_limited_total", {"reason": reason}) or 0.0


def test_a_key_gets_its_burst_then_429_then_its_rate_again(es_connection, samples_alias):
    bursty, bursty_line = api_key("bursty", "*")
    other, other_line = api_key("other", "*")
    settings = ApiSettings(
        auth_disabled=False,
        api_keys=f"{bursty_line};{other_line}",
        rate_limit=10,
        rate_burst=50,
        rate_limits="bursty=0.5/3",  # a token every 2 s, 3 at once
    )
    clock = Clock()
    refused_before = _refused("rate")
    app = create_app(es_connection, samples_alias[0], settings, clock=clock)
    with TestClient(app) as client:

        def ask(key: str) -> int:
            return client.post("/graphql", json=QUERY, headers={"X-API-Key": key}).status_code

        assert [ask(bursty) for _ in range(5)] == [200, 200, 200, 429, 429]
        refusal = client.post("/graphql", json=QUERY, headers={"X-API-Key": bursty})
        assert refusal.status_code == 429
        assert refusal.headers["Retry-After"] == "2"
        assert refusal.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert "bursty" in refusal.json()["errors"][0]["message"]
        # Another credential is not held up by the first.
        assert [ask(other) for _ in range(5)] == [200] * 5
        clock.now += 2.0  # one token back
        assert [ask(bursty) for _ in range(2)] == [200, 429]
        clock.now += 60.0  # the bucket is full again, and holds no more than its burst
        assert [ask(bursty) for _ in range(4)] == [200, 200, 200, 429]
        # Probes and scrapes are never limited.
        assert {client.get("/healthz").status_code for _ in range(10)} == {200}
    assert _refused("rate") - refused_before == 5


def test_requests_beyond_the_slots_wait_and_past_the_queue_are_refused():
    limiter = RateLimiter(Rate(0, 1), max_concurrent=2)

    async def scenario() -> list[bool]:
        release = asyncio.Event()
        admitted: list[bool] = []

        async def request() -> None:
            async with limiter.turn("tool") as admitted_now:
                admitted.append(admitted_now)
                if admitted_now:
                    await release.wait()

        # 2 slots and 8 waiting per slot: 18 are admitted or wait, the 19th and 20th not.
        tasks = [asyncio.create_task(request()) for _ in range(20)]
        for _ in range(3):  # each task runs until it holds a slot, waits, or is refused
            await asyncio.sleep(0)
        assert sorted(admitted) == [False, False, True, True]
        release.set()
        await asyncio.gather(*tasks)
        return admitted

    admitted = asyncio.run(scenario())
    assert admitted.count(False) == 2
    assert admitted.count(True) == 18


def test_a_rate_of_zero_is_no_limit():
    limiter = RateLimiter(Rate(0, 1), max_concurrent=0, clock=Clock())
    assert [limiter.take("anyone") for _ in range(1000)] == [0.0] * 1000


@pytest.mark.parametrize(
    ("text", "rates"),
    [
        ("ci=5/10", {"ci": Rate(5.0, 10)}),
        (" ci=5/10 ; ops=0 ", {"ci": Rate(5.0, 10), "ops": Rate(0.0, 1)}),
        ("reports=0.5", {"reports": Rate(0.5, 1)}),
    ],
)
def test_per_credential_rates_are_read(text, rates):
    assert parse_rates(text) == rates


@pytest.mark.parametrize("text", ["ci", "ci=fast", "=5/10", "ci=-1/5", "ci=5/0"])
def test_unreadable_rates_stop_the_api_from_starting(text):
    with pytest.raises(RateConfigError, match="TRAILQL_RATE_LIMITS"):
        parse_rates(text)
