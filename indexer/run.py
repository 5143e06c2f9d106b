"""One indexing run: sources in, a summary out, nothing lost silently.

Bad input never stops the run: a damaged file gives up the records before the damage and is
named with its reason, a bad record is named with its position, and the run goes on.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import orjson
from elasticsearch import Elasticsearch

from indexer.bulk import BulkResult, BulkWriter, Outcome
from indexer.reader import TrailFileError, UnreadableRecord, read_records
from indexer.s3 import is_s3_uri, s3_files
from indexer.sources import DayRange, SkippedFile, SourceError, TrailFile, local_files
from schema import InvalidRecordError, event_document, index_template, monthly_index
from trailql.metrics import INDEXER_EVENTS, INDEXER_FILES


@dataclass(frozen=True, slots=True)
class Problem:
    """Something that was not indexed: where it is and why."""

    where: str
    reason: str


@dataclass
class IndexSummary:
    """What a run did, for the closing report and the exit code."""

    files_read: int = 0
    records_read: int = 0
    indexed: int = 0
    already_present: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    failed_files: list[Problem] = field(default_factory=list)
    rejected_records: list[Problem] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """Whether everything found was indexed or already there."""
        return not self.failed_files and not self.rejected_records


@dataclass(frozen=True)
class BulkOptions:
    """How documents are sent; the defaults suit a small cluster."""

    max_bytes: int = 8 * 1024 * 1024
    concurrency: int = 2
    max_retries: int = 8


_EVERY_DAY = DayRange()
_DEFAULT_BULK = BulkOptions()


def install_template(client: Elasticsearch, alias: str) -> None:
    """Install (or update) the template every monthly index is created from."""
    client.indices.put_index_template(name=alias, **index_template(alias))


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
    bulk: BulkOptions = _DEFAULT_BULK,
    on_file: Callable[[str], None] | None = None,
) -> IndexSummary:
    """Index every record in ``sources`` into the monthly indices behind ``alias``."""
    summary = IndexSummary()
    install_template(client, alias)

    def account(result: BulkResult[str]) -> None:
        if result.outcome is Outcome.INDEXED:
            summary.indexed += 1
        elif result.outcome is Outcome.ALREADY_PRESENT:
            summary.already_present += 1
        else:
            where = f"{result.action.tag}: event {result.action.doc_id}"
            summary.rejected_records.append(Problem(where, result.reason or "rejected"))

    with BulkWriter[str](
        client,
        account,
        max_bytes=bulk.max_bytes,
        concurrency=bulk.concurrency,
        max_retries=bulk.max_retries,
    ) as writer:
        for document in serialised_documents(
            sources, alias=alias, summary=summary, days=days, on_file=on_file
        ):
            writer.add(document.index_name, document.event_id, document.source, document.file)
    client.indices.refresh(index=alias, ignore_unavailable=True, allow_no_indices=True)
    _count(summary)
    return summary


def _count(summary: IndexSummary) -> None:
    """Add a run's figures to the shared metrics (a one-shot run is scraped, if at all, after)."""
    INDEXER_EVENTS.labels(outcome="indexed").inc(summary.indexed)
    INDEXER_EVENTS.labels(outcome="already_present").inc(summary.already_present)
    INDEXER_EVENTS.labels(outcome="rejected").inc(len(summary.rejected_records))
    INDEXER_FILES.labels(outcome="read").inc(summary.files_read)
    INDEXER_FILES.labels(outcome="failed").inc(len(summary.failed_files))
    INDEXER_FILES.labels(outcome="skipped").inc(sum(summary.skipped.values()))


class SerialisedDocument(NamedTuple):
    """One event ready for ``_bulk``: where it goes, its ``_id``, its bytes, its file."""

    index_name: str
    event_id: str
    source: bytes
    file: str


def serialised_documents(
    sources: Iterable[str],
    *,
    alias: str,
    summary: IndexSummary,
    days: DayRange = _EVERY_DAY,
    on_file: Callable[[str], None] | None = None,
) -> Iterator[SerialisedDocument]:
    """Every storable record in ``sources`` as its document; the rest go to ``summary``.

    Everything the indexer does short of sending: reading, checking, deriving, serialising.
    """
    indices = _MonthlyIndices(alias)
    for trail_file in trail_files(sources, days, summary):
        if on_file is not None:
            on_file(trail_file.name)
        yield from _file_documents(trail_file, indices, summary)


class _MonthlyIndices:
    """``monthly_index`` for one alias, worked out once per month rather than per event."""

    def __init__(self, alias: str) -> None:
        self._alias = alias
        self._names: dict[int, str] = {}

    def __call__(self, event_time: datetime) -> str:
        month = event_time.year * 100 + event_time.month
        name = self._names.get(month)
        if name is None:
            name = self._names[month] = monthly_index(self._alias, event_time)
        return name


def _file_documents(
    trail_file: TrailFile, indices: _MonthlyIndices, summary: IndexSummary
) -> Iterator[SerialisedDocument]:
    summary.files_read += 1
    position = 0
    try:
        with trail_file.open() as stream:
            for position, record in enumerate(read_records(stream), start=1):
                summary.records_read += 1
                if isinstance(record, UnreadableRecord):
                    summary.rejected_records.append(Problem(trail_file.name, record.reason))
                    continue
                try:
                    document = event_document(record)
                except InvalidRecordError as exc:
                    where = f"{trail_file.name}: record {position}"
                    summary.rejected_records.append(Problem(where, str(exc)))
                    continue
                yield SerialisedDocument(
                    indices(document.event_time),
                    document.event_id,
                    _serialise(document.source),
                    trail_file.name,
                )
    except TrailFileError as exc:
        kept = f" (the {position} records before it were kept)" if position else ""
        summary.failed_files.append(Problem(trail_file.name, f"{exc}{kept}"))
    except OSError as exc:
        summary.failed_files.append(Problem(trail_file.name, f"cannot read: {exc}"))


def _serialise(source: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(source)
    except orjson.JSONEncodeError:
        # Integers beyond 64 bits, which orjson refuses; the standard library writes them.
        return json.dumps(source, ensure_ascii=False).encode()
