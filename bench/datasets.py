"""The input data: generated trail folders, and one big trail file built from their records.

Generation is deterministic for a seed and slow at a million events (a few thousand events a
second), so each folder is kept under the work folder and reused while the generator's
source is unchanged. Inputs are read back with the standard library (gzip, orjson), never
with the reader under test.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

import generator

_GENERATOR_SOURCES = Path(generator.__file__).resolve().parent
_STAMP = "complete.json"
_COPY_NAMESPACE = uuid.UUID("5b1e0c3a-9d4f-4c1e-8a57-0b3c1d2e4f60")


@dataclass(frozen=True)
class TrailFolder:
    """Generated trail files under ``root``: ``events`` records in ``files`` files."""

    root: Path
    events: int
    files: int


@dataclass(frozen=True)
class BigFile:
    """One ``{"Records": [...]}`` file of ``size`` bytes holding ``events`` records."""

    path: Path
    events: int
    size: int


def _generator_fingerprint() -> str:
    digest = hashlib.sha256()
    for source in sorted(_GENERATOR_SOURCES.glob("*.py")):
        digest.update(source.name.encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


def trail_folder(workdir: Path, *, events: int, seed: int, days: int | None = None) -> TrailFolder:
    """Generated trail files for ``events``, ``seed`` and ``days``, made now or reused.

    ``days`` spreads the events over that many days (the generator's default otherwise).
    """
    span = f"-{days}days" if days is not None else ""
    root = workdir / f"trail-{events}-seed{seed}{span}"
    fingerprint = _generator_fingerprint()
    stamp = root / _STAMP
    if stamp.is_file():
        recorded = json.loads(stamp.read_text())
        if recorded.get("generator") == fingerprint:
            return TrailFolder(root / "data", recorded["events"], recorded["files"])
    shutil.rmtree(root, ignore_errors=True)
    print(f"  generating {events:,} events (seed {seed}) under {root} …", flush=True)
    started = time.perf_counter()
    trail = generator.generate(root / "data", events=events, seed=seed, days=days)
    print(f"  … {trail.files:,} files in {time.perf_counter() - started:.0f} s", flush=True)
    stamp.write_text(
        json.dumps({"generator": fingerprint, "events": trail.events, "files": trail.files})
    )
    return TrailFolder(root / "data", trail.events, trail.files)


def trail_records(folder: TrailFolder) -> Iterator[dict[str, Any]]:
    """Every record of a generated folder, in file order, read with gzip and orjson."""
    for path in sorted(folder.root.rglob("*.json.gz")):
        yield from orjson.loads(gzip.decompress(path.read_bytes()))["Records"]


def big_file(workdir: Path, source: TrailFolder, *, megabytes: int, seed: int) -> BigFile:
    """A plain (uncompressed) CloudTrail file of about ``megabytes`` MB from ``source``'s records.

    When one pass over the source is not enough, later passes give each record a new eventID
    (a UUID derived from the pass and the original), so every event is indexed, none merged.
    """
    path = workdir / f"big-{megabytes}mb-seed{seed}-from{source.events}.json"
    stamp = path.with_suffix(".events")
    if path.is_file() and stamp.is_file():
        return BigFile(path, int(stamp.read_text()), path.stat().st_size)
    target = megabytes * 1_000_000
    print(f"  writing a {megabytes:,} MB trail file {path} …", flush=True)
    written = 0
    events = 0
    partial = path.with_suffix(".partial")
    with partial.open("wb") as out:
        out.write(b'{"Records": [')
        written = out.tell()
        passes = 0
        while written < target:
            for record in trail_records(source):
                if passes:
                    copy_id = uuid.uuid5(_COPY_NAMESPACE, f"{passes}:{record['eventID']}")
                    record["eventID"] = str(copy_id)
                line = (b",\n" if events else b"\n") + orjson.dumps(record)
                out.write(line)
                written += len(line)
                events += 1
                if written >= target:
                    break
            passes += 1
        out.write(b"\n]}\n")
    partial.rename(path)
    stamp.write_text(str(events))
    return BigFile(path, events, path.stat().st_size)
