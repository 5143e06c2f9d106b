"""Evaluating the rules over a window of stored events: a backfill, or the batch just indexed.

Both are the same evaluation, so they raise the same findings: a window ``[start, end)`` of
eventTime. Single-event rules search the window; a correlation counts per group in windows of
its timespan aligned to the epoch (a window touched is counted whole, so a batch and a
backfill see the same counts); ``first_seen`` looks back its days before the window; the
retention check looks back at the group's earlier retention changes.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from elasticsearch import Elasticsearch

from common.metrics import DETECTION_RUNS, DETECTION_SECONDS
from detections.extensions import (
    SIMPLE_CHECKS,
    Trust,
    by_trusted_principal,
    retention_days,
    retention_shortened,
    trusted_principal_query,
)
from detections.findings import Finding, RuleRef, finding_id, save_findings
from detections.rules import CorrelationRule, EventRule, Rule, RulePack
from schema import log_group_names, principal_name
from schema.paths import ACCOUNT_ID, EVENT_ID, EVENT_NAME, EVENT_TIME, LOG_GROUP_NAME

logger = logging.getLogger("trailql.detections")

Record = dict[str, Any]
_PAGE = 1000
#: Evidence events kept on one correlation finding (the count says how many there were).
MAX_EVIDENCE = 100
_DAY = 86400


@dataclass(frozen=True)
class Window:
    """Events with ``start <= eventTime < end``."""

    start: datetime
    end: datetime

    @classmethod
    def around(cls, first: datetime, last: datetime) -> Window:
        """The window holding events from ``first`` to ``last``, both included."""
        return cls(first, last + timedelta(milliseconds=1))


@dataclass
class Outcome:
    """What one evaluation found."""

    findings: int = 0
    created: list[str] = field(default_factory=list)
    by_rule: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _range(start: datetime, end: datetime) -> dict[str, Any]:
    return {"range": {EVENT_TIME: {"gte": _iso(start), "lt": _iso(end)}}}


class Detector:
    """Evaluates a rule pack over the events behind ``alias``; stores what it finds."""

    def __init__(
        self,
        client: Elasticsearch,
        alias: str,
        pack: RulePack,
        trust: Trust,
        *,
        channels: tuple[str, ...] = (),
    ) -> None:
        self._client = client
        self._alias = alias
        self._pack = pack
        self._trust = trust
        self._channels = channels
        self._earliest: dict[str, datetime] | None = None

    def evaluate(self, window: Window, *, store: bool = True) -> tuple[Outcome, list[Finding]]:
        """Every rule over ``window``; the findings, stored unless ``store`` is False."""
        started = time.perf_counter()
        self._earliest = None
        findings: list[Finding] = []
        try:
            for rule in self._pack.rules:
                found = self.findings_of(rule, window)
                findings.extend(found)
            outcome = Outcome(findings=len(findings))
            for finding in findings:
                outcome.by_rule[finding.rule.name] = outcome.by_rule.get(finding.rule.name, 0) + 1
            if store:
                outcome.created = save_findings(
                    self._client, self._alias, findings, channels=self._channels
                )
        except Exception:
            DETECTION_RUNS.labels(outcome="failed").inc()
            raise
        outcome.seconds = time.perf_counter() - started
        DETECTION_RUNS.labels(outcome="ok").inc()
        DETECTION_SECONDS.observe(outcome.seconds)
        return outcome, findings

    def findings_of(self, rule: Rule, window: Window) -> list[Finding]:
        """What one rule raises over ``window``."""
        if isinstance(rule, CorrelationRule):
            return self._correlation(rule, window)
        if rule.extensions.first_seen is not None:
            return self._first_seen(rule, window)
        return self._single(rule, window)

    # Single events -------------------------------------------------------------------

    def _query(self, rule: EventRule | CorrelationRule, base: dict[str, Any]) -> dict[str, Any]:
        clauses = [base]
        if rule.extensions.exclude_trusted_principals:
            trusted = trusted_principal_query(self._trust.principals)
            if trusted is not None:
                clauses.append(trusted)
        return {"bool": {"filter": clauses}}

    def _single(self, rule: EventRule, window: Window) -> list[Finding]:
        query = self._query(rule, rule.detection.query)
        query["bool"]["filter"].append(_range(window.start, window.end))
        findings = []
        for record in self._records(query):
            if not rule.detection.exact and not rule.detection.matches(record):
                continue
            if not self._passes(rule, record):
                continue
            findings.append(_finding(rule.info.ref, rule, [record], key=str(record["eventID"])))
        return findings

    def _passes(self, rule: EventRule, record: Record) -> bool:
        for check in rule.extensions.checks:
            if check == "retention_shortened":
                if not retention_shortened(record, self._trust, self._previous_retention):
                    return False
            elif not SIMPLE_CHECKS[check](record, self._trust):
                return False
        return not (
            rule.extensions.exclude_trusted_principals
            and by_trusted_principal(record, self._trust.principals)
        )

    def _records(self, query: dict[str, Any]) -> Iterator[Record]:
        """Every event matching ``query``, oldest first, a page at a time."""
        after: list[Any] | None = None
        while True:
            request: dict[str, Any] = {
                "query": query,
                "sort": [{EVENT_TIME: "asc"}, {EVENT_ID: "asc"}],
                "size": _PAGE,
            }
            if after is not None:
                request["search_after"] = after
            response = self._search(**request)
            hits = response["hits"]["hits"]
            for hit in hits:
                yield hit["_source"]
            if len(hits) < _PAGE:
                return
            after = hits[-1]["sort"]

    def _search(self, **request: Any) -> Any:
        return self._client.search(
            index=self._alias, ignore_unavailable=True, allow_no_indices=True, **request
        )

    def _previous_retention(self, record: Record) -> float | None:
        """The retention the group had before this change: days, inf, or None if unknown."""
        groups = log_group_names(record.get("requestParameters"))
        if not groups:
            return None
        query = {
            "bool": {
                "filter": [
                    {"term": {ACCOUNT_ID: record.get("recipientAccountId", "")}},
                    {"term": {"awsRegion": record.get("awsRegion", "")}},
                    {"term": {LOG_GROUP_NAME: groups[0]}},
                    {"terms": {EVENT_NAME: ["PutRetentionPolicy", "DeleteRetentionPolicy"]}},
                    {"range": {EVENT_TIME: {"lt": record["eventTime"]}}},
                ],
                "must_not": [{"exists": {"field": "errorCode"}}],
            }
        }
        response = self._search(
            query=query, sort=[{EVENT_TIME: "desc"}, {EVENT_ID: "desc"}], size=1
        )
        hits = response["hits"]["hits"]
        if not hits:
            return None
        before = hits[0]["_source"]
        if before.get("eventName") == "DeleteRetentionPolicy":
            return math.inf
        return retention_days(before)

    # First seen ----------------------------------------------------------------------

    def _earliest_by_account(self) -> dict[str, datetime]:
        if self._earliest is None:
            response = self._search(
                size=0,
                aggs={
                    "accounts": {
                        "terms": {"field": ACCOUNT_ID, "size": 10000},
                        "aggs": {"first": {"min": {"field": EVENT_TIME}}},
                    }
                },
            )
            buckets = response.get("aggregations", {}).get("accounts", {}).get("buckets", [])
            self._earliest = {
                bucket["key"]: datetime.fromtimestamp(bucket["first"]["value"] / 1000, UTC)
                for bucket in buckets
                if bucket["first"]["value"] is not None
            }
        return self._earliest

    def _first_seen(self, rule: EventRule, window: Window) -> list[Finding]:
        """A group's event with none of its kind in the ``days`` before: day by day.

        Events of a group are bucketed by UTC day (a gap of ``days`` or more can only open
        between days); a day's first event is new when the group's previous event is more
        than ``days`` earlier, or when there is none and the account's history covers the
        look-back (events are not judged in the first ``days`` of an account's history).
        """
        first_seen = rule.extensions.first_seen
        assert first_seen is not None
        lookback = timedelta(days=first_seen.days)
        query = self._query(rule, rule.detection.query)
        query["bool"]["filter"].append(_range(window.start - lookback, window.end))
        sources: list[dict[str, Any]] = [
            {f"by{i}": {"terms": {"field": path}}} for i, path in enumerate(first_seen.by)
        ]
        sources.append({"day": {"date_histogram": {"field": EVENT_TIME, "fixed_interval": "1d"}}})
        sub_aggs = {
            "first": {"min": {"field": EVENT_TIME}},
            "last": {"max": {"field": EVENT_TIME}},
            "event": {"top_hits": {"size": 1, "sort": [{EVENT_TIME: "asc"}, {EVENT_ID: "asc"}]}},
        }
        earliest = self._earliest_by_account()
        account_key = f"by{first_seen.by.index(ACCOUNT_ID)}"
        findings: list[Finding] = []
        previous_group: tuple[Any, ...] | None = None
        previous_last: float | None = None
        for bucket in self._composite(query, sources, sub_aggs):
            group = tuple(v for k, v in sorted(bucket["key"].items()) if k != "day")
            first_ms = bucket["first"]["value"]
            seen_before = previous_last if group == previous_group else None
            previous_group, previous_last = group, bucket["last"]["value"]
            first = datetime.fromtimestamp(first_ms / 1000, UTC)
            if first < window.start or first >= window.end:
                continue
            if seen_before is not None:
                if first_ms - seen_before <= lookback.total_seconds() * 1000:
                    continue
            else:
                account_first = earliest.get(str(bucket["key"][account_key]))
                if account_first is None or first < account_first + lookback:
                    continue  # the history does not reach back far enough to judge
            record = bucket["event"]["hits"]["hits"][0]["_source"]
            findings.append(_finding(rule.info.ref, rule, [record], key=str(record["eventID"])))
        return findings

    def _composite(
        self, query: dict[str, Any], sources: list[dict[str, Any]], sub_aggs: dict[str, Any]
    ) -> Iterator[dict[str, Any]]:
        after: dict[str, Any] | None = None
        while True:
            composite: dict[str, Any] = {"size": _PAGE, "sources": sources}
            if after is not None:
                composite["after"] = after
            response = self._search(
                query=query, size=0, aggs={"groups": {"composite": composite, "aggs": sub_aggs}}
            )
            groups = response.get("aggregations", {}).get("groups", {})
            buckets = groups.get("buckets", [])
            yield from buckets
            after = groups.get("after_key")
            if not buckets or after is None:
                return

    # Correlations --------------------------------------------------------------------

    def _correlation(self, rule: CorrelationRule, window: Window) -> list[Finding]:
        """Per group, per aligned window of the rule's timespan, the count against the bar."""
        seconds = rule.seconds
        start = math.floor(window.start.timestamp() / seconds) * seconds
        end = math.ceil(window.end.timestamp() / seconds) * seconds
        end = max(end, start + seconds)
        query = self._query(rule, rule.query)
        query["bool"]["filter"].append(
            _range(datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC))
        )
        sources: list[dict[str, Any]] = [
            {f"by{i}": {"terms": {"field": path}}} for i, path in enumerate(rule.group_by)
        ]
        sources.append(
            {"window": {"date_histogram": {"field": EVENT_TIME, "fixed_interval": f"{seconds}s"}}}
        )
        sub_aggs: dict[str, Any] = {
            "first": {"min": {"field": EVENT_TIME}},
            "last": {"max": {"field": EVENT_TIME}},
            "events": {
                "top_hits": {"size": MAX_EVIDENCE, "sort": [{EVENT_TIME: "asc"}, {EVENT_ID: "asc"}]}
            },
        }
        if rule.value_field is not None:
            sub_aggs["values"] = {
                "cardinality": {"field": rule.value_field, "precision_threshold": 40000}
            }
        findings = []
        for bucket in self._composite(query, sources, sub_aggs):
            measured = (
                bucket["values"]["value"] if rule.value_field is not None else bucket["doc_count"]
            )
            if not _compare(measured, rule.operator, rule.count):
                continue
            records = [hit["_source"] for hit in bucket["events"]["hits"]["hits"]]
            key = "\n".join(f"{k}={v}" for k, v in sorted(bucket["key"].items()))
            finding = _finding(rule.info.ref, rule, records, key=key, count=bucket["doc_count"])
            findings.append(finding)
        return findings


def _compare(measured: int, operator: str, bar: int) -> bool:
    return {
        "gte": measured >= bar,
        "gt": measured > bar,
        "lte": measured <= bar,
        "lt": measured < bar,
        "eq": measured == bar,
    }[operator]


def _finding(
    ref: RuleRef, rule: Rule, records: list[Record], *, key: str, count: int | None = None
) -> Finding:
    first, last = records[0], records[-1]
    groups: list[str] = []
    for record in records:
        for name in log_group_names(record.get("requestParameters")):
            if name not in groups:
                groups.append(name)
    principal = principal_name(first.get("userIdentity")) or ""
    values = {
        "title": rule.info.title,
        "principal": principal or "an unknown caller",
        "account": first.get("recipientAccountId", ""),
        "region": first.get("awsRegion", ""),
        "event_name": first.get("eventName", ""),
        "log_groups": ", ".join(groups) or "no log group",
        "count": count if count is not None else len(records),
        "parameters": first.get("requestParameters") or {},
    }
    template = (
        rule.extensions.summary or "{title}: {event_name} by {principal} in {account} ({region})."
    )
    try:
        summary = template.format_map(values)
    except (KeyError, IndexError, ValueError, AttributeError):
        summary = f"{rule.info.title}: {values['event_name']} by {values['principal']}."
    return Finding(
        id=finding_id(rule.info.id, key),
        rule=ref,
        first_event_time=str(first.get("eventTime", "")),
        last_event_time=str(last.get("eventTime", "")),
        account_id=str(first.get("recipientAccountId", "")),
        region=str(first.get("awsRegion", "")),
        principal=principal,
        log_groups=tuple(groups),
        event_ids=tuple(str(record.get("eventID")) for record in records),
        summary=summary,
        event_count=count if count is not None else len(records),
    )
