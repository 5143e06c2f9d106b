"""Where an integrity problem becomes a finding: the hook detections wire into.

A modified, missing or unlisted log file and a gap in a digest chain are critical: the
answers built on those files cannot be trusted. The continuous indexer calls
:func:`report_finding` once for each as it is found (or when a file's verdict turns to one
of them). Until a recorder is set, findings are only counted and logged by the caller.

To raise them as detections (issue 10), set the recorder once at start, for instance in
``indexer.service.run_continuous``::

    set_finding_recorder(lambda finding: record_finding(...))
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

#: How grave an integrity finding is: all of them are critical.
CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class IntegrityFinding:
    """One problem: ``kind`` is a file verdict (modified, missing, unlisted) or ``gap``."""

    kind: str
    file: str
    detail: str
    account: str | None
    found_at: datetime
    severity: str = CRITICAL


FindingRecorder = Callable[[IntegrityFinding], None]

_lock = threading.Lock()
_recorder: FindingRecorder | None = None


def set_finding_recorder(recorder: FindingRecorder | None) -> None:
    """Send every integrity finding to ``recorder`` from now on (None: to nobody)."""
    global _recorder  # noqa: PLW0603  one process-wide hook, set once at start
    with _lock:
        _recorder = recorder


def report_finding(finding: IntegrityFinding) -> bool:
    """Hand a finding to the recorder; whether one was set."""
    with _lock:
        recorder = _recorder
    if recorder is None:
        return False
    recorder(finding)
    return True
