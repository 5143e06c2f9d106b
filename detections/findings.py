"""Findings: what a rule raised, stored in ``<alias>_findings`` beside the events.

The index is named outside ``<alias>-*``, so the events template never applies to it, and it
is not behind the events alias. A finding's ``_id`` is derived from its rule and what it is
about (an event, or a group and a window), so evaluating the same events again, by a
backfill or a redelivered file, writes the same finding again: its evidence is brought up to
date, its status and history are left alone, and nothing is notified twice.

**For live subscriptions** (``findingsAdded``), a finding's place in the order of creation is
``(createdAt, id)``, ``createdAt`` stamped here just before the request that stores it. A
request stamped early can become searchable after one stamped later (two writers at once), so
each save says what it has on its way, as the indexer does for events (``common.writers``):
before stamping, it publishes ``pending_since`` in ``<alias>_findings_writers`` (refreshed),
and removes it once its findings are searchable (``refresh=wait_for``). The API's findings
feed hands nothing out from the earliest pending stamp on, so nothing appears behind it.
"""

from __future__ import annotations

import hashlib
import os
import socket
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from elasticsearch import Elasticsearch

from common.metrics import FINDINGS_CREATED
from common.writers import HEARTBEAT, PENDING_SINCE, writers_index, writers_mapping

#: Who the history says opened a finding.
OPENED_BY = "trailql"


class Status(StrEnum):
    """Where a finding is in triage."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    FALSE_POSITIVE = "false_positive"


def findings_index(alias: str) -> str:
    """The findings of the events behind ``alias``."""
    return f"{alias}_findings"


def finding_id(rule_id: str, key: str) -> str:
    """The same finding, whoever raises it and however often."""
    return hashlib.sha256(f"{rule_id}\n{key}".encode()).hexdigest()[:40]


def findings_writers_index(alias: str) -> str:
    """Where saves of findings say what they have on their way (``common.writers``)."""
    return writers_index(findings_index(alias))


def _keyword() -> dict[str, Any]:
    return {"type": "keyword", "ignore_above": 4096}


FINDINGS_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "id": _keyword(),
        "rule": {
            "properties": {
                "id": _keyword(),
                "name": _keyword(),
                "title": {"type": "text", "fields": {"keyword": _keyword()}},
                "severity": _keyword(),
                "severityRank": {"type": "byte"},
                "techniques": _keyword(),
            }
        },
        "firstEventTime": {"type": "date"},
        "lastEventTime": {"type": "date"},
        "accountId": _keyword(),
        "region": _keyword(),
        "principal": _keyword(),
        "logGroups": _keyword(),
        "eventIds": _keyword(),
        "eventCount": {"type": "integer"},
        "summary": {"type": "text"},
        "status": _keyword(),
        "createdAt": {"type": "date"},
        "updatedAt": {"type": "date"},
        "delivery": {"properties": {"webhook": _keyword(), "sns": _keyword()}},
    },
}

_SEVERITY_RANK = {"informational": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}


@dataclass(frozen=True)
class RuleRef:
    """What a finding says of the rule that raised it."""

    id: str
    name: str
    title: str
    severity: str
    techniques: tuple[str, ...] = ()


@dataclass(frozen=True)
class Finding:
    """One finding, before it is stored."""

    id: str
    rule: RuleRef
    first_event_time: str
    last_event_time: str
    account_id: str
    region: str
    principal: str
    log_groups: tuple[str, ...]
    event_ids: tuple[str, ...]
    summary: str
    event_count: int = 0
    details: dict[str, Any] = field(default_factory=dict)

    def evidence(self) -> dict[str, Any]:
        """What re-evaluating may bring up to date; never the status or its history."""
        return {
            "id": self.id,
            "rule": {
                "id": self.rule.id,
                "name": self.rule.name,
                "title": self.rule.title,
                "severity": self.rule.severity,
                "severityRank": _SEVERITY_RANK.get(self.rule.severity, 2),
                "techniques": list(self.rule.techniques),
            },
            "firstEventTime": self.first_event_time,
            "lastEventTime": self.last_event_time,
            "accountId": self.account_id,
            "region": self.region,
            "principal": self.principal,
            "logGroups": list(self.log_groups),
            "eventIds": list(self.event_ids),
            "eventCount": self.event_count or len(self.event_ids),
            "summary": self.summary,
            "details": self.details,
        }


def now_text() -> str:
    """Now, as findings record times (UTC, milliseconds)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def ensure_findings_index(client: Elasticsearch, alias: str) -> str:
    """Create the findings index if it is not there yet; its name."""
    name = findings_index(alias)
    if not client.indices.exists(index=name):
        client.options(ignore_status=400).indices.create(
            index=name,
            mappings=FINDINGS_MAPPING,
            settings={"index.number_of_shards": 1, "index.auto_expand_replicas": "0-1"},
        )
    return name


def save_findings(
    client: Elasticsearch,
    alias: str,
    findings: Iterable[Finding],
    *,
    channels: Sequence[str] = (),
    refresh: bool = True,
) -> list[str]:
    """Store findings; the ids of those that are new (the rest only have their evidence updated).

    A new finding opens with status ``open`` and one history entry, and is marked pending for
    each notification ``channel``.
    """
    batch = list(findings)
    if not batch:
        return []
    name = ensure_findings_index(client, alias)
    with _pending(client, alias) as created_at:
        actions: list[dict[str, Any]] = []
        for finding in batch:
            evidence = finding.evidence()
            new = {
                **evidence,
                "status": Status.OPEN.value,
                "history": [{"status": Status.OPEN.value, "by": OPENED_BY, "at": created_at}],
                "createdAt": created_at,
                "updatedAt": created_at,
                "delivery": dict.fromkeys(channels, "pending"),
            }
            actions.append({"update": {"_id": finding.id}})
            actions.append({"doc": evidence, "upsert": new})
        response = client.bulk(
            index=name, operations=actions, refresh="wait_for" if refresh else False
        )
    created: list[str] = []
    failures: list[str] = []
    for item in response["items"]:
        outcome = item["update"]
        if outcome.get("error"):
            failures.append(f"{outcome['_id']}: {outcome['error'].get('reason')}")
        elif outcome.get("result") == "created":
            created.append(outcome["_id"])
    if failures:
        raise RuntimeError(f"{len(failures)} findings not stored: {failures[0]}")
    by_id = {action["doc"]["id"]: action["doc"] for action in actions[1::2]}
    for finding_key in created:
        FINDINGS_CREATED.labels(severity=by_id[finding_key]["rule"]["severity"]).inc()
    return created


@contextmanager
def _pending(client: Elasticsearch, alias: str) -> Iterator[str]:
    """Say a save is on its way while it runs; the ``createdAt`` it stamps (not before that).

    The stamp is taken after the pending document is searchable, so it is never earlier than
    ``pending_since``; the document is removed once the save has returned (its findings are
    searchable then, if it asked for ``refresh``; if not, a minute later it is taken for gone).
    """
    index = findings_writers_index(alias)
    if not client.indices.exists(index=index):
        client.options(ignore_status=400).indices.create(
            index=index,
            mappings=writers_mapping(),
            settings={"index.number_of_shards": 1, "index.auto_expand_replicas": "0-1"},
        )
    writer = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
    since = datetime.now(UTC)
    millis = int(since.timestamp() * 1000)
    client.index(
        index=index,
        id=writer,
        document={PENDING_SINCE: millis, HEARTBEAT: millis, "host": socket.gethostname()},
        refresh=True,
    )
    try:
        yield now_text()
    finally:
        client.options(ignore_status=404).delete(index=index, id=writer, refresh=True)


def record_finding(
    client: Elasticsearch,
    alias: str,
    *,
    rule_id: str,
    title: str,
    severity: str,
    summary: str,
    account_id: str,
    key: str,
    event_ids: Sequence[str] = (),
    event_time: str | None = None,
    region: str = "",
    principal: str = "",
    log_groups: Sequence[str] = (),
    techniques: Sequence[str] = (),
    details: dict[str, Any] | None = None,
    channels: Sequence[str] = (),
) -> tuple[str, bool]:
    """Raise a finding from code of any kind (a log-file integrity check, say): its id, and new?

    ``key`` names what the finding is about, so the same key raises the same finding once
    (``s3://bucket/key`` of a modified file, say). ``event_time`` defaults to now.
    """
    when = event_time or now_text()
    finding = Finding(
        id=finding_id(rule_id, key),
        rule=RuleRef(rule_id, rule_id, title, severity, tuple(techniques)),
        first_event_time=when,
        last_event_time=when,
        account_id=account_id,
        region=region,
        principal=principal,
        log_groups=tuple(log_groups),
        event_ids=tuple(event_ids),
        summary=summary,
        event_count=len(event_ids),
        details=details or {},
    )
    created = save_findings(client, alias, [finding], channels=channels)
    return finding.id, bool(created)


class StatusChangeError(ValueError):
    """A status change that cannot be made (an unknown status, a note too long)."""


#: Longest note a status change may carry.
MAX_NOTE_LENGTH = 4000


def status_change(
    source: dict[str, Any], status: str, *, by: str, note: str | None, at: str | None = None
) -> dict[str, Any]:
    """The partial document that moves a finding to ``status``, with a history entry."""
    try:
        new_status = Status(status)
    except ValueError:
        known = ", ".join(s.value for s in Status)
        raise StatusChangeError(f"{status!r} is not a status ({known})") from None
    if note is not None and len(note) > MAX_NOTE_LENGTH:
        raise StatusChangeError(f"a note is at most {MAX_NOTE_LENGTH:,} characters")
    when = at or now_text()
    entry: dict[str, Any] = {"status": new_status.value, "by": by, "at": when}
    if note:
        entry["note"] = note
    history = list(source.get("history") or [])
    return {"status": new_status.value, "history": [*history, entry], "updatedAt": when}


def created_after_request(position: tuple[str, str] | None, size: int = 100) -> dict[str, Any]:
    """The search for findings created after ``position`` (createdAt, id), oldest first.

    For a live feed (``findingsAdded``): keep the last finding's ``(createdAt, id)`` and ask
    again. Send it through whatever confines searches to a tenant.
    """
    request: dict[str, Any] = {
        "query": {"match_all": {}},
        "sort": [{"createdAt": "asc"}, {"id": "asc"}],
        "size": size,
    }
    if position is not None:
        moment = datetime.fromisoformat(position[0])
        request["search_after"] = [int(moment.timestamp() * 1000), position[1]]
    return request


def findings_created_after(
    client: Elasticsearch, alias: str, position: tuple[str, str] | None, size: int = 100
) -> list[dict[str, Any]]:
    """Findings created after ``position`` (createdAt, id), oldest first (every account)."""
    request = created_after_request(position, size)
    response = client.options(ignore_status=404).search(index=findings_index(alias), **request)
    return [hit["_source"] for hit in response.get("hits", {}).get("hits", [])]
