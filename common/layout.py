"""CloudTrail's S3 layout: which files a walk reads, and the day folders that `--since` picks.

Log files sit in ``AWSLogs/[o-org/]<account>/CloudTrail/<region>/YYYY/MM/DD/`` by the day they
were delivered, digests in ``…/CloudTrail-Digest/<region>/YYYY/MM/DD/`` by the day their hour
ends: both the indexer and ``trailql verify`` read only the folders of the days asked for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

#: File names a folder or prefix walk reads (the indexer's and ``trailql verify``'s): walking
#: skips READMEs, licences and the like.
TRAIL_FILE_SUFFIXES = (".json", ".json.gz", ".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")

_DAY_FOLDER = re.compile(r"(?:^|/)CloudTrail(?:-Digest)?/[^/]+/(\d{4})/(\d{2})/(\d{2})/")


@dataclass(frozen=True, slots=True)
class DayRange:
    """Inclusive UTC days; None on either side: no bound."""

    since: date | None = None
    until: date | None = None

    def overlaps(self, first: date, last: date) -> bool:
        """Whether any day from ``first`` to ``last`` is in range."""
        return (self.since is None or last >= self.since) and (
            self.until is None or first <= self.until
        )

    def admits(self, key: str) -> bool:
        """Whether a path in CloudTrail's layout falls in range; other paths always do."""
        if self.since is None and self.until is None:
            return True
        day = day_folder(key)
        return day is None or self.overlaps(day, day)


def day_folder(key: str) -> date | None:
    """The day of a path in CloudTrail's layout (None for other paths)."""
    match = _DAY_FOLDER.search(key)
    if match is None:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def is_trail_file_name(name: str) -> bool:
    """Whether a walk should read a file of this name."""
    return name.lower().endswith(TRAIL_FILE_SUFFIXES)
