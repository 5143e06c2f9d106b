"""Integrity in the continuous modes: digests checked as they arrive, log files judged by them.

The loader hands this hook what it loads: each log file's hash (of its uncompressed bytes,
taken while it is read) goes into its state document, and each batch of digest files is
checked (:mod:`indexer.digests`: signature, place, chain link) and what the verified ones
list written into the documents of the files they list. The state index works each log
file's verdict out from what its document then holds (``integrity.stored_file_verdict``),
whichever came first:

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

from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from common.metrics import INTEGRITY_VERDICTS
from indexer.digests import DigestBatch, DigestOutcome
from indexer.notifications import S3Object
from indexer.report import Report
from indexer.state import StateIndex, VerdictChange
from integrity import (
    FAILED_DIGEST_VERDICTS,
    FAILED_FILE_VERDICTS,
    CloudTrailKeys,
    DigestVerdict,
    IntegrityFinding,
    KeySource,
    Location,
    PublicKeyError,
    is_digest_key,
    log_file_name,
    read_key_files,
    report_finding,
)
from integrity.verdicts import DELIVERY_PRECISION

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_SWEEP_PAGE = 1000
_FAILED = {verdict.value for verdict in FAILED_FILE_VERDICTS}
_FAILED_DIGESTS = {verdict.value for verdict in FAILED_DIGEST_VERDICTS}


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
        """Check a batch of digests; ``known``: every URI there is, when just listed.

        Written in this order: what the verified ones list, then their own documents (so a
        digest recorded as checked has its listing written), then the files they cover.

        Raises:
            indexer.bulk.ElasticsearchUnavailableError: the state could not be written.
        """
        batch = DigestBatch(self._state, self._s3, self._keys, known, self._counted)
        try:
            outcomes = batch.check(objects)
        except PublicKeyError as exc:
            self._report.log("error", "cannot check digests' signatures", error=str(exc))
            return {obj.uri: DigestOutcome(failed=str(exc)) for obj in objects}
        self.changed(self._state.update(batch.file_fields))
        self._state.put(batch.documents)
        if batch.covered:
            self._state.refresh()
            self._sweep(batch.covered)
        return outcomes

    def _counted(
        self, kind: str, verdict: str, uri: str, detail: str | None, account: str | None
    ) -> None:
        INTEGRITY_VERDICTS.labels(kind=kind, verdict=verdict).inc()
        if verdict in _FAILED_DIGESTS or kind == "gap":
            self._problem(kind, verdict, uri, detail, account)

    def _sweep(self, covered: dict[str, datetime]) -> None:
        """Loaded files that a digest of their scope now covers and none lists: unlisted."""
        scopes = [
            {
                "bool": {
                    "filter": [
                        {"term": {"scope": scope}},
                        {"range": {"delivered_at": {"lte": _text(end - DELIVERY_PRECISION)}}},
                    ]
                }
            }
            for scope, end in covered.items()
        ]
        query = {
            "bool": {
                "filter": [
                    {"term": {"kind": "log"}},
                    {"exists": {"field": "sha256"}},
                    {"bool": {"should": scopes, "minimum_should_match": 1}},
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


def _text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def is_digest(obj: S3Object) -> bool:
    """Whether an object is a digest file (which the hook checks instead of indexing)."""
    return is_digest_key(obj.key)
