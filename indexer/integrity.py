"""Integrity in the continuous modes: digests checked as they arrive, log files judged by them.

The loader hands this hook what it loads: each log file's hash (of its uncompressed bytes,
taken while it is read) goes into its state document, and each digest file is downloaded
with its S3 metadata, its signature and chain link checked, and its listing written into
the documents of the files it lists. The state index works each log file's verdict out
from what its document then holds (``integrity.stored_file_verdict``), whichever came first:

- loaded, and listed by a verified digest: ``valid`` when the hashes agree, else ``modified``
  (loaded again later with other bytes, it is judged again);
- listed, and not in the bucket: ``missing``;
- loaded, listed by no verified digest while one of its account and region ends after its
  delivery: ``unlisted``; until such a digest arrives: ``not yet covered``.

A digest whose previous digest is not in the bucket makes it ``missing`` and records a gap; a
digest that starts a chain after others of its trail records a gap too. Problems are logged,
counted in ``trailql_integrity_verdicts_total`` and handed to
:func:`integrity.report_finding` (the detections hook).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from common.metrics import INTEGRITY_VERDICTS
from indexer.notifications import S3Object
from indexer.report import Report
from indexer.state import StateIndex, VerdictChange, uri_document_id
from integrity import (
    FAILED_DIGEST_VERDICTS,
    FAILED_FILE_VERDICTS,
    CloudTrailKeys,
    DigestVerdict,
    IntegrityFinding,
    KeySource,
    Location,
    PublicKeyError,
    ReadDigest,
    check_signature,
    digest_name,
    is_digest_key,
    log_file_name,
    read_digest,
    read_key_files,
    report_finding,
)
from integrity.inventory import FoundFile
from integrity.verdicts import DELIVERY_PRECISION

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_SWEEP_PAGE = 1000
_FAILED = {verdict.value for verdict in FAILED_FILE_VERDICTS}


@dataclass(frozen=True)
class IntegrityOptions:
    """Whether the continuous modes check integrity, and with which public keys."""

    enabled: bool = True
    #: Files as ``aws cloudtrail list-public-keys`` prints them; none: ask CloudTrail.
    public_keys: tuple[Path, ...] = ()

    def key_source(self) -> KeySource:
        """Where the keys come from.

        Raises:
            integrity.PublicKeyError: a key file cannot be read.
        """
        return read_key_files(self.public_keys) if self.public_keys else CloudTrailKeys()


@dataclass(frozen=True, slots=True)
class DigestOutcome:
    """A digest handled (``failed`` None), or why it could not be, to try again later."""

    verdict: DigestVerdict | None = None
    failed: str | None = None


@dataclass
class _Digest:
    """One digest being judged."""

    obj: S3Object
    read: ReadDigest
    existing: dict[str, Any] | None
    verdict: DigestVerdict = DigestVerdict.UNREADABLE
    detail: str | None = None
    ends: dict[str, datetime] = field(default_factory=dict)


class IntegrityTracker:
    """Checks the integrity of what one loader loads; one per loader."""

    def __init__(self, state: StateIndex, s3: S3Client, keys: KeySource, report: Report) -> None:
        self._state = state
        self._s3 = s3
        self._keys = keys
        self._report = report

    # Log files -------------------------------------------------------------------------

    def log_fields(
        self, loaded: Sequence[tuple[S3Object, str | None]]
    ) -> dict[str, dict[str, Any]]:
        """The integrity fields of log files just loaded (with their hashes), by URI."""
        names = {obj.uri: log_file_name(Location(obj.bucket, obj.key)) for obj, _ in loaded}
        coverage = self._coverage({str(n.scope) for n in names.values() if n is not None})
        fields: dict[str, dict[str, Any]] = {}
        for obj, sha256 in loaded:
            name = names[obj.uri]
            if name is None:  # not named as CloudTrail names files: no digest will list it
                fields[obj.uri] = {"kind": "log", "sha256": sha256, "covered": True}
                continue
            until = coverage.get(str(name.scope))
            fields[obj.uri] = {
                "kind": "log",
                "sha256": sha256,
                "account": name.scope.account,
                "region": name.scope.region,
                "scope": str(name.scope),
                "delivered_at": _text(name.delivered),
                "covered": until is not None and name.delivered + DELIVERY_PRECISION <= until,
            }
        return fields

    def _coverage(self, scopes: AbstractSet[str]) -> dict[str, datetime]:
        """The latest end of a digest that can vouch for files, for each scope."""
        if not scopes:
            return {}
        response = self._state.client.search(
            index=self._state.name,
            size=0,
            query={
                "bool": {
                    "filter": [{"term": {"kind": "digest"}}, {"terms": {"scope": sorted(scopes)}}],
                    "must_not": [
                        {
                            "terms": {
                                "integrity": [DigestVerdict.UNVERIFIABLE, DigestVerdict.MISSING]
                            }
                        }
                    ],
                }
            },
            aggs={
                "scopes": {
                    "terms": {"field": "scope", "size": len(scopes)},
                    "aggs": {"end": {"max": {"field": "digest_end"}}},
                }
            },
        )
        return {
            bucket["key"]: datetime.fromtimestamp(bucket["end"]["value"] / 1000, UTC)
            for bucket in response["aggregations"]["scopes"]["buckets"]
            if bucket["end"]["value"] is not None
        }

    def changed(self, changes: Iterable[VerdictChange]) -> None:
        """Count, log and report the verdicts that just changed."""
        for change in changes:
            INTEGRITY_VERDICTS.labels(kind="log", verdict=change.verdict or "none").inc()
            if change.verdict in _FAILED:
                self._problem(
                    "log", change.verdict or "", change.object, change.detail, change.account
                )

    def _problem(
        self, kind: str, verdict: str, uri: str, detail: str | None, account: str | None
    ) -> None:
        self._report.log(
            "warning", "integrity problem", file=uri, kind=kind, verdict=verdict, detail=detail
        )
        label = verdict if kind == "log" else f"{kind}_{verdict}"
        report_finding(IntegrityFinding(label, uri, detail or "", account, datetime.now(UTC)))

    # Digests ---------------------------------------------------------------------------

    def digests(
        self, objects: Sequence[S3Object], known: AbstractSet[str] | None = None
    ) -> dict[str, DigestOutcome]:
        """Check each digest (oldest first); ``known``: every URI there is, when listed.

        Raises:
            indexer.bulk.ElasticsearchUnavailableError: the state could not be written.
        """
        outcomes: dict[str, DigestOutcome] = {}
        covered: dict[str, datetime] = {}
        for obj in sorted(objects, key=lambda o: o.key):
            outcome = self._digest(obj, known, covered)
            outcomes[obj.uri] = outcome
        if covered:
            self._state.refresh()
            for scope, end in covered.items():
                self._sweep(scope, end)
        return outcomes

    def _digest(
        self,
        obj: S3Object,
        known: AbstractSet[str] | None,
        covered: dict[str, datetime],
        carried_signature: str | None = None,
    ) -> DigestOutcome:
        try:
            response = self._s3.get_object(Bucket=obj.bucket, Key=obj.key)
            data = response["Body"].read()
        except (ClientError, BotoCoreError) as exc:
            return DigestOutcome(failed=f"cannot read: {exc}")
        signature = response.get("Metadata", {}).get("signature") or carried_signature
        found = FoundFile(
            Location(obj.bucket, obj.key), lambda: io.BytesIO(data), lambda: signature
        )
        read = read_digest(found)
        existing = self._state.documents([obj.uri]).get(obj.uri)
        judged = _Digest(obj, read, existing)
        try:
            self._judge(judged)
        except PublicKeyError as exc:
            self._report.log(
                "error", "cannot check a digest's signature", file=obj.uri, error=str(exc)
            )
            return DigestOutcome(failed=str(exc))
        self._record(judged, response.get("ETag"))
        if read.digest is not None and read.name is not None:
            self._link(judged, known, covered)
            if judged.verdict is DigestVerdict.VALID:
                self._listing(judged, known)
            if judged.verdict is not DigestVerdict.UNVERIFIABLE:
                scope = str(read.name.scope)
                covered[scope] = max(read.digest.end, covered.get(scope, read.digest.end))
        return DigestOutcome(judged.verdict)

    def _judge(self, judged: _Digest) -> None:
        read = judged.read
        digest, name = read.digest, read.name
        if digest is None or name is None or read.sha256 is None:
            judged.verdict, judged.detail = DigestVerdict.UNREADABLE, read.error
            return
        if not Location(judged.obj.bucket, judged.obj.key).names(digest.bucket, digest.key):
            judged.verdict = DigestVerdict.MOVED
            judged.detail = f"delivered to s3://{digest.bucket}/{digest.key}"
            return
        successor = self._successor(judged.obj.uri)
        if read.signature is None and successor is not None:
            read.signature = successor.get("previous_signature")
        if successor is not None and successor.get("integrity") == DigestVerdict.VALID:
            recorded = successor.get("previous_sha256")
            if recorded not in (None, read.sha256):
                judged.verdict = DigestVerdict.MODIFIED
                judged.detail = (
                    f"its hash is {read.sha256}; the next digest, {successor.get('object')}, "
                    f"records {recorded}"
                )
                return
        if read.signature is None:
            judged.verdict = DigestVerdict.UNVERIFIABLE
            judged.detail = "no signature to check: the object has no x-amz-meta-signature"
            return
        check = check_signature(digest, read.sha256, read.signature, self._keys, name.home_region)
        if check.valid:
            judged.verdict, judged.detail = DigestVerdict.VALID, None
        else:
            judged.verdict, judged.detail = DigestVerdict.SIGNATURE_INVALID, check.reason

    def _successor(self, uri: str) -> dict[str, Any] | None:
        found = self._state.search(
            {"bool": {"filter": [{"term": {"kind": "digest"}}, {"term": {"previous_digest": uri}}]}}
        )
        return found[0] if found else None

    def _record(self, judged: _Digest, etag: str | None) -> None:
        read, obj = judged.read, judged.obj
        now = _now()
        document: dict[str, Any] = {
            "kind": "digest",
            "object": obj.uri,
            "bucket": obj.bucket,
            "key": obj.key,
            "etag": etag.strip('"') if etag else None,
            "done_at": now,
            "sha256": read.sha256,
            "signature": read.signature,
            "integrity": judged.verdict.value,
            "integrity_detail": judged.detail,
            "integrity_at": now,
        }
        previous = judged.existing or {}
        if previous.get("integrity") == judged.verdict.value:
            document["integrity_at"] = previous.get("integrity_at", now)
        else:
            self._counted("digest", judged.verdict.value, obj.uri, judged.detail, read)
        digest, name = read.digest, read.name
        if digest is not None and name is not None:
            document |= {
                "account": name.scope.account,
                "region": name.scope.region,
                "scope": str(name.scope),
                "trail": None if name.backfill else name.trail_id,
                "home_region": name.home_region,
                "digest_start": _text(digest.start),
                "digest_end": _text(digest.end),
                "digest_end_text": digest.end_text,
                "fingerprint": digest.fingerprint,
                "previous_digest": _previous_uri(judged),
                "previous_sha256": digest.previous_sha256,
                "previous_signature": digest.previous_signature,
            }
        else:
            found = digest_name(Location(obj.bucket, obj.key))
            if found is not None:
                document |= {"account": found.scope.account, "region": found.scope.region}
        self._state.put({uri_document_id(obj.uri): document})

    def _counted(
        self, kind: str, verdict: str, uri: str, detail: str | None, read: ReadDigest | None
    ) -> None:
        INTEGRITY_VERDICTS.labels(kind=kind, verdict=verdict).inc()
        if verdict in {v.value for v in FAILED_DIGEST_VERDICTS} or kind == "gap":
            account = read.name.scope.account if read and read.name else None
            self._problem(kind, verdict, uri, detail, account)

    def _link(
        self, judged: _Digest, known: AbstractSet[str] | None, covered: dict[str, datetime]
    ) -> None:
        """Check the link to the previous digest; a missing one or a restart is a gap."""
        read = judged.read
        digest, name = read.digest, read.name
        assert digest is not None  # judged readable
        assert name is not None
        previous_uri = _previous_uri(judged)
        if name.backfill:
            return
        if previous_uri is None:
            before = self._latest_before(name.trail_id, digest.start)
            if before is not None:
                self._gap(judged, before, "restarted")
            return
        previous = self._state.documents([previous_uri]).get(previous_uri)
        if previous is not None and previous.get("done_at") is not None:
            if (
                judged.verdict is DigestVerdict.VALID
                and previous.get("sha256") != digest.previous_sha256
                and previous.get("integrity") != DigestVerdict.MODIFIED
            ):
                self._mark_previous_modified(previous, judged)
            elif (
                previous.get("integrity") == DigestVerdict.UNVERIFIABLE
                and digest.previous_signature
            ):
                bucket, key = previous["bucket"], previous["key"]
                self._digest(S3Object(bucket, key), known, covered, digest.previous_signature)
            return
        if self._exists(previous_uri, known):
            return  # there, and will be checked in its turn
        bucket, key = previous_uri.removeprefix("s3://").split("/", 1)
        missing = {
            "kind": "digest",
            "object": previous_uri,
            "bucket": bucket,
            "key": key,
            "account": name.scope.account,
            "region": name.scope.region,
            "scope": str(name.scope),
            "trail": name.trail_id,
            "integrity": DigestVerdict.MISSING.value,
            "integrity_detail": f"the next digest, {judged.obj.uri}, names it",
            "integrity_at": _now(),
        }
        if previous is None or previous.get("integrity") != DigestVerdict.MISSING:
            self._state.put({uri_document_id(previous_uri): missing})
            self._counted("digest", "missing", previous_uri, missing["integrity_detail"], read)
        self._gap(judged, self._latest_before(name.trail_id, digest.start), "digest_missing")

    def _mark_previous_modified(self, previous: dict[str, Any], judged: _Digest) -> None:
        digest = judged.read.digest
        assert digest is not None  # judged readable
        detail = (
            f"its hash is {previous.get('sha256')}; the next digest, {judged.obj.uri}, records "
            f"{digest.previous_sha256}"
        )
        marked = {
            **previous,
            "integrity": "modified",
            "integrity_detail": detail,
            "integrity_at": _now(),
        }
        self._state.put({uri_document_id(previous["object"]): marked})
        self._counted("digest", "modified", previous["object"], detail, judged.read)

    def _latest_before(self, trail: str, start: datetime) -> dict[str, Any] | None:
        found = self._state.search(
            {
                "bool": {
                    "filter": [
                        {"term": {"kind": "digest"}},
                        {"term": {"trail": trail}},
                        {"exists": {"field": "done_at"}},
                        {"range": {"digest_end": {"lte": _text(start)}}},
                    ]
                }
            },
            sort=[{"digest_end": "desc"}],
        )
        return found[0] if found else None

    def _gap(self, judged: _Digest, before: dict[str, Any] | None, reason: str) -> None:
        read = judged.read
        digest, name = read.digest, read.name
        assert digest is not None  # judged readable
        assert name is not None
        gap_id = uri_document_id(f"gap:{judged.obj.uri}")
        if self._state.documents([f"gap:{judged.obj.uri}"]):
            return  # already recorded, when this digest was first checked
        start = before.get("digest_end") if before else None
        detail = (
            f"the chain restarts at {judged.obj.uri}: log file validation or logging was off"
            if reason == "restarted"
            else f"the digest before {judged.obj.uri} is missing"
        )
        self._state.put(
            {
                gap_id: {
                    "kind": "gap",
                    "object": judged.obj.uri,
                    "account": name.scope.account,
                    "region": name.scope.region,
                    "scope": str(name.scope),
                    "trail": name.trail_id,
                    "gap_start": start,
                    "gap_end": _text(digest.start),
                    "gap_reason": reason,
                    "gap_before": before.get("object") if before else None,
                    "gap_after": judged.obj.uri,
                    "integrity": "gap",
                    "integrity_detail": detail,
                    "integrity_at": _now(),
                }
            }
        )
        self._counted("gap", reason, judged.obj.uri, detail, read)

    def _listing(self, judged: _Digest, known: AbstractSet[str] | None) -> None:
        """The files a verified digest lists: their expected hashes, and whether they exist."""
        digest = judged.read.digest
        assert digest is not None  # judged valid
        listed = {f"s3://{f.bucket}/{f.key}": f for f in digest.log_files}
        if not listed:
            return
        existing = self._state.documents(list(listed))
        fields: dict[str, dict[str, Any]] = {}
        for uri, entry in listed.items():
            document = existing.get(uri, {})
            name = log_file_name(Location(entry.bucket, entry.key))
            merged: dict[str, Any] = {
                "kind": "log",
                "object": uri,
                "bucket": entry.bucket,
                "key": entry.key,
                "expected_sha256": entry.sha256,
                "listed_in": judged.obj.uri,
                "covered": True,
            }
            if name is not None:
                merged |= {
                    "account": name.scope.account,
                    "region": name.scope.region,
                    "scope": str(name.scope),
                    "delivered_at": _text(name.delivered),
                }
            if document.get("sha256") is None:
                merged["gone"] = not self._exists(uri, known)
            fields[uri] = merged
        self.changed(self._state.update(fields))

    def _exists(self, uri: str, known: AbstractSet[str] | None) -> bool:
        if known is not None:
            return uri in known
        bucket, key = uri.removeprefix("s3://").split("/", 1)
        try:
            self._s3.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise
        return True

    def _sweep(self, scope: str, end: datetime) -> None:
        """Loaded files of a scope that a digest now covers and none lists: unlisted."""
        until = _text(end - DELIVERY_PRECISION)
        query = {
            "bool": {
                "filter": [
                    {"term": {"kind": "log"}},
                    {"term": {"scope": scope}},
                    {"exists": {"field": "sha256"}},
                    {"range": {"delivered_at": {"lte": until}}},
                ],
                "must_not": [{"term": {"covered": True}}],
            }
        }
        while True:
            found = self._state.search(query, size=_SWEEP_PAGE, source_includes=["object"])
            if not found:
                return
            self.changed(self._state.update({doc["object"]: {"covered": True} for doc in found}))
            if len(found) < _SWEEP_PAGE:
                return
            self._state.refresh()


def _previous_uri(judged: _Digest) -> str | None:
    digest = judged.read.digest
    if digest is None or digest.previous_key is None:
        return None
    return f"s3://{digest.previous_bucket or digest.bucket}/{digest.previous_key}"


def _text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def is_digest(obj: S3Object) -> bool:
    """Whether an object is a digest file (which the hook checks instead of indexing)."""
    return is_digest_key(obj.key)
