"""A generated trail in moto's S3, tampered with, for the continuous modes and the API.

The verdicts the indexer must reach are worked out from the files (gzip, json), not by the
code under test. Tampering: one log file edited (one record changed), one deleted, one added
that no digest lists, and one digest deleted (its files then unlisted, a gap after it).
"""

from __future__ import annotations

import gzip
import io
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

from common.indices import state_index
from generator import DigestOptions, generate, upload
from indexer.follow import FollowOptions, follow
from indexer.integrity import IntegrityOptions
from indexer.report import JsonLinesReport
from tests.indexer.continuous import wait_until
from tests.integrity.trails import (
    PristineFiles,
    a_digest_with_files,
    chain,
    gunzip_json,
    is_digest,
    listed_keys,
    neighbours,
)

START = datetime(2025, 3, 1, tzinfo=UTC)
EDITED = ("123456789012", "us-east-1")  # the account and region whose files are tampered with
GAPPED = ("234567890123", "eu-west-1")  # whose digest is deleted
PLANTED = (
    f"AWSLogs/{EDITED[0]}/CloudTrail/{EDITED[1]}/2025/03/01/"
    f"{EDITED[0]}_CloudTrail_{EDITED[1]}_20250301T1017Z_planted00000000.json.gz"
)


@dataclass
class Tampered:
    """The bucket, the keys that verify its digests, and what the indexer must conclude."""

    bucket: str
    key_file: Path
    files: dict[str, str]  # log file URI -> verdict
    digests: dict[str, str]  # digest URI -> verdict
    gap_after: str  # the digest after the deleted one
    events: dict[str, str]  # eventID -> the URI of the file it is in
    edited: str  # the URI of the edited file
    untouched: str  # the URI of a valid file, left for a test to change

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"


def edited(data: bytes) -> bytes:
    content = json.loads(gzip.decompress(data))
    content["Records"][0]["sourceIPAddress"] = "203.0.113.66"
    return gzip.compress(json.dumps(content).encode(), mtime=0)


def tampered_trail(folder: Path, s3: Any, bucket: str, *, seed: int = 2025) -> Tampered:
    """Generate, upload with signatures as S3 metadata, tamper; the expectations."""
    out = folder / "trail"
    trail = generate(
        out,
        events=100,
        seed=seed,
        start=START,
        days=1,
        digests=DigestOptions(signing_key=folder / "key.pem", bucket=bucket),
    )
    key_file = folder / "public-keys.json"
    key_file.write_text(json.dumps(trail.public_keys))
    facts = PristineFiles(out)
    s3.create_bucket(Bucket=bucket)
    upload(out, s3, bucket)

    def uri(key: str) -> str:
        return f"s3://{bucket}/{key}"

    keys = facts.listing()
    files = {uri(k): "valid" for k in keys if not is_digest(k)}
    digests = {uri(k): "valid" for k in keys if is_digest(k)}

    listed = [key for digest in chain(facts, *EDITED) for key in listed_keys(facts, digest)]
    changed, deleted = listed[len(listed) // 2], listed[len(listed) // 2 - 1]
    s3.put_object(Bucket=bucket, Key=changed, Body=edited(facts.read(changed)))
    files[uri(changed)] = "modified"
    s3.delete_object(Bucket=bucket, Key=deleted)
    files[uri(deleted)] = "missing"
    s3.put_object(Bucket=bucket, Key=PLANTED, Body=gzip.compress(b'{"Records": []}', mtime=0))
    files[uri(PLANTED)] = "unlisted"

    gone = a_digest_with_files(facts, *GAPPED)
    s3.delete_object(Bucket=bucket, Key=gone)
    digests[uri(gone)] = "missing"
    for key in listed_keys(facts, gone):
        files[uri(key)] = "unlisted"
    after = neighbours(facts, gone)[1]

    events: dict[str, str] = {}
    for key in keys:
        if is_digest(key) or key == deleted:
            continue
        data = edited(facts.read(key)) if key == changed else facts.read(key)
        for record in gunzip_json(data)["Records"]:
            events[record["eventID"]] = uri(key)
    untouched = next(
        u
        for u, verdict in files.items()
        if verdict == "valid" and EDITED[0] in u and u in events.values()
    )
    return Tampered(bucket, key_file, files, digests, uri(after), events, uri(changed), untouched)


def verdicts(es: Elasticsearch, alias: str, kind: str) -> dict[str, str | None]:
    """The verdicts the state index holds, by URI, of one kind of document."""
    name = state_index(alias)
    if not es.indices.exists(index=name):
        return {}
    es.indices.refresh(index=name)
    hits = es.search(index=name, query={"term": {"kind": kind}}, size=5000)["hits"]["hits"]
    return {hit["_source"]["object"]: hit["_source"].get("integrity") for hit in hits}


def gaps(es: Elasticsearch, alias: str) -> list[dict[str, Any]]:
    es.indices.refresh(index=state_index(alias))
    hits = es.search(index=state_index(alias), query={"term": {"kind": "gap"}}, size=100)
    return [hit["_source"] for hit in hits["hits"]["hits"]]


class Follower:
    """``--follow`` over one bucket, in a thread, its JSON log kept."""

    def __init__(self, es: Elasticsearch, alias: str, trail: Tampered) -> None:
        self.log = io.StringIO()
        self.stop = threading.Event()
        options = FollowOptions(
            (f"s3://{trail.bucket}/",),
            poll_seconds=1.0,
            integrity=IntegrityOptions(public_keys=(trail.key_file,)),
        )
        self.thread = threading.Thread(
            target=follow,
            args=(options,),
            kwargs={
                "client": es,
                "alias": alias,
                "stop": self.stop,
                "report": JsonLinesReport(self.log),
            },
        )
        self.thread.start()

    def until(self, condition: Callable[[], bool], what: str, timeout: float = 180) -> None:
        wait_until(lambda: condition() or not self.thread.is_alive(), timeout=timeout, what=what)
        assert self.thread.is_alive(), self.log.getvalue()[-3000:]

    def finish(self) -> str:
        self.stop.set()
        self.thread.join(timeout=60)
        assert not self.thread.is_alive()
        return self.log.getvalue()


def settled(es: Elasticsearch, alias: str, trail: Tampered) -> bool:
    """Whether every file and digest has the verdict expected of it."""
    return (
        verdicts(es, alias, "log") == trail.files and verdicts(es, alias, "digest") == trail.digests
    )
