"""``trailql quarantine replay``: every quarantined record through the pipeline again.

For after the cause is fixed (a time window widened, a mapping that now takes a field): a
record that is now indexed leaves the quarantine; one that is not stays, with its reason as
found this time (its document is overwritten, being for the same file and record number).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import groupby

from elasticsearch import Elasticsearch

from indexer.documents import Problem
from indexer.indices import install_template
from indexer.pipeline import ONE_SHOT_RETRIES, FileTally, IndexOptions, Pipeline
from indexer.quarantine import QuarantinedRecord, quarantine_index, quarantined


@dataclass
class ReplaySummary:
    """What a replay did."""

    replayed: int = 0
    indexed: int = 0
    already_present: int = 0
    still_quarantined: list[Problem] = field(default_factory=list)
    #: Not indexed, and not written back to the quarantine either (it is still there).
    rejected: list[Problem] = field(default_factory=list)
    partial: list[Problem] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """Whether the quarantine was emptied."""
        return not self.still_quarantined and not self.rejected


def replay_quarantine(
    client: Elasticsearch,
    alias: str,
    *,
    options: IndexOptions,
    reason: str | None = None,
) -> ReplaySummary:
    """Send every quarantined record of ``alias`` (only those for ``reason``, if given) again."""
    summary = ReplaySummary()
    if not client.indices.exists(index=quarantine_index(alias)):
        return summary  # nothing was ever quarantined
    install_template(client, alias, options.layout)
    tallies: list[FileTally] = []
    with Pipeline(client, alias, options, default_retries=ONE_SHOT_RETRIES) as pipeline:
        for file, records in _by_file(quarantined(client, alias, reason=reason)):
            tally = FileTally(file)
            tallies.append(tally)
            pipeline.replay(records, tally)
    for tally in tallies:
        summary.replayed += tally.records
        summary.indexed += tally.indexed
        summary.already_present += tally.already_present
        summary.still_quarantined += tally.quarantined
        summary.rejected += tally.rejected + tally.deferred
        summary.partial += tally.partial
    for name in (alias, quarantine_index(alias)):
        client.indices.refresh(index=name, ignore_unavailable=True, allow_no_indices=True)
    return summary


def _by_file(
    records: Iterator[QuarantinedRecord],
) -> Iterator[tuple[str, Iterator[QuarantinedRecord]]]:
    """Consecutive records of one file together (they come sorted by file)."""
    yield from groupby(records, key=lambda record: record.file)
