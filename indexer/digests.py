"""Checking a batch of digest files as they arrive, in a handful of requests however many.

For a batch (one ``--follow`` chunk, or the digests one SQS batch announces): download them
all (a few at once), read each, ask the state index once for what it knows of them, of the
digests before them and of the digests after them, judge each (its place, its signature:
from its S3 metadata, or carried by the next digest; its hash against what the next verified
digest records), and check each link to the digest before (a missing one, or a chain
starting after others of its trail, is a gap). What is to be written is gathered: the files
the verified digests list (``file_fields``), then the digests' own documents (``documents``),
which the caller writes in that order, so that a digest is never recorded as checked before
its listing is.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from indexer.notifications import S3Object
from indexer.state import StateIndex, uri_document_id
from integrity import (
    DigestVerdict,
    KeySource,
    Location,
    ReadDigest,
    check_signature,
    digest_name,
    log_file_name,
    read_digest,
)
from integrity.inventory import FoundFile

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

#: Digests downloaded at once: small objects, whose time is S3's answering.
_DOWNLOADS = 16


@dataclass(frozen=True, slots=True)
class DigestOutcome:
    """A digest handled (``failed`` None), or why it could not be, to try again later."""

    verdict: DigestVerdict | None = None
    failed: str | None = None


@dataclass
class Checked:
    """One digest of the batch, as read and judged."""

    obj: S3Object
    read: ReadDigest
    etag: str | None
    stored: dict[str, Any] | None = None  # its document, if it was checked before
    verdict: DigestVerdict = DigestVerdict.UNREADABLE
    detail: str | None = None

    @property
    def previous(self) -> str | None:
        """The URI of the digest before it, as it names it."""
        digest = self.read.digest
        if digest is None or digest.previous_key is None:
            return None
        return f"s3://{digest.previous_bucket or digest.bucket}/{digest.previous_key}"


#: Counts, logs and reports one verdict: kind (digest, gap), verdict, URI, detail, account.
Notify = Callable[[str, str, str, str | None, str | None], None]


@dataclass
class DigestBatch:
    """Checks one batch; its documents and file fields are gathered, then written at once."""

    state: StateIndex
    s3: S3Client
    keys: KeySource
    known: AbstractSet[str] | None
    notify: Notify
    now: str = field(default_factory=lambda: _text(datetime.now(UTC)))
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)  # by _id
    file_fields: dict[str, dict[str, Any]] = field(default_factory=dict)  # by URI
    covered: dict[str, datetime] = field(default_factory=dict)  # latest end by scope

    def check(self, objects: Sequence[S3Object]) -> dict[str, DigestOutcome]:
        """Every digest's outcome by URI.

        Raises:
            integrity.PublicKeyError: CloudTrail's keys cannot be had (the batch is retried).
            indexer.bulk.ElasticsearchUnavailableError: the state could not be written.
        """
        outcomes: dict[str, DigestOutcome] = {}
        batch: list[Checked] = []
        for obj, fetched in zip(objects, self._download(objects), strict=True):
            if isinstance(fetched, str):
                outcomes[obj.uri] = DigestOutcome(failed=fetched)
            else:
                batch.append(fetched)
        batch.sort(key=lambda c: c.obj.key)  # by account, region, day and hour: chain order
        wanted = {c.obj.uri for c in batch} | {c.previous for c in batch if c.previous}
        wanted |= {f"gap:{c.obj.uri}" for c in batch}
        stored = self.state.documents(sorted(wanted))
        for checked in batch:
            checked.stored = stored.get(checked.obj.uri)
        successors = self._successors(batch)
        self._judge(batch, successors)
        for checked in batch:
            self._document(checked)
        for checked in batch:
            self._link(checked, batch, stored)
        self._listings(batch)
        outcomes.update({c.obj.uri: DigestOutcome(c.verdict) for c in batch})
        return outcomes

    def _download(self, objects: Sequence[S3Object]) -> list[Checked | str]:
        def fetch(obj: S3Object) -> Checked | str:
            try:
                response = self.s3.get_object(Bucket=obj.bucket, Key=obj.key)
                data = response["Body"].read()
            except (ClientError, BotoCoreError) as exc:
                return f"cannot read: {exc}"
            signature = response.get("Metadata", {}).get("signature")
            found = FoundFile(
                Location(obj.bucket, obj.key), lambda: io.BytesIO(data), lambda: signature
            )
            return Checked(obj, read_digest(found), response.get("ETag"))

        with ThreadPoolExecutor(max_workers=_DOWNLOADS, thread_name_prefix="digest") as pool:
            return list(pool.map(fetch, objects))

    def _successors(self, batch: list[Checked]) -> dict[str, dict[str, Any]]:
        """The digest after each, by URI: checked in this batch, or before it."""
        found: dict[str, dict[str, Any]] = {}
        uris = [c.obj.uri for c in batch]
        for start in range(0, len(uris), 1000):
            chunk = uris[start : start + 1000]
            query = {
                "bool": {
                    "filter": [{"term": {"kind": "digest"}}, {"terms": {"previous_digest": chunk}}]
                }
            }
            for document in self.state.search(query, size=len(chunk)):
                found[document["previous_digest"]] = document
        return found

    def _judge(self, batch: list[Checked], stored_successors: dict[str, dict[str, Any]]) -> None:
        """Each digest's verdict (see ``integrity.chain`` for the order of judgement)."""
        in_batch = {
            c.previous: c for c in batch if c.previous and c.read.name and not c.read.name.backfill
        }
        signatures = {
            c.obj.uri: self._signature(c, in_batch, stored_successors)
            for c in batch
            if c.read.digest is not None and c.read.name is not None and c.read.sha256
        }
        for checked in batch:
            read = checked.read
            if read.digest is None or read.name is None or read.sha256 is None:
                checked.verdict, checked.detail = DigestVerdict.UNREADABLE, read.error
                continue
            if not Location(checked.obj.bucket, checked.obj.key).names(
                read.digest.bucket, read.digest.key
            ):
                checked.verdict = DigestVerdict.MOVED
                checked.detail = f"delivered to s3://{read.digest.bucket}/{read.digest.key}"
                continue
            recorded = self._recorded_hash(checked, in_batch, stored_successors, signatures)
            if recorded is not None and recorded[0] != read.sha256:
                checked.verdict = DigestVerdict.MODIFIED
                checked.detail = (
                    f"its hash is {read.sha256}; the next digest, {recorded[1]}, records "
                    f"{recorded[0]}"
                )
            elif signatures[checked.obj.uri] is None:
                checked.verdict = DigestVerdict.UNVERIFIABLE
                checked.detail = "no signature to check: the object has no x-amz-meta-signature"
            elif signatures[checked.obj.uri]:
                checked.verdict, checked.detail = DigestVerdict.VALID, None
            else:
                checked.verdict = DigestVerdict.SIGNATURE_INVALID

    def _signature(
        self,
        checked: Checked,
        in_batch: dict[str, Checked],
        stored_successors: dict[str, dict[str, Any]],
    ) -> bool | None:
        """Whether its signature holds (its own, or the next digest's copy); None: none."""
        read = checked.read
        assert read.digest is not None  # a readable digest
        assert read.name is not None
        assert read.sha256 is not None
        after = in_batch.get(checked.obj.uri) or in_batch.get(_claimed(checked) or "")
        if after is not None and after.read.digest is not None:
            carried = after.read.digest.previous_signature
        else:
            carried = (stored_successors.get(checked.obj.uri) or {}).get("previous_signature")
        read.signature = read.signature or carried
        if read.signature is None:
            return None
        check = check_signature(
            read.digest, read.sha256, read.signature, self.keys, read.name.home_region
        )
        if not check.valid:
            checked.detail = check.reason
        return check.valid

    @staticmethod
    def _recorded_hash(
        checked: Checked,
        in_batch: dict[str, Checked],
        stored_successors: dict[str, dict[str, Any]],
        signatures: dict[str, bool | None],
    ) -> tuple[str, str] | None:
        """The hash the next verified digest records for this one, and that digest's URI."""
        after = in_batch.get(checked.obj.uri) or in_batch.get(_claimed(checked) or "")
        if after is not None and after.read.digest is not None:
            if signatures.get(after.obj.uri) and after.read.digest.previous_sha256:
                return after.read.digest.previous_sha256, after.obj.uri
            return None
        stored = stored_successors.get(checked.obj.uri)
        if (
            stored
            and stored.get("integrity") == DigestVerdict.VALID
            and stored.get("previous_sha256")
        ):
            return stored["previous_sha256"], stored["object"]
        return None

    def _document(self, checked: Checked) -> None:
        read, obj = checked.read, checked.obj
        document: dict[str, Any] = {
            "kind": "digest",
            "object": obj.uri,
            "bucket": obj.bucket,
            "key": obj.key,
            "etag": checked.etag.strip('"') if checked.etag else None,
            "done_at": self.now,
            "sha256": read.sha256,
            "signature": read.signature,
            "integrity": checked.verdict.value,
            "integrity_detail": checked.detail,
            "integrity_at": self.now,
        }
        before = checked.stored or {}
        if before.get("integrity") == checked.verdict.value:
            document["integrity_at"] = before.get("integrity_at", self.now)
        else:
            self.notify("digest", checked.verdict.value, obj.uri, checked.detail, _account(read))
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
                "previous_digest": checked.previous,
                "previous_sha256": digest.previous_sha256,
                "previous_signature": digest.previous_signature,
            }
            if checked.verdict is not DigestVerdict.UNVERIFIABLE:
                scope = str(name.scope)
                self.covered[scope] = max(digest.end, self.covered.get(scope, digest.end))
        else:
            found = digest_name(Location(obj.bucket, obj.key))
            if found is not None:
                document |= {"account": found.scope.account, "region": found.scope.region}
        self.documents[uri_document_id(obj.uri)] = document

    def _link(self, checked: Checked, batch: list[Checked], stored: dict[str, Any]) -> None:
        """The link to the digest before: a predecessor changed, missing, or a restart."""
        read = checked.read
        digest, name = read.digest, read.name
        if digest is None or name is None or name.backfill:
            return
        previous = checked.previous
        if previous is None:
            before = self._latest_before(name.trail_id, digest.start, batch)
            if before is not None:
                self._gap(checked, before, "restarted", stored)
            return
        if any(previous in (c.obj.uri, _claimed(c)) for c in batch):
            return  # judged in this batch, against this very digest
        document = stored.get(previous)
        if document is not None and document.get("done_at") is not None:
            if (
                checked.verdict is DigestVerdict.VALID
                and document.get("sha256") != digest.previous_sha256
                and document.get("integrity") != DigestVerdict.MODIFIED
            ):
                detail = (
                    f"its hash is {document.get('sha256')}; the next digest, {checked.obj.uri}, "
                    f"records {digest.previous_sha256}"
                )
                self.documents[uri_document_id(previous)] = {
                    **document,
                    "integrity": DigestVerdict.MODIFIED.value,
                    "integrity_detail": detail,
                    "integrity_at": self.now,
                }
                self.notify("digest", "modified", previous, detail, _account(read))
            return
        if exists(self.s3, previous, self.known):
            return  # there, and checked in its turn (its successor is then found by search)
        if document is None or document.get("integrity") != DigestVerdict.MISSING:
            bucket, key = previous.removeprefix("s3://").split("/", 1)
            detail = f"the next digest, {checked.obj.uri}, names it"
            self.documents[uri_document_id(previous)] = {
                "kind": "digest",
                "object": previous,
                "bucket": bucket,
                "key": key,
                "account": name.scope.account,
                "region": name.scope.region,
                "scope": str(name.scope),
                "trail": name.trail_id,
                "integrity": DigestVerdict.MISSING.value,
                "integrity_detail": detail,
                "integrity_at": self.now,
            }
            self.notify("digest", "missing", previous, detail, name.scope.account)
        before = self._latest_before(name.trail_id, digest.start, batch)
        self._gap(checked, before, "digest_missing", stored)

    def _latest_before(
        self, trail: str, start: datetime, batch: list[Checked]
    ) -> dict[str, Any] | None:
        """The last digest of a trail ending by ``start``: in this batch, or checked before."""
        earlier = [
            c
            for c in batch
            if c.read.name is not None
            and c.read.name.trail_id == trail
            and not c.read.name.backfill
            and c.read.digest is not None
            and c.read.digest.end <= start
        ]
        if earlier:
            last = max(earlier, key=lambda c: c.read.digest.end if c.read.digest else start)
            return self.documents[uri_document_id(last.obj.uri)]
        found = self.state.search(
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

    def _gap(
        self,
        checked: Checked,
        before: dict[str, Any] | None,
        reason: str,
        stored: dict[str, Any],
    ) -> None:
        read = checked.read
        digest, name = read.digest, read.name
        if digest is None or name is None or f"gap:{checked.obj.uri}" in stored:
            return  # recorded when this digest was first checked
        detail = (
            f"the chain restarts at {checked.obj.uri}: log file validation or logging was off"
            if reason == "restarted"
            else f"the digest before {checked.obj.uri} is missing"
        )
        self.documents[uri_document_id(f"gap:{checked.obj.uri}")] = {
            "kind": "gap",
            "object": checked.obj.uri,
            "account": name.scope.account,
            "region": name.scope.region,
            "scope": str(name.scope),
            "trail": name.trail_id,
            "gap_start": before.get("digest_end") if before else None,
            "gap_end": _text(digest.start),
            "gap_reason": reason,
            "gap_before": before.get("object") if before else None,
            "gap_after": checked.obj.uri,
            "integrity": "gap",
            "integrity_detail": detail,
            "integrity_at": self.now,
        }
        self.notify("gap", reason, checked.obj.uri, detail, name.scope.account)

    def _listings(self, batch: list[Checked]) -> None:
        """What the verified digests list: expected hashes, and whether each file exists."""
        listed: dict[str, tuple[Any, str]] = {}
        for checked in batch:
            if checked.verdict is DigestVerdict.VALID and checked.read.digest is not None:
                for entry in checked.read.digest.log_files:
                    listed[f"s3://{entry.bucket}/{entry.key}"] = (entry, checked.obj.uri)
        if not listed:
            return
        loaded = {
            uri
            for uri, document in self.state.documents(list(listed)).items()
            if document.get("sha256")
        }
        for uri, (entry, digest_uri) in listed.items():
            merged: dict[str, Any] = {
                "kind": "log",
                "object": uri,
                "bucket": entry.bucket,
                "key": entry.key,
                "expected_sha256": entry.sha256,
                "listed_in": digest_uri,
                "covered": True,
            }
            name = log_file_name(Location(entry.bucket, entry.key))
            if name is not None:
                merged |= {
                    "account": name.scope.account,
                    "region": name.scope.region,
                    "scope": str(name.scope),
                    "delivered_at": _text(name.delivered),
                }
            if uri not in loaded:
                merged["gone"] = not exists(self.s3, uri, self.known)
            self.file_fields[uri] = merged


def exists(s3: S3Client, uri: str, known: AbstractSet[str] | None) -> bool:
    """Whether an object is there: from the listing just made, else by asking S3."""
    if known is not None:
        return uri in known
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
            return False
        raise
    return True


def _claimed(checked: Checked) -> str | None:
    """Where a digest says it was delivered (elsewhere than it is, if it was moved)."""
    digest = checked.read.digest
    return None if digest is None else f"s3://{digest.bucket}/{digest.key}"


def _account(read: ReadDigest) -> str | None:
    return read.name.scope.account if read.name is not None else None


def _text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
