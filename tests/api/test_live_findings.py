"""``findingsAdded`` end to end: a real WebSocket client, the API under uvicorn, a real
Elasticsearch, and findings raised while the client listens.

Findings are raised through detections' own API (``record_finding``, what an integrity check
or any code uses; and the Detector over indexed events), each with a summary of its own, so
what a subscription should receive is worked out from what the test raised: its accounts and
severities. Each scenario raises a *sentinel* finding last, one the subscription's filter
matches: findings are handed out in the order they were created, so once the sentinel
arrives everything raised before it has, and what arrived can be compared exactly.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from api.findings import FindingFilter, FindingStatus, Severity, finding_query
from api.live_findings import FINDING_FIELDS
from api.matching import IndexedEvent, compile_query
from api.tenancy import Tenant
from detections import (
    Detector,
    Finding,
    Trust,
    Window,
    findings_index,
    load_rules,
    record_finding,
    save_findings,
    status_change,
)
from detections.findings import RuleRef
from indexer.run import index_sources
from tests.api.credentials import api_key
from tests.api.live_client import FINDINGS_ADDED, Received, connect
from tests.api.test_live import Served, served_metrics, serving
from tests.helpers import drop_alias

ALPHA = "234567890123"
BETA = ("345678901234", "123456789012")
NOBODY = "999999999999"
SEVERITIES = ("informational", "low", "medium", "high", "critical")


@dataclass(frozen=True)
class Raised:
    """One finding a test raised: what it is about, and its id."""

    summary: str
    account: str
    severity: str
    rule: str
    id: str


def raise_finding(
    es: Elasticsearch, alias: str, account: str, severity: str, *, rule: str = "test-rule",
    key: str | None = None, summary: str | None = None,
) -> Raised:  # fmt: skip
    """A finding raised through detections' own API; its summary names it."""
    summary = summary or f"{severity} in {account}: {uuid.uuid4().hex[:12]}"
    finding, _ = record_finding(
        es, alias, rule_id=rule, title=f"Test {rule}", severity=severity, summary=summary,
        account_id=account, key=key or summary, region="eu-west-1",
    )  # fmt: skip
    return Raised(summary, account, severity, rule, finding)


def raise_together(es: Elasticsearch, alias: str, *about: tuple[str, str]) -> list[Raised]:
    """Findings of these (account, severity) raised in one save, so with one createdAt."""
    raised = [
        Raised(f"{severity} in {account}: {uuid.uuid4().hex[:12]}", account, severity, "batch", "")
        for account, severity in about
    ]
    batch = [
        Finding(
            id=f"batch-{uuid.uuid4().hex}", rule=RuleRef("batch", "batch", "Batch", r.severity),
            first_event_time="2026-10-05T08:00:00.000Z", last_event_time="2026-10-05T08:00:00.000Z",
            account_id=r.account, region="eu-west-1", principal="", log_groups=(), event_ids=(),
            summary=r.summary,
        )
        for r in raised
    ]  # fmt: skip
    assert len(save_findings(es, alias, batch)) == len(batch)
    return raised


def findings_subscribers(served: Served) -> int:
    return int(served.app.state.live.feeds["findings"].subscribers)


async def until_subscribed(served: Served, count: int) -> None:
    """Until the findings feed serves ``count`` subscriptions (a hang guard bounds it)."""
    async with asyncio.timeout(30):
        while findings_subscribers(served) < count:  # noqa: ASYNC110  looked at from outside
            await asyncio.sleep(0.02)


def pushed_findings(served: Served) -> tuple[float, float]:
    """/metrics: findings pushed so far, and findings subscriptions open now."""
    text = served_metrics(served)
    values = []
    for name in ("trailql_live_events_pushed_total", "trailql_live_subscriptions"):
        match = re.search(rf'^{name}{{stream="findings"}} (\S+)$', text, re.MULTILINE)
        values.append(float(match.group(1)) if match else 0.0)
    return values[0], values[1]


def arrived(operation: str, summary: str) -> Callable[[dict[str, Received]], bool]:
    return lambda received: summary in received.get(operation, Received()).summaries


def test_each_tenant_receives_exactly_the_new_findings_its_filter_matches_once(
    es, es_connection, alias
):
    alpha_key, alpha_line = api_key("alpha", ALPHA)
    beta_key, beta_line = api_key("beta", *BETA)
    serious = {"severity": ["HIGH", "CRITICAL"]}

    def raise_all() -> tuple[list[Raised], Raised, Raised]:
        raised = raise_together(
            es,
            alias,
            *((account, severity) for account in (ALPHA, *BETA) for severity in SEVERITIES),
        )
        raised.append(raise_finding(es, alias, NOBODY, "critical"))
        again = raise_finding(es, alias, ALPHA, "high")
        raised.append(again)  # raised again (a re-evaluation), then triaged: never sent twice
        raise_finding(es, alias, again.account, again.severity, key=again.summary,
                      summary=again.summary)  # fmt: skip
        source = es.get(index=findings_index(alias), id=again.id)["_source"]
        change = status_change(source, "acknowledged", by="test", note=None)
        es.update(index=findings_index(alias), id=again.id, doc=change, refresh=True)
        alpha_last = raise_finding(es, alias, ALPHA, "high", summary="alpha's last")
        beta_last = raise_finding(es, alias, BETA[1], "low", summary="beta's last")
        return raised, alpha_last, beta_last

    async def scenario(served: Served) -> tuple[Received, Received, Received]:
        async with connect(served.url) as alpha, connect(served.url) as beta:
            assert (await alpha.init({"X-API-Key": alpha_key}))["type"] == "connection_ack"
            assert (await beta.init({"X-API-Key": beta_key}))["type"] == "connection_ack"
            await alpha.subscribe("serious", FINDINGS_ADDED, filter=serious)
            await alpha.subscribe("all", FINDINGS_ADDED)
            await beta.subscribe("all", FINDINGS_ADDED)
            await until_subscribed(served, 3)
            metrics.append(await asyncio.to_thread(pushed_findings, served))
            raised, alpha_last, beta_last = await asyncio.to_thread(raise_all)
            seen_by_alpha = await alpha.collect(
                lambda r: (
                    arrived("serious", alpha_last.summary)(r)
                    and arrived("all", alpha_last.summary)(r)
                ),
                {},
            )
            seen_by_beta = await beta.collect(arrived("all", beta_last.summary), {})
            metrics.append(await asyncio.to_thread(pushed_findings, served))
        expected.update(
            serious={r.summary for r in raised if r.account == ALPHA and r.severity in
                     ("high", "critical")} | {alpha_last.summary},
            alpha={r.summary for r in raised if r.account == ALPHA} | {alpha_last.summary},
            beta={r.summary for r in raised if r.account in BETA} | {beta_last.summary},
        )  # fmt: skip
        return seen_by_alpha["serious"], seen_by_alpha["all"], seen_by_beta["all"]

    expected: dict[str, set[str]] = {}
    metrics: list[tuple[float, float]] = []
    with serving(
        es_connection, alias, auth_disabled=False, api_keys=f"{alpha_line};{beta_line}"
    ) as served:
        serious_seen, alpha_seen, beta_seen = asyncio.run(scenario(served))
    for seen, name in ((serious_seen, "serious"), (alpha_seen, "alpha"), (beta_seen, "beta")):
        assert seen.errors == []
        assert len(seen.summaries) == len(set(seen.summaries)), name  # nothing sent twice
        assert set(seen.summaries) == expected[name], name
    assert len(expected["serious"]) == 4
    assert len(expected["beta"]) == 11
    assert {edge["node"]["rule"]["severity"] for edge in serious_seen.edges} == {"HIGH", "CRITICAL"}
    assert {edge["node"]["accountId"] for edge in beta_seen.edges} == set(BETA)
    (pushed_before, open_before), (pushed_after, open_after) = metrics
    assert open_before == open_after == 3
    assert pushed_after - pushed_before == 4 + 7 + 11


def test_a_client_that_reconnects_with_its_last_cursor_gets_exactly_the_findings_it_missed(
    es, es_connection, alias
):
    async def scenario(served: Served) -> tuple[list[str], list[str], set[str]]:
        async with connect(served.url) as client:
            await client.init()
            await client.subscribe("1", FINDINGS_ADDED, filter={"accountId": [ALPHA]})
            await until_subscribed(served, 1)
            early = await asyncio.to_thread(raise_together, es, alias, *[(ALPHA, "medium")] * 5)
            wanted_first = {r.summary for r in early}  # one createdAt: in the order of their ids
            first = await client.collect(
                lambda r: wanted_first <= set(r.get("1", Received()).summaries), {}
            )
        cursor = first["1"].last_cursor
        missed = await asyncio.to_thread(
            raise_together, es, alias, *[(ALPHA, "low"), (BETA[0], "low")] * 2
        )
        missed += await asyncio.to_thread(
            raise_together, es, alias, *[(ALPHA, "low"), (BETA[0], "low")] * 2
        )
        last = await asyncio.to_thread(raise_finding, es, alias, ALPHA, "low", summary="last")
        async with connect(served.url) as client:
            await client.init()
            await client.subscribe("2", FINDINGS_ADDED, filter={"accountId": [ALPHA]}, after=cursor)
            second = await client.collect(arrived("2", last.summary), {})
        wanted = {r.summary for r in missed if r.account == ALPHA} | {last.summary}
        assert {r.summary for r in early} == set(first["1"].summaries)
        return first["1"].summaries, second["2"].summaries, wanted

    with serving(es_connection, alias) as served:
        early, resumed, wanted = asyncio.run(scenario(served))
    assert len(early) == 5
    assert not set(early) & set(resumed)
    assert len(resumed) == len(set(resumed))
    assert set(resumed) == wanted
    assert len(wanted) == 5


def _record(account: str, name: str, minute: int, **params: Any) -> dict[str, Any]:
    return {
        "eventVersion": "1.09", "eventID": str(uuid.uuid4()),
        "eventTime": f"2026-10-05T08:{minute:02d}:00Z", "eventSource": "logs.amazonaws.com",
        "eventName": name, "awsRegion": "eu-west-1", "sourceIPAddress": "203.0.113.9",
        "userAgent": "aws-cli/2.17.0",
        "userIdentity": {"type": "IAMUser", "userName": "eve",
                         "arn": f"arn:aws:iam::{account}:user/eve", "accountId": account},
        "requestParameters": params, "recipientAccountId": account, "eventType": "AwsApiCall",
    }  # fmt: skip


def test_findings_the_detector_raises_are_pushed_with_their_evidence_events(
    es, es_connection, alias, tmp_path: Path
):
    """The built-in rules over indexed events: a DeleteLogGroup per account raises a finding."""
    records = [
        _record(ALPHA, "DeleteLogGroup", 1, logGroupName="/alpha/a"),
        _record(BETA[0], "DeleteLogGroup", 2, logGroupName="/beta/a"),
    ]
    (tmp_path / "trail.json.gz").write_bytes(
        gzip.compress(json.dumps({"Records": records}).encode())
    )
    query = FINDINGS_ADDED.replace("rule { id severity }", "eventIds events { eventID }")

    async def scenario(served: Served) -> Received:
        async with connect(served.url) as client:
            await client.init()
            await client.subscribe("1", query, filter={"accountId": [ALPHA]})
            await until_subscribed(served, 1)

            def detect() -> Raised:
                index_sources([str(tmp_path)], client=es, alias=alias)
                es.indices.refresh(index=alias)
                window = Window(
                    datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)
                )
                Detector(es, alias, load_rules([]), Trust()).evaluate(window)
                return raise_finding(es, alias, ALPHA, "low", summary="last")

            last = await asyncio.to_thread(detect)
            return (await client.collect(arrived("1", last.summary), {}))["1"]

    with serving(es_connection, alias) as served:
        received = asyncio.run(scenario(served))
    assert received.errors == []
    detected = [edge["node"] for edge in received.edges if edge["node"]["summary"] != "last"]
    assert detected
    evidence = {event_id for node in detected for event_id in node["eventIds"]}
    assert evidence == {records[0]["eventID"]}  # alpha's DeleteLogGroup, not beta's
    assert all(node["accountId"] == ALPHA for node in detected)
    for node in detected:
        assert [event["eventID"] for event in node["events"]] == node["eventIds"]


#: Every FindingFilter case, as variables would give it.
FILTER_CASES: list[FindingFilter | None] = [
    None,
    FindingFilter(),
    FindingFilter(severity=[Severity.HIGH, Severity.CRITICAL]),
    FindingFilter(severity=[]),
    FindingFilter(status=[FindingStatus.OPEN]),
    FindingFilter(status=[FindingStatus.ACKNOWLEDGED, FindingStatus.RESOLVED]),
    FindingFilter(account_id=[ALPHA, NOBODY]),
    FindingFilter(region=["eu-west-1"]),
    FindingFilter(region=["us-east-1"]),
    FindingFilter(principal=["eve"]),
    FindingFilter(log_group_name=["/alpha/a"]),
    FindingFilter(rule=["rule-a"]),
    FindingFilter(rule=["Test rule-b", "rule-a"]),
    FindingFilter(from_=datetime(2026, 10, 5, 8, 30, tzinfo=UTC)),
    FindingFilter(to=datetime(2026, 10, 5, 8, 30, tzinfo=UTC)),
    FindingFilter(
        from_=datetime(2026, 10, 5, 8, 10, tzinfo=UTC),
        to=datetime(2026, 10, 5, 8, 40, tzinfo=UTC),
        severity=[Severity.LOW, Severity.MEDIUM],
        account_id=list(BETA),
    ),
]


@pytest.fixture(scope="module")
def stored_findings(es: Elasticsearch) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Twenty findings of every account and severity, told apart by every field a filter reads,
    saved in one batch; one of them acknowledged."""
    alias = f"trailql-test-{uuid.uuid4().hex[:10]}"
    batch = [
        Finding(
            id=f"finding-{number}",
            rule=RuleRef(f"rule-{'ab'[number % 2]}", f"rule-{'ab'[number % 2]}", "t", severity),
            first_event_time=f"2026-10-05T08:{number * 3 % 60:02d}:00.000Z",
            last_event_time=f"2026-10-05T08:{number * 3 % 60:02d}:00.000Z",
            account_id=account,
            region="eu-west-1" if number % 3 else "us-east-1",
            principal="eve" if number % 4 else "mallory",
            log_groups=("/alpha/a",) if number % 5 == 0 else (),
            event_ids=(),
            summary=str(number),
        )
        for number, (account, severity) in enumerate(
            (a, s) for a in (ALPHA, *BETA, NOBODY) for s in SEVERITIES
        )
    ]
    assert len(save_findings(es, alias, batch)) == len(batch)
    es.update(
        index=findings_index(alias), id="finding-7", doc={"status": "acknowledged"}, refresh=True
    )
    index = findings_index(alias)
    yield index, [hit["_source"] for hit in es.search(index=index, size=100)["hits"]["hits"]]
    drop_alias(es, alias)


@pytest.mark.parametrize("accounts", [None, frozenset({ALPHA}), frozenset(BETA)])
def test_the_in_process_matcher_agrees_with_elasticsearch_on_every_finding_filter(
    es, stored_findings, accounts
):
    index, stored = stored_findings
    assert len(stored) == 20
    tenant = Tenant(name="t", accounts=accounts)
    answers = []
    for case in FILTER_CASES:
        query = tenant.restrict(finding_query(case, 100), "accountId")
        hits = es.search(index=index, query=query, size=100)["hits"]["hits"]
        by_elasticsearch = {hit["_source"]["summary"] for hit in hits}
        matches = compile_query(query, FINDING_FIELDS)
        in_process = {s["summary"] for s in stored if matches(IndexedEvent(s))}
        assert in_process == by_elasticsearch, case
        answers.append(len(by_elasticsearch))
    assert len(set(answers)) >= 4  # the cases tell findings apart
