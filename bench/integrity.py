"""Measure 8, integrity: ``trailql verify``'s speed, and what checking costs the continuous modes.

- Verify: :func:`integrity.verify` (what ``trailql verify`` runs, less the printing) over a
  generated trail with digests, in a folder with each digest's signature beside it: files
  (log files and digests) per second, and MB per second of the stored (gzip) bytes and of the
  uncompressed bytes hashed. The median of the rounds.
- Continuous: the loader ``--follow`` and the SQS worker use (:func:`indexer.load.ready_loader`)
  over one day of a dense generated trail in moto's S3 (a file per account, Region and five
  minutes, a digest per hour: CloudTrail's own proportions), loaded as one ``--follow`` poll
  loads it (listed, digests first, in chunks): events per second with integrity checking on
  (digests checked, every file hashed and judged) and off (digests skipped), alternating ABBA,
  each round into a fresh alias. The slowdown is 1 - on ÷ off, the median of the rounds.

moto stands in for S3: its answers take milliseconds, real S3's tens of them, so the share of
the time spent on downloads, and the digests' share with it, is smaller here than it would be.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

import generator
from bench.api_server import free_port
from bench.cluster import Aliases
from bench.datasets import generator_fingerprint
from bench.stats import median
from common.indices import state_index
from common.layout import DayRange
from indexer.follow import FollowOptions, chunked
from indexer.integrity import IntegrityOptions, is_digest
from indexer.load import ready_loader
from indexer.pipeline import IndexOptions
from indexer.report import JsonLinesReport
from indexer.s3 import s3_objects
from indexer.sources import SkippedFile
from integrity import FileVerdict, keys_of_listing, take_inventory, verify
from integrity.keys import FixedKeys

_STAMP = "complete.json"
_START = datetime(2025, 3, 3, tzinfo=UTC)  # a Monday: the generator's busy hours
_BUCKET = "trailql-bench-trail"


@dataclass(frozen=True)
class SignedTrail:
    """A generated trail with digests, the keys that verify them, and its sizes."""

    root: Path
    key_list: dict[str, Any]
    events: int
    log_files: int
    digests: int


@dataclass
class IntegrityFigures:
    """What measure 8 found."""

    files: int
    stored_mb: float
    uncompressed_mb: float
    verify_seconds: list[float] = field(default_factory=list)
    continuous_events: int = 0
    continuous_files: int = 0
    continuous_digests: int = 0
    on: list[float] = field(default_factory=list)  # events/s, integrity checked
    off: list[float] = field(default_factory=list)  # events/s, not checked
    slowdowns: list[float] = field(default_factory=list)

    @property
    def files_per_second(self) -> float:
        """Files verified per second (the median round)."""
        return self.files / median(self.verify_seconds)

    @property
    def slowdown(self) -> float:
        """1 - on ÷ off: the median of the rounds'."""
        return median(self.slowdowns)

    def as_dict(self) -> dict[str, Any]:
        """For results.json."""
        seconds = median(self.verify_seconds)
        return {
            "verify_files": self.files,
            "verify_stored_mb": round(self.stored_mb, 1),
            "verify_uncompressed_mb": round(self.uncompressed_mb, 1),
            "verify_seconds": round(seconds, 2),
            "verify_files_per_second": round(self.files / seconds),
            "verify_stored_mb_per_second": round(self.stored_mb / seconds, 1),
            "verify_uncompressed_mb_per_second": round(self.uncompressed_mb / seconds, 1),
            "continuous_events": self.continuous_events,
            "continuous_files": self.continuous_files,
            "continuous_digests": self.continuous_digests,
            "continuous_on_events_per_second": round(median(self.on)),
            "continuous_off_events_per_second": round(median(self.off)),
            "slowdown": round(self.slowdown, 3),
            "rounds": [
                {"on": round(on), "off": round(off), "slowdown": round(s, 3)}
                for on, off, s in zip(self.on, self.off, self.slowdowns, strict=True)
            ],
        }


def signed_trail(workdir: Path, *, events: int, days: int, seed: int) -> SignedTrail:
    """A generated trail with signed digests, made now or reused while the generator holds."""
    root = workdir / f"signed-trail-{events}-{days}d-seed{seed}"
    fingerprint = generator_fingerprint()
    stamp = root / _STAMP
    if stamp.is_file():
        recorded = json.loads(stamp.read_text())
        if recorded.get("generator") == fingerprint:
            return SignedTrail(root / "data", **recorded["trail"])
    shutil.rmtree(root, ignore_errors=True)
    print(f"  generating {events:,} events over {days} days with digests …", flush=True)
    made = generator.generate(
        root / "data",
        events=events,
        seed=seed,
        start=_START,
        days=days,
        digests=generator.DigestOptions(signing_key=root / "key.pem", bucket=_BUCKET),
    )
    trail = {
        "key_list": made.public_keys,
        "events": made.events,
        "log_files": made.files,
        "digests": made.digests,
    }
    stamp.write_text(json.dumps({"generator": fingerprint, "trail": trail}))
    return SignedTrail(root / "data", **trail)  # type: ignore[arg-type]


def _verify_once(trail: SignedTrail) -> float:
    keys = FixedKeys(keys_of_listing(trail.key_list))
    started = time.perf_counter()
    report = verify(take_inventory([str(trail.root)], DayRange()), keys, now=datetime.now(UTC))
    seconds = time.perf_counter() - started
    counts = report.file_counts
    if counts != {FileVerdict.VALID: trail.log_files} or not report.clean:
        raise RuntimeError(f"the generated trail did not verify cleanly: {counts}")
    return seconds


def _sizes(trail: SignedTrail) -> tuple[float, float]:
    """MB stored (gzip), and MB uncompressed, of every log file and digest."""
    stored = uncompressed = 0
    for path in trail.root.rglob("*.json.gz"):
        data = path.read_bytes()
        stored += len(data)
        uncompressed += len(gzip.decompress(data))
    return stored / 1e6, uncompressed / 1e6


@contextmanager
def _moto() -> Iterator[Any]:
    """moto's S3 in a process of its own (as S3 is not in ours), and a client of it.

    The environment points boto3 there for the block.
    """
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    values = {
        "AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        client = boto3.session.Session().client("s3")
        deadline = time.monotonic() + 60
        while True:
            try:
                client.list_buckets()
                break
            except (BotoCoreError, ClientError):
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        yield client
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        server.terminate()
        server.wait(timeout=30)


def _continuous_once(aliases: Aliases, trail: SignedTrail, key_file: Path, *, check: bool) -> float:
    """One load of the whole bucket as one ``--follow`` poll does it; events per second."""
    alias = aliases.new("integrity-on" if check else "integrity-off")
    client = aliases.client
    try:
        stop = threading.Event()
        loader = ready_loader(
            client,
            alias,
            stop=stop,
            report=JsonLinesReport(io.StringIO()),
            options=IndexOptions(),
            integrity=IntegrityOptions(enabled=check, public_keys=(key_file,)),
        )
        assert loader is not None
        follow = FollowOptions((f"s3://{_BUCKET}/",))
        started = time.perf_counter()
        s3 = boto3.session.Session().client("s3")
        listed = [
            found
            for found in s3_objects(s3, f"s3://{_BUCKET}/", DayRange(), digests=check)
            if not isinstance(found, SkippedFile)
        ]
        pending = sorted(listed, key=lambda obj: not is_digest(obj))
        known = {obj.uri for obj in listed}
        for chunk in chunked(pending, follow):
            outcomes = loader.load(chunk, known)
            if not all(outcome.finished for outcome in outcomes.values()):
                raise RuntimeError(f"not every file loaded: {outcomes}")
        client.indices.refresh(index=alias)
        seconds = time.perf_counter() - started
        indexed = client.count(index=alias)["count"]
        if indexed != trail.events:
            raise RuntimeError(f"{indexed:,} events indexed of {trail.events:,}")
        if check:
            _check_verdicts(client, alias, trail)
        return trail.events / seconds
    finally:
        client.options(ignore_status=404).indices.delete(index=state_index(alias))
        aliases.drop(alias)


def _check_verdicts(client: Any, alias: str, trail: SignedTrail) -> None:
    client.indices.refresh(index=state_index(alias))
    answer = client.search(
        index=state_index(alias),
        size=0,
        query={"term": {"kind": "log"}},
        aggs={"verdicts": {"terms": {"field": "integrity"}}},
    )
    verdicts = {b["key"]: b["doc_count"] for b in answer["aggregations"]["verdicts"]["buckets"]}
    if verdicts != {"valid": trail.log_files}:
        raise RuntimeError(f"the loaded trail was not judged valid throughout: {verdicts}")


def measure_integrity(
    aliases: Aliases,
    workdir: Path,
    *,
    verify_events: int,
    verify_days: int,
    continuous_events: int,
    rounds: int,
    seed: int,
) -> IntegrityFigures:
    """Measure 8."""
    verified = signed_trail(workdir, events=verify_events, days=verify_days, seed=seed)
    stored, uncompressed = _sizes(verified)
    figures = IntegrityFigures(verified.log_files + verified.digests, stored, uncompressed)
    for number in range(rounds):
        figures.verify_seconds.append(_verify_once(verified))
        print(
            f"  verify round {number + 1}/{rounds}: {figures.files:,} files in "
            f"{figures.verify_seconds[-1]:.1f} s",
            flush=True,
        )
    loaded = signed_trail(workdir, events=continuous_events, days=1, seed=seed)
    figures.continuous_events = loaded.events
    figures.continuous_files = loaded.log_files
    figures.continuous_digests = loaded.digests
    key_file = workdir / "bench-public-keys.json"
    key_file.write_text(json.dumps(loaded.key_list))
    with _moto() as s3:
        s3.create_bucket(Bucket=_BUCKET)
        print(f"  uploading {loaded.log_files + loaded.digests:,} objects to moto …", flush=True)
        generator.upload(loaded.root, s3, _BUCKET)
        for number in range(rounds):
            on_first = number % 4 in (0, 3)  # ABBA
            if on_first:
                on = _continuous_once(aliases, loaded, key_file, check=True)
                off = _continuous_once(aliases, loaded, key_file, check=False)
            else:
                off = _continuous_once(aliases, loaded, key_file, check=False)
                on = _continuous_once(aliases, loaded, key_file, check=True)
            figures.on.append(on)
            figures.off.append(off)
            figures.slowdowns.append(1 - on / off)
            print(
                f"  continuous round {number + 1}/{rounds}: on {on:,.0f}/s, off {off:,.0f}/s, "
                f"slowdown {1 - on / off:+.1%}",
                flush=True,
            )
    return figures
