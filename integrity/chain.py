"""Verifying what an inventory holds: digests' signatures and places, chains, log files' hashes.

The order of judgement, for a digest: unreadable, moved (found somewhere other than where
it says it was delivered), modified (its hash is not the one the next verified digest
records), signature invalid, unverifiable (no signature: neither S3 metadata nor a next
digest carrying it, as a folder copy's newest digest), valid. Only a valid digest vouches
for the files it lists; a file listed only by one that cannot be verified yet is not yet
covered, and one listed only by digests that failed is unlisted.

A chain runs newest to oldest through ``previousDigestS3Object``. A digest named there and
not found (where the walk would have found it) is missing, and leaves a gap; a digest that
starts a chain (no previous digest) after others of its trail leaves a gap too: validation
or logging was off. Backfill digests (``_backfill``) stand beside the chain: they are
checked, and vouch for the files they list, but leave no gap.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from integrity.digests import Digest, DigestFormatError, gunzip_digest, parse_digest, sha256_hex
from integrity.inventory import (
    FileReadError,
    FoundFile,
    Hashed,
    Inventory,
    hash_log_file,
    read_digest_bytes,
)
from integrity.keys import KeySource
from integrity.names import (
    DigestName,
    Location,
    Scope,
    digest_name,
    located,
    log_file_name,
    tail,
)
from integrity.signatures import SignatureCheck, check_signature
from integrity.verdicts import (
    DigestResult,
    DigestVerdict,
    FileResult,
    FileVerdict,
    Gap,
    GapReason,
    Report,
    is_covered,
)

_T = TypeVar("_T")

#: Files read at once: reading is I/O (S3) or zlib and hashlib, which release the GIL.
READERS = 8


@dataclass
class ReadDigest:
    """One digest as read: its content, hash and signature, or why it cannot be read."""

    location: Location
    name: DigestName | None = None
    digest: Digest | None = None
    sha256: str | None = None
    signature: str | None = None
    error: str | None = None


def read_digest(found: FoundFile) -> ReadDigest:
    """A digest's content, its hash (uncompressed) and its signature, if it has one."""
    read = ReadDigest(found.location)
    try:
        uncompressed = gunzip_digest(read_digest_bytes(found))
        read.digest = parse_digest(uncompressed)
    except (DigestFormatError, FileReadError) as exc:
        read.error = str(exc)
        return read
    read.sha256 = sha256_hex(uncompressed)
    # The chain is the trail's as the digest says it was delivered (a moved one too).
    read.name = digest_name(Location(found.location.bucket, read.digest.key)) or digest_name(
        Location(None, read.digest.key)
    )
    if read.name is None:
        read.error = f"digestS3Object {read.digest.key!r} is not where CloudTrail puts digests"
    read.signature = found.signature() if found.signature is not None else None
    return read


def verify(
    inventory: Inventory,
    keys: KeySource,
    *,
    now: datetime,
    readers: int = READERS,
    progress: Callable[[], None] | None = None,
) -> Report:
    """Read everything the inventory holds and judge it.

    Raises:
        integrity.keys.PublicKeyError: CloudTrail's public keys could not be had.
    """

    def counted(work: Callable[[FoundFile], _T]) -> Callable[[FoundFile], _T]:
        def run(found: FoundFile) -> _T:
            result = work(found)
            if progress is not None:
                progress()
            return result

        return run

    with ThreadPoolExecutor(max_workers=readers, thread_name_prefix="verify") as pool:
        digests = list(pool.map(counted(read_digest), inventory.digests))
        hashes = list(pool.map(counted(_hash_or_error), inventory.log_files))
    logs = [
        (found.location, hashed) for found, hashed in zip(inventory.log_files, hashes, strict=True)
    ]
    return judge(inventory, digests, logs, keys, now=now)


def _hash_or_error(found: FoundFile) -> Hashed | str:
    try:
        return hash_log_file(found)
    except FileReadError as exc:
        return f"cannot be read: {exc}"


def judge(
    inventory: Inventory,
    digests: Sequence[ReadDigest],
    logs: Sequence[tuple[Location, Hashed | str]],
    keys: KeySource,
    *,
    now: datetime,
) -> Report:
    """The verdicts, from what was read (see the module's docstring for the rules)."""
    judgement = _Judgement(inventory, digests, keys)
    report = Report()
    report.digests = judgement.digest_results()
    report.gaps = judgement.gaps
    report.digests += judgement.missing_digests
    report.files = judgement.file_results(logs, now)
    return report


@dataclass(frozen=True, slots=True)
class _Parsed:
    """A digest that could be read, with everything judging it needs."""

    read: ReadDigest
    location: Location
    name: DigestName
    digest: Digest
    sha256: str


def _parsed(read: ReadDigest) -> _Parsed | None:
    if read.digest is None or read.name is None or read.sha256 is None or read.error:
        return None
    return _Parsed(read, read.location, read.name, read.digest, read.sha256)


class _Judgement:
    """The verdicts of one inventory's digests, then of its log files."""

    def __init__(self, inventory: Inventory, read: Sequence[ReadDigest], keys: KeySource) -> None:
        self.inventory = inventory
        self.read = read
        self.keys = keys
        self.gaps: list[Gap] = []
        self.missing_digests: list[DigestResult] = []
        self._verdicts: dict[Location, DigestVerdict] = {}
        self._parsed = [p for p in map(_parsed, read) if p is not None]
        self._by_location = {p.location: p for p in self._parsed}
        self._by_claim: dict[Location, _Parsed] = {}
        for p in self._parsed:
            self._by_claim.setdefault(Location(p.digest.bucket, p.digest.key), p)
            self._by_claim.setdefault(Location(None, tail(p.digest.key)), p)
        self._successors: dict[Location, list[_Parsed]] = defaultdict(list)
        for p in self._parsed:
            if p.digest.previous_key is not None:
                bucket = p.digest.previous_bucket or p.digest.bucket
                before = self._find(bucket, p.digest.previous_key)
                if before is not None:
                    self._successors[before.location].append(p)
        self._checks = {p.location: self._check(p) for p in self._parsed}

    def _find(self, bucket: str, key: str) -> _Parsed | None:
        """The digest delivered to ``bucket``/``key``, wherever it was found."""
        for where in (Location(bucket, key), Location(None, tail(key))):
            found = self._by_location.get(where) or self._by_claim.get(where)
            if found is not None:
                return found
        return None

    def _check(self, p: _Parsed) -> SignatureCheck | None:
        """Its signature checked (its own, or as the next digest carries it); None: none."""
        signature = p.read.signature
        if signature is None:
            carried = (s.digest.previous_signature for s in self._successors[p.location])
            signature = next((c for c in carried if c), None)
        if signature is None:
            return None
        return check_signature(p.digest, p.sha256, signature, self.keys, p.name.home_region)

    def _verdict(self, read: ReadDigest) -> tuple[DigestVerdict, str | None]:
        """One digest's verdict and why."""
        p = self._by_location.get(read.location)
        if p is None or p.read is not read:
            return DigestVerdict.UNREADABLE, read.error
        if not p.location.names(p.digest.bucket, p.digest.key):
            return DigestVerdict.MOVED, f"delivered to s3://{p.digest.bucket}/{p.digest.key}"
        for successor in self._successors[p.location]:
            check = self._checks[successor.location]
            recorded = successor.digest.previous_sha256
            if check is not None and check.valid and recorded not in (None, p.sha256):
                return DigestVerdict.MODIFIED, (
                    f"its hash is {p.sha256}; the next digest, {successor.location}, "
                    f"records {recorded}"
                )
        check = self._checks[p.location]
        if check is None:
            return DigestVerdict.UNVERIFIABLE, (
                "no signature to check: no S3 metadata (x-amz-meta-signature) or .sig file, "
                "and no later digest carries it"
            )
        if not check.valid:
            return DigestVerdict.SIGNATURE_INVALID, check.reason
        return DigestVerdict.VALID, None

    def digest_results(self) -> list[DigestResult]:
        """Every digest read, judged; then the chains' gaps and missing digests."""
        results: list[DigestResult] = []
        for read in self.read:
            verdict, detail = self._verdict(read)
            self._verdicts[read.location] = verdict
            results.append(DigestResult(read.location, verdict, detail))
        self._chain_gaps()
        return results

    def _chain_gaps(self) -> None:
        trails: dict[str, list[_Parsed]] = defaultdict(list)
        for p in self._parsed:
            if not p.name.backfill:
                trails[p.name.trail_id].append(p)
        missing: dict[Location, DigestResult] = {}
        for chain in trails.values():
            chain.sort(key=lambda p: (p.digest.end, p.location))
            for position, p in enumerate(chain):
                earlier = [e for e in chain[:position] if e.digest.end <= p.digest.start]
                before = earlier[-1] if earlier else None
                gap = _GapAt(
                    f"{p.name.trail} ({p.name.scope})",
                    before.digest.end if before else None,
                    before.location if before else None,
                    p,
                )
                if p.digest.previous_key is None:
                    if before is not None:
                        self.gaps.append(gap.gap(GapReason.RESTARTED))
                    continue
                bucket = p.digest.previous_bucket or p.digest.bucket
                if self._find(bucket, p.digest.previous_key) is not None:
                    continue
                where = located(bucket, p.digest.previous_key, in_folder=p.location.bucket is None)
                if not self.inventory.would_find(where):
                    continue  # before the days asked for, or outside the sources walked
                detail = f"the next digest, {p.location}, names it"
                missing.setdefault(where, DigestResult(where, DigestVerdict.MISSING, detail))
                self.gaps.append(gap.gap(GapReason.DIGEST_MISSING))
        self.missing_digests = list(missing.values())

    def file_results(
        self, logs: Sequence[tuple[Location, Hashed | str]], now: datetime
    ) -> list[FileResult]:
        """Every log file found, judged; then those listed and not found."""
        listings: dict[Location, list[tuple[str, _Parsed]]] = defaultdict(list)
        for p in self._parsed:
            for listed in p.digest.log_files:
                for where in {
                    Location(listed.bucket, listed.key),
                    Location(None, tail(listed.key)),
                }:
                    listings[where].append((listed.sha256, p))
        covered_until: dict[Scope, datetime] = {}
        for p in self._parsed:
            scope = p.name.scope
            if p.location.bucket is None:  # a folder's files are known by their tail
                scope = Scope(None, tail(scope.account_folder), scope.region)
            covered_until[scope] = max(p.digest.end, covered_until.get(scope, p.digest.end))
        results: list[FileResult] = []
        found: set[Location] = set()
        for location, hashed in logs:
            found.add(location)
            result = self._listed_file(location, hashed, listings.get(location, []))
            if result is None:
                result = _unlisted_file(location, covered_until, now)
            results.append(result)
        results += self._missing_files(found)
        return results

    def _listed_file(
        self, location: Location, hashed: Hashed | str, listed: list[tuple[str, _Parsed]]
    ) -> FileResult | None:
        """The verdict of a file some digest lists; None when none does."""
        vouching = [(sha, p) for sha, p in listed if self._verdicts[p.location] is _VALID]
        if vouching:
            return _hash_verdict(location, hashed, vouching)
        waiting = [p for _, p in listed if self._verdicts[p.location] is _UNVERIFIABLE]
        if waiting:
            detail = f"listed in {waiting[0].location}, which cannot be verified yet"
            return FileResult(location, FileVerdict.NOT_YET_COVERED, detail, waiting[0].location)
        if listed:
            p = listed[0][1]
            detail = (
                f"listed only in {p.location}, a digest that is {self._verdicts[p.location].label}"
            )
            return FileResult(location, FileVerdict.UNLISTED, detail, p.location)
        return None

    def _missing_files(self, found: set[Location]) -> list[FileResult]:
        missing: dict[Location, FileResult] = {}
        for p in self._parsed:
            if self._verdicts[p.location] is not _VALID:
                continue
            for listed in p.digest.log_files:
                if {Location(listed.bucket, listed.key), Location(None, tail(listed.key))} & found:
                    continue
                where = located(listed.bucket, listed.key, in_folder=p.location.bucket is None)
                if where in missing or not self.inventory.would_find(where):
                    continue
                missing[where] = FileResult(
                    where, FileVerdict.MISSING, f"listed in {p.location}, not found", p.location
                )
        return list(missing.values())


_VALID = DigestVerdict.VALID
_UNVERIFIABLE = DigestVerdict.UNVERIFIABLE


@dataclass(frozen=True, slots=True)
class _GapAt:
    """What a gap before one digest would say."""

    trail: str
    start: datetime | None
    before: Location | None
    after: _Parsed

    def gap(self, reason: GapReason) -> Gap:
        return Gap(
            self.trail,
            self.start,
            self.after.digest.start,
            reason,
            self.before,
            self.after.location,
        )


def _hash_verdict(
    location: Location, hashed: Hashed | str, vouching: list[tuple[str, _Parsed]]
) -> FileResult:
    """A file listed by verified digests: valid when its hash is the one listed."""
    if isinstance(hashed, str):
        return FileResult(location, FileVerdict.MODIFIED, hashed, vouching[0][1].location)
    for sha, p in vouching:
        if sha == hashed.sha256 and hashed.damage is None:
            return FileResult(location, FileVerdict.VALID, None, p.location)
    sha, p = vouching[0]
    damage = f" ({hashed.damage})" if hashed.damage else ""
    detail = f"its hash is {hashed.sha256}{damage}; {p.location} lists {sha}"
    return FileResult(location, FileVerdict.MODIFIED, detail, p.location)


def _unlisted_file(
    location: Location, covered_until: dict[Scope, datetime], now: datetime
) -> FileResult:
    """A file no digest lists: unlisted once a digest ought to, else not yet covered."""
    name = log_file_name(location)
    if name is None:
        detail = "not named as CloudTrail names its log files"
        return FileResult(location, FileVerdict.UNLISTED, detail)
    until = covered_until.get(name.scope)
    if not is_covered(name.delivered, until, now):
        return FileResult(location, FileVerdict.NOT_YET_COVERED, "its digest has not arrived yet")
    if until is None:
        detail = f"no digest lists it: none was found for {name.scope}"
    else:
        detail = "no digest lists it"
    return FileResult(location, FileVerdict.UNLISTED, detail)
