"""Files laid out as CloudTrail delivers them to S3, one gzip per account+region+window."""

from __future__ import annotations

import gzip
import hashlib
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from generator._dice import Dice


@dataclass(frozen=True, slots=True)
class WrittenFile:
    """A log file written, as its digest lists it."""

    path: Path
    account_id: str
    region: str
    window_start: int
    sha256: str  # hex, of the uncompressed bytes
    oldest_event_time: str
    newest_event_time: str


class TrailWriter:
    """Writes under ``out`` with CloudTrail's key layout; counts the files it writes.

    Busy windows are split into files of at most ``max_records`` records, as CloudTrail does.
    With ``keep`` set, it remembers each file for the digests; windows that ``paused`` says
    are paused (logging stopped) are not written at all, and their records are counted in
    ``dropped``.
    """

    def __init__(
        self,
        out: Path,
        dice: Dice,
        *,
        max_records: int,
        keep: bool = False,
        paused: Callable[[int], bool] | None = None,
    ) -> None:
        self.out = out
        self.dice = dice
        self.max_records = max_records
        self.files = 0
        self.dropped = 0
        self.written: list[WrittenFile] = []
        self._keep = keep
        self._paused = paused
        self._folders: dict[tuple[str, str, str], Path] = {}

    def write(
        self, account_id: str, region: str, window_start: int, records: list[dict[str, Any]]
    ) -> None:
        """Write the records one account+region made in the window from ``window_start``."""
        if self._paused is not None and self._paused(window_start):
            self.dropped += len(records)
            return
        stamp = time.strftime("%Y%m%dT%H%MZ", time.gmtime(window_start))
        folder = self._folder(account_id, region, stamp)
        size = self.max_records
        for first in range(0, len(records), size):
            chunk = records[first : first + size]
            body = orjson.dumps({"Records": chunk})
            suffix = self.dice.alnum(16)
            path = folder / f"{account_id}_CloudTrail_{region}_{stamp}_{suffix}.json.gz"
            path.write_bytes(gzip.compress(body, compresslevel=6, mtime=0))
            self.files += 1
            if self._keep:
                times = [record["eventTime"] for record in chunk]
                sha256 = hashlib.sha256(body).hexdigest()
                self.written.append(
                    WrittenFile(
                        path, account_id, region, window_start, sha256, min(times), max(times)
                    )
                )

    def _folder(self, account_id: str, region: str, stamp: str) -> Path:
        """AWSLogs/<account>/CloudTrail/<region>/<yyyy>/<mm>/<dd>, made once per run."""
        key = (account_id, region, stamp[:8])
        folder = self._folders.get(key)
        if folder is None:
            day = f"{stamp[:4]}/{stamp[4:6]}/{stamp[6:8]}"
            folder = self.out / "AWSLogs" / account_id / "CloudTrail" / region / day
            folder.mkdir(parents=True, exist_ok=True)
            self._folders[key] = folder
        return folder
