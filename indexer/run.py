"""One indexing run: sources in, a summary out, nothing lost silently.

Bad input never stops the run: a damaged file gives up the records before the damage and is
named with its reason, a bad record is named with its position and quarantined, and the run
goes on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from elasticsearch import Elasticsearch

from common.layout import DayRange
from common.metrics import INDEXER_EVENTS, INDEXER_FILES
from indexer.documents import BadRecord, Document, DocumentMaker, Problem, file_documents
from indexer.indices import install_template
from indexer.parallel import ParallelReader
from indexer.pipeline import ONE_SHOT_RETRIES, FileTally, IndexOptions, Pipeline
from indexer.s3 import is_s3_uri, s3_files
from indexer.sources import SkippedFile, SourceError, TrailFile, local_files


@dataclass
class IndexSummary:
    """What a run did, for the closing report and the exit code."""

    files_read: int = 0
    records_read: int = 0
    indexed: int = 0
    already_present: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    failed_files: list[Problem] = field(default_factory=list)
    #: Not indexed as events, kept in the quarantine.
    quarantined_records: list[Problem] = field(default_factory=list)
    #: Not indexed, and not quarantined either.
    rejected_records: list[Problem] = field(default_factory=list)
    #: Indexed, with one field left unindexed: counted in ``indexed`` too.
    partial_records: list[Problem] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """Whether everything found was indexed or already there."""
        return not (self.failed_files or self.quarantined_records or self.rejected_records)

    def add(self, tally: FileTally) -> None:
        """One file's figures; what was deferred past every retry counts as rejected here."""
        self.records_read += tally.records
        self.indexed += tally.indexed
        self.already_present += tally.already_present
        self.quarantined_records += tally.quarantined
        self.rejected_records += tally.rejected + tally.deferred
        self.partial_records += tally.partial
        if tally.broken is not None:
            self.failed_files.append(tally.broken)


_EVERY_DAY = DayRange()
_DEFAULT_OPTIONS = IndexOptions()


def trail_files(
    sources: Iterable[str], days: DayRange, summary: IndexSummary
) -> Iterator[TrailFile]:
    """Every file the sources name; skipped files and unreadable sources go to the summary."""
    for source in sources:
        try:
            found = s3_files(source, days) if is_s3_uri(source) else local_files(Path(source), days)
            for item in found:
                if isinstance(item, SkippedFile):
                    summary.skipped[item.reason] += 1
                else:
                    yield item
        except SourceError as exc:
            summary.failed_files.append(Problem(source, str(exc)))


def index_sources(
    sources: Iterable[str],
    *,
    client: Elasticsearch,
    alias: str,
    days: DayRange = _EVERY_DAY,
    options: IndexOptions = _DEFAULT_OPTIONS,
    on_file: Callable[[str], None] | None = None,
) -> IndexSummary:
    """Index every record in ``sources`` into the monthly indices behind ``alias``."""
    summary = IndexSummary()
    install_template(client, alias, options.layout)
    tallies: list[FileTally] = []
    found = trail_files(sources, days, summary)
    with Pipeline(client, alias, options, default_retries=ONE_SHOT_RETRIES) as pipeline:
        if options.parse_workers > 1:
            with ParallelReader(alias, options.window, options.parse_workers) as reader:
                for read in reader.read(found):
                    tally = _next_file(read.trail_file, summary, tallies, on_file)
                    if read.unreadable is not None:
                        tally.broken = read.unreadable
                    elif read.items is not None:
                        pipeline.take_all(read.items, tally)
                    else:
                        _feed(pipeline, read.trail_file, tally)
        else:
            for trail_file in found:
                _feed(pipeline, trail_file, _next_file(trail_file, summary, tallies, on_file))
    for tally in tallies:
        summary.add(tally)
    client.indices.refresh(index=alias, ignore_unavailable=True, allow_no_indices=True)
    _count(summary, deferred=sum(len(tally.deferred) for tally in tallies))
    return summary


def _next_file(
    trail_file: TrailFile,
    summary: IndexSummary,
    tallies: list[FileTally],
    on_file: Callable[[str], None] | None,
) -> FileTally:
    if on_file is not None:
        on_file(trail_file.name)
    summary.files_read += 1
    tally = FileTally(trail_file.name)
    tallies.append(tally)
    return tally


def _feed(pipeline: Pipeline, trail_file: TrailFile, tally: FileTally) -> None:
    try:
        with trail_file.open() as stream:
            pipeline.feed(stream, tally)
    except OSError as exc:
        tally.broken = Problem(trail_file.name, f"cannot read: {exc}")


def _count(summary: IndexSummary, *, deferred: int) -> None:
    """Add a run's file figures to the shared metrics; events were counted as answered."""
    INDEXER_EVENTS.labels(outcome="rejected").inc(deferred)
    INDEXER_FILES.labels(outcome="read").inc(summary.files_read)
    INDEXER_FILES.labels(outcome="failed").inc(len(summary.failed_files))
    INDEXER_FILES.labels(outcome="skipped").inc(sum(summary.skipped.values()))


def serialised_documents(
    sources: Iterable[str],
    *,
    alias: str,
    summary: IndexSummary,
    days: DayRange = _EVERY_DAY,
    options: IndexOptions = _DEFAULT_OPTIONS,
) -> Iterator[Document]:
    """Every storable record in ``sources`` as its document; the rest go to ``summary``.

    The pipeline short of sending (reading, checking, deriving, serialising): for benchmarks.
    """
    maker = DocumentMaker(alias, options.window)
    for trail_file in trail_files(sources, days, summary):
        summary.files_read += 1
        tally = FileTally(trail_file.name)
        with trail_file.open() as stream:
            for item in file_documents(stream, trail_file.name, maker):
                if isinstance(item, Document):
                    tally.records += 1
                    yield item
                elif isinstance(item, BadRecord):
                    tally.records += 1
                    tally.rejected.append(item.problem)
                else:
                    tally.broken = item.problem
        summary.add(tally)
