"""Measure 8, detections: the whole pack backfilled over the generated events, and the lag
from a file being indexed to its finding being queryable.

- Backfill: the generated trail indexed into a fresh alias (not timed), then every shipped
  rule evaluated over all of it and the findings stored, as ``trailql detect`` does:
  events per second. Run twice; the second run finds the same findings and creates none.
- Lag: files of a few events (one of them a log group deletion) dated inside the trail, each
  indexed as the continuous modes do (the pipeline, then the hook with the batch's span),
  with the continuous detector running on its thread; from the moment the file's events are
  acknowledged until its finding is returned by a search of the findings index: p50, p95.
"""

from __future__ import annotations

import gzip
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from elasticsearch import Elasticsearch

from bench.cluster import Aliases
from bench.datasets import TrailFolder
from bench.stats import percentile
from detections import DetectionSettings, Window, findings_index, load_rules
from detections.continuous import ContinuousDetector, configured
from indexer.run import index_sources

_EVERYTHING = Window(datetime(1970, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC))


@dataclass
class DetectionFigures:
    """What measure 8 found."""

    events: int
    rules: int
    backfill_seconds: float
    backfill_events_per_second: float
    findings: int
    second_run_created: int
    lag_files: int
    lag_p50_seconds: float
    lag_p95_seconds: float

    def as_dict(self) -> dict[str, Any]:
        """The figures for the results document."""
        return {key: round(value, 3) if isinstance(value, float) else value
                for key, value in self.__dict__.items()}  # fmt: skip


def _attack_file(folder: Path, number: int, when: datetime) -> tuple[Path, str]:
    event_id = str(uuid.uuid4())
    record = {
        "eventVersion": "1.09",
        "eventID": event_id,
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "logs.amazonaws.com",
        "eventName": "DeleteLogGroup",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.50",
        "userAgent": "aws-cli/2.17.0",
        "userIdentity": {"type": "IAMUser", "userName": f"bench-intruder-{number}",
                         "arn": f"arn:aws:iam::234567890123:user/bench-intruder-{number}",
                         "accountId": "234567890123"},
        "requestParameters": {"logGroupName": f"/bench/lag-{number}"},
        "recipientAccountId": "234567890123",
        "eventType": "AwsApiCall",
    }  # fmt: skip
    path = folder / f"lag-{number:04d}.json.gz"
    path.write_bytes(gzip.compress(orjson.dumps({"Records": [record]})))
    return path, event_id


def _finding_queryable(client: Elasticsearch, alias: str, event_id: str) -> bool:
    response = client.options(ignore_status=404).search(
        index=findings_index(alias), query={"term": {"eventIds": event_id}}, size=0
    )
    return bool(response.get("hits", {}).get("total", {}).get("value"))


def measure_detections(
    client: Elasticsearch, aliases: Aliases, trail: TrailFolder, *, lag_files: int, workdir: Path
) -> DetectionFigures:
    """Backfill speed and continuous lag over ``trail``."""
    alias = aliases.new("detections")
    index_sources([str(trail.root)], client=client, alias=alias)
    client.indices.refresh(index=alias)
    events = client.count(index=alias)["count"]
    pack = load_rules([])
    setup = configured(client, alias, DetectionSettings(), pack)
    started = time.perf_counter()
    outcome, _ = setup.detector.evaluate(_EVERYTHING)
    backfill = time.perf_counter() - started
    again, _ = setup.detector.evaluate(_EVERYTHING)

    folder = workdir / f"detections-lag-{uuid.uuid4().hex[:6]}"
    folder.mkdir(parents=True)
    last = client.search(index=alias, size=0, aggs={"last": {"max": {"field": "eventTime"}}})
    latest = datetime.fromtimestamp(last["aggregations"]["last"]["value"] / 1000, UTC)
    lags: list[float] = []
    with ContinuousDetector(client, alias, setup, idle_seconds=5.0) as detector:
        for number in range(lag_files):
            when = latest - timedelta(hours=1) + timedelta(seconds=number)
            path, event_id = _attack_file(folder, number, when)
            index_sources([str(path)], client=client, alias=alias)
            acknowledged = time.perf_counter()
            detector.submit(when, when)  # what the loader's hook does after each batch
            while not _finding_queryable(client, alias, event_id):
                if time.perf_counter() - acknowledged > 60:
                    raise RuntimeError("no finding within 60 s")
                time.sleep(0.01)
            lags.append(time.perf_counter() - acknowledged)
    aliases.drop(alias)
    return DetectionFigures(
        events=events,
        rules=len(pack.rules),
        backfill_seconds=backfill,
        backfill_events_per_second=events / backfill,
        findings=outcome.findings,
        second_run_created=len(again.created),
        lag_files=lag_files,
        lag_p50_seconds=percentile(lags, 0.5),
        lag_p95_seconds=percentile(lags, 0.95),
    )
