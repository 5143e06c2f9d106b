"""What verification concludes: a verdict per log file and per digest, and the chain's gaps.

A log file is ``valid`` only when a digest that verifies lists it with the hash it has now.
The same words are used by ``trailql verify``, the state index and the GraphQL API.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from integrity.names import Location

#: A log file's name gives its delivery to the minute: a digest covers it once its end is
#: this far past that minute.
DELIVERY_PRECISION = timedelta(minutes=1)
#: How long after a file's delivery its digest may still arrive (CloudTrail delivers one an
#: hour, a little after the hour ends). Past that, a file no digest covers is unlisted.
DIGEST_WAIT = timedelta(hours=2)


class FileVerdict(StrEnum):
    """What is known of one log file."""

    VALID = "valid"  # listed by a verified digest, with the hash it has now
    MODIFIED = "modified"  # listed by a verified digest, with another hash
    MISSING = "missing"  # listed by a verified digest, not found
    UNLISTED = "unlisted"  # found, and listed by no verified digest although one covers it
    NOT_YET_COVERED = "not_yet_covered"  # found, its digest has not arrived (or not verified)

    @property
    def label(self) -> str:
        """As people read it."""
        return self.value.replace("_", " ")


class DigestVerdict(StrEnum):
    """What is known of one digest file."""

    VALID = "valid"  # its signature verifies, where it was delivered
    MODIFIED = "modified"  # its hash is not the one the next digest records
    MISSING = "missing"  # the next digest names it; it is not there
    MOVED = "moved"  # found somewhere other than where it says it was delivered
    SIGNATURE_INVALID = "signature_invalid"  # the signature does not verify
    UNVERIFIABLE = "unverifiable"  # no signature to check (a copy without S3 metadata)
    UNREADABLE = "unreadable"  # not a digest: not gzip, not JSON, fields missing

    @property
    def label(self) -> str:
        """As people read it."""
        return self.value.replace("_", " ")


#: Verdicts that make ``trailql verify`` exit 1. Not yet covered and unverifiable are
#: reported, but nothing checked failed.
FAILED_FILE_VERDICTS = frozenset({FileVerdict.MODIFIED, FileVerdict.MISSING, FileVerdict.UNLISTED})
FAILED_DIGEST_VERDICTS = frozenset(
    {
        DigestVerdict.MODIFIED,
        DigestVerdict.MISSING,
        DigestVerdict.MOVED,
        DigestVerdict.SIGNATURE_INVALID,
        DigestVerdict.UNREADABLE,
    }
)


def is_covered(delivered: datetime, covered_until: datetime | None, now: datetime) -> bool:
    """Whether the digests of a file's scope ought to list a file delivered then.

    ``covered_until`` is the latest end of a digest in its scope: a file delivered within
    the minute before it is covered. A file whose digest would have arrived by ``now`` is
    covered too: the digests after it are missing, or validation was off.
    """
    if covered_until is not None and delivered + DELIVERY_PRECISION <= covered_until:
        return True
    return delivered + DIGEST_WAIT <= now


def stored_file_verdict(document: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """A log file's verdict and its why, from what is known of it as the indexer keeps it.

    The fields: ``sha256`` (its hash, once loaded), ``expected_sha256`` and ``listed_in`` (a
    verified digest lists it), ``gone`` (listed, and not in the bucket), ``covered`` (a digest
    of its scope ends after its delivery). None: nothing is known yet.
    """
    sha256, expected = document.get("sha256"), document.get("expected_sha256")
    listed_in = document.get("listed_in")
    verdict: FileVerdict | None = None  # listed and not loaded yet, or nothing known
    detail = None
    if expected is not None and sha256 is not None:
        verdict = FileVerdict.VALID if sha256 == expected else FileVerdict.MODIFIED
        if verdict is FileVerdict.MODIFIED:
            detail = f"its hash is {sha256}; {listed_in} lists {expected}"
    elif expected is not None and document.get("gone"):
        verdict, detail = FileVerdict.MISSING, f"listed in {listed_in}, not found"
    elif expected is None and sha256 is not None:
        if document.get("covered"):
            verdict, detail = FileVerdict.UNLISTED, "no digest lists it"
        else:
            verdict, detail = FileVerdict.NOT_YET_COVERED, "its digest has not arrived yet"
    return (None if verdict is None else verdict.value), detail


@dataclass(frozen=True, slots=True)
class FileResult:
    """One log file's verdict; ``digest`` is the digest that decided it, if one did."""

    location: Location
    verdict: FileVerdict
    detail: str | None = None
    digest: Location | None = None


@dataclass(frozen=True, slots=True)
class DigestResult:
    """One digest's verdict."""

    location: Location
    verdict: DigestVerdict
    detail: str | None = None


class GapReason(StrEnum):
    """Why a chain has a hole."""

    RESTARTED = "restarted"  # a digest starts a new chain: validation or logging was off
    DIGEST_MISSING = "digest_missing"  # a digest the next one names is not there


@dataclass(frozen=True, slots=True)
class Gap:
    """A stretch of a trail's time no verified chain vouches for.

    ``start`` is the end of the last digest before the gap (None when none was found), ``end``
    the start of the first after it.
    """

    trail: str
    start: datetime | None
    end: datetime
    reason: GapReason
    before: Location | None
    after: Location

    @property
    def detail(self) -> str:
        """One line for people."""
        if self.reason is GapReason.RESTARTED:
            return (
                f"the chain restarts at {self.after} (log file validation or logging was "
                f"off, or the trail was re-created) after {self.before}"
            )
        return f"the digest before {self.after} is missing"


@dataclass(frozen=True, slots=True)
class Problem:
    """One line of a report: a file, what is wrong, and how it is known."""

    file: str
    kind: str
    detail: str
    fails: bool


@dataclass
class Report:
    """Everything one verification found."""

    files: list[FileResult] = field(default_factory=list)
    digests: list[DigestResult] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)

    @property
    def file_counts(self) -> Counter[FileVerdict]:
        """Log files by verdict."""
        return Counter(result.verdict for result in self.files)

    @property
    def digest_counts(self) -> Counter[DigestVerdict]:
        """Digests by verdict."""
        return Counter(result.verdict for result in self.digests)

    @property
    def clean(self) -> bool:
        """Whether everything checked is valid (nothing checked failed)."""
        return not any(problem.fails for problem in self.problems())

    def problems(self) -> list[Problem]:
        """Every file and digest not valid, then every gap, in a stable order."""
        found = [
            Problem(
                str(result.location),
                f"digest {result.verdict.label}",
                result.detail or "",
                result.verdict in FAILED_DIGEST_VERDICTS,
            )
            for result in sorted(self.digests, key=lambda r: r.location)
            if result.verdict is not DigestVerdict.VALID
        ]
        found += [
            Problem(
                str(result.location),
                result.verdict.label,
                result.detail or "",
                result.verdict in FAILED_FILE_VERDICTS,
            )
            for result in sorted(self.files, key=lambda r: r.location)
            if result.verdict is not FileVerdict.VALID
        ]
        found += [
            Problem(gap.trail, "gap", _gap_detail(gap), fails=False)
            for gap in sorted(self.gaps, key=lambda g: (g.trail, g.end))
        ]
        return found


def _gap_detail(gap: Gap) -> str:
    start = "?" if gap.start is None else f"{gap.start:%Y-%m-%dT%H:%M:%SZ}"
    return f"{start} to {gap.end:%Y-%m-%dT%H:%M:%SZ}: {gap.detail}"
