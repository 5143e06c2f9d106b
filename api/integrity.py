"""Log-file integrity in the API: each event's trail file and its verdict, and a summary.

The continuous indexer keeps every trail file's verdict in its state index
(``indexer/state.py``, ``indexer/integrity.py``); this area reads it, through
:meth:`Context.search_files`, confined to the tenant's accounts like every search of events.

``Event.logFile`` costs two searches per request, however many events ask: the events' file
names by eventID, then the files' verdicts by name, each batched by a data loader.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

import strawberry
from strawberry.dataloader import DataLoader

from api.context import Context
from api.errors import ErrorCode, user_error
from api.input_conversion import fast_input
from api.limits import FieldCost
from common.times import utc
from schema import document_id
from schema.paths import EVENT_ID, LOG_FILE

#: Files one filter condition may name: Elasticsearch's largest page of hits.
MAX_FILTER_FILES = 10_000
#: Events are in files delivered after them: within minutes, and this is a generous bound.
DELIVERY_DELAY = timedelta(days=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Events, or files, one search of a data loader asks for: a page of events is at most 500.
_BATCH = 1000
DEFAULT_PROBLEMS = 50
MAX_PROBLEMS = 500


@strawberry.enum(description="What is known of one trail file's integrity.")
class FileIntegrity(Enum):
    """Verdicts of log files (the words of ``trailql verify``)."""

    VALID = "valid"
    MODIFIED = "modified"
    MISSING = "missing"
    UNLISTED = "unlisted"
    NOT_YET_COVERED = "not_yet_covered"


@strawberry.enum(description="What is known of one digest file.")
class DigestIntegrity(Enum):
    """Verdicts of digest files."""

    VALID = "valid"
    MODIFIED = "modified"
    MISSING = "missing"
    MOVED = "moved"
    SIGNATURE_INVALID = "signature_invalid"
    UNVERIFIABLE = "unverifiable"
    UNREADABLE = "unreadable"


_FILE_VERDICTS = {verdict.value: verdict for verdict in FileIntegrity}
_DIGEST_VERDICTS = {verdict.value: verdict for verdict in DigestIntegrity}
_FILE_PROBLEMS = ["modified", "missing", "unlisted"]
_DIGEST_PROBLEMS = ["modified", "missing", "moved", "signature_invalid", "unreadable"]


@strawberry.type(description="The trail file an event was read from.")
class LogFile:
    """A file, by the name it was loaded under; its verdict fetched when asked for."""

    key: str = strawberry.field(
        description="Where it was read: s3://bucket/key, or the path of a file loaded from disk."
    )

    @strawberry.field(
        description=(
            "Its integrity verdict, as the continuous indexer last found it: VALID only when "
            "a digest whose signature verifies lists it with the hash it has. Null when "
            "nothing is known (loaded by a one-off `trailql index`, or with --no-integrity)."
        )
    )
    async def integrity(self, info: strawberry.Info[Context, None]) -> FileIntegrity | None:
        """The file's verdict, batched with every other file of the request."""
        verdict = await _verdict_loader(info.context).load(self.key)
        return None if verdict is None else _FILE_VERDICTS.get(verdict)


async def event_log_file(root: Any, info: strawberry.Info[Context, None]) -> LogFile | None:
    """An event's trail file (null for events indexed before TrailQL recorded it)."""
    event_id = root.get("eventID") if isinstance(root, dict) else None
    if not isinstance(event_id, str) or not event_id:
        return None
    key = await _file_loader(info.context).load(event_id)
    return None if key is None else LogFile(key=key)


def _file_loader(context: Context) -> DataLoader[str, str | None]:
    loader: DataLoader[str, str | None] | None = context.loaders.get("log_file")
    if loader is None:

        async def files(event_ids: list[str]) -> Sequence[str | None]:
            response = await context.search(
                query={"terms": {EVENT_ID: sorted(set(event_ids))}},
                size=len(set(event_ids)),
                source=False,
                docvalue_fields=[LOG_FILE],
            )
            by_id: dict[str, str] = {}
            for hit in response["hits"]["hits"]:
                values = hit.get("fields", {}).get(LOG_FILE)
                if values:
                    by_id[hit["_id"]] = values[0]
            return [by_id.get(document_id(event_id)) for event_id in event_ids]

        loader = context.loaders["log_file"] = DataLoader(load_fn=files, max_batch_size=_BATCH)
    return loader


def _verdict_loader(context: Context) -> DataLoader[str, str | None]:
    loader: DataLoader[str, str | None] | None = context.loaders.get("verdict")
    if loader is None:

        async def verdicts(keys: list[str]) -> Sequence[str | None]:
            wanted = sorted(set(keys))
            response = await context.search_files(
                query={
                    "bool": {"filter": [{"term": {"kind": "log"}}, {"terms": {"object": wanted}}]}
                },
                size=len(wanted),
                source={"includes": ["object", "integrity"]},
            )
            found = {
                hit["_source"]["object"]: hit["_source"].get("integrity")
                for hit in response["hits"]["hits"]
            }
            return [found.get(key) for key in keys]

        loader = context.loaders["verdict"] = DataLoader(load_fn=verdicts, max_batch_size=_BATCH)
    return loader


# The filter condition ------------------------------------------------------------------


async def files_with_verdicts(
    context: Context,
    verdicts: list[FileIntegrity],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    accounts: list[str] | None = None,
    regions: list[str] | None = None,
) -> list[str]:
    """The names of the tenant's files with any of these verdicts, for a filter on events.

    Narrowed by the times, accounts and Regions the same filter asks for (a file is delivered
    after its events); more than :data:`MAX_FILTER_FILES` is refused with BAD_USER_INPUT.
    """
    if not verdicts:
        return []
    clauses: list[dict[str, Any]] = [
        {"term": {"kind": "log"}},
        {"terms": {"integrity": sorted({verdict.value for verdict in verdicts})}},
    ]
    if accounts:
        clauses.append({"terms": {"account": accounts}})
    if regions:
        clauses.append({"terms": {"region": regions}})
    if since is not None or until is not None:
        delivered: dict[str, str] = {}
        if since is not None:
            delivered["gte"] = utc(since).isoformat()
        if until is not None:
            delivered["lt"] = (utc(until) + DELIVERY_DELAY).isoformat()
        clauses.append(
            {
                "bool": {
                    "should": [
                        {"range": {"delivered_at": delivered}},
                        {"bool": {"must_not": [{"exists": {"field": "delivered_at"}}]}},
                    ],
                    "minimum_should_match": 1,
                }
            }
        )
    response = await context.search_files(
        query={"bool": {"filter": clauses}},
        size=MAX_FILTER_FILES,
        source={"includes": ["object"]},
        track_total_hits=MAX_FILTER_FILES + 1,
    )
    if response["hits"]["total"]["value"] > MAX_FILTER_FILES:
        raise user_error(
            ErrorCode.BAD_USER_INPUT,
            f"`logFileIntegrity` matches more than {MAX_FILTER_FILES:,} trail files; narrow it "
            "with from/to, recipientAccountId or awsRegion beside it.",
        )
    return [hit["_source"]["object"] for hit in response["hits"]["hits"]]


# integrity(filter) ---------------------------------------------------------------------


@fast_input
@strawberry.input(description="Which trail files to sum up. Conditions side by side: AND.")
class IntegrityFilter:
    """Files by delivery time, account and Region."""

    from_: datetime | None = strawberry.field(
        name="from", default=None, description="Delivered at or after this time. No zone: UTC."
    )
    to: datetime | None = strawberry.field(
        default=None, description="Delivered before this time. No zone: UTC."
    )
    recipient_account_id: list[str] | None = strawberry.field(
        default=None, description="Files of any of these accounts."
    )
    aws_region: list[str] | None = strawberry.field(
        default=None, description="Files of any of these Regions."
    )


@strawberry.type(description="How many trail files have one verdict.")
class FileVerdictCount:
    """One verdict's count."""

    verdict: FileIntegrity
    count: int


@strawberry.type(description="How many digest files have one verdict.")
class DigestVerdictCount:
    """One verdict's count."""

    verdict: DigestIntegrity
    count: int


@strawberry.type(description="A trail file or digest that is not what CloudTrail delivered.")
class IntegrityProblem:
    """One problem: a file, what is wrong with it, and how it is known."""

    file: str = strawberry.field(description="s3://bucket/key of the file.")
    digest: bool = strawberry.field(description="Whether the file is a digest file.")
    verdict: str = strawberry.field(
        description="modified, missing, unlisted; for digests also moved, signature_invalid, "
        "unreadable."
    )
    detail: str | None = strawberry.field(description="Why, as a person can check it.")
    account: str | None
    region: str | None
    delivered_at: datetime | None = strawberry.field(
        description="When a log file was delivered (from its name)."
    )
    found_at: datetime | None = strawberry.field(description="When the verdict was reached.")


@strawberry.enum(description="Why a digest chain has a hole.")
class GapReason(Enum):
    """The two reasons."""

    RESTARTED = "restarted"
    DIGEST_MISSING = "digest_missing"


@strawberry.type(description="A stretch of a trail's time that no digest chain vouches for.")
class ChainGap:
    """One gap, between two digests of one trail."""

    trail: str = strawberry.field(description="The trail: its account and Region folder, name.")
    account: str | None
    region: str | None
    start: datetime | None = strawberry.field(
        description="The end of the last digest before the gap (null: none was seen)."
    )
    end: datetime = strawberry.field(description="The start of the first digest after it.")
    reason: GapReason = strawberry.field(
        description="RESTARTED: a digest starts a new chain (validation or logging was off, or "
        "the trail re-created). DIGEST_MISSING: the digest before one is not in the bucket."
    )
    after: str = strawberry.field(description="The digest after the gap.")
    before: str | None = strawberry.field(description="The digest before the gap, if seen.")


@strawberry.type(description="The integrity of the trail files the continuous indexer checked.")
class IntegritySummary:
    """Counts by verdict, the problems and the gaps, for one filter."""

    files: list[FileVerdictCount] = strawberry.field(
        description="Log files by verdict (verdicts with none left out)."
    )
    digests: list[DigestVerdictCount] = strawberry.field(
        description="Digest files by verdict (verdicts with none left out)."
    )
    query: strawberry.Private[dict[str, Any]]

    @strawberry.field(
        description=(
            "Modified, missing and unlisted files and failed digests, most recent verdict "
            "first: at most `first` (default 50, at most 500)."
        )
    )
    async def problems(
        self, info: strawberry.Info[Context, None], first: int = DEFAULT_PROBLEMS
    ) -> list[IntegrityProblem]:
        """One search, when asked for."""
        problems = {
            "bool": {
                "should": [
                    _kind_with("log", _FILE_PROBLEMS),
                    _kind_with("digest", _DIGEST_PROBLEMS),
                ],
                "minimum_should_match": 1,
            }
        }
        response = await info.context.search_files(
            query={"bool": {"filter": [self.query, problems]}},
            size=_size(first),
            sort=[{"integrity_at": {"order": "desc", "unmapped_type": "date"}}, {"object": "asc"}],
        )
        return [_problem(hit["_source"]) for hit in response["hits"]["hits"]]

    @strawberry.field(
        description="Gaps in the digest chains, latest first: at most `first` (default 50)."
    )
    async def gaps(
        self, info: strawberry.Info[Context, None], first: int = DEFAULT_PROBLEMS
    ) -> list[ChainGap]:
        """One search, when asked for."""
        response = await info.context.search_files(
            query={"bool": {"filter": [self.query, {"term": {"kind": "gap"}}]}},
            size=_size(first),
            sort=[{"gap_end": {"order": "desc", "unmapped_type": "date"}}, {"object": "asc"}],
        )
        return [_gap(hit["_source"]) for hit in response["hits"]["hits"]]


def _kind_with(kind: str, verdicts: list[str]) -> dict[str, Any]:
    return {"bool": {"filter": [{"term": {"kind": kind}}, {"terms": {"integrity": verdicts}}]}}


def _size(first: int) -> int:
    if not 0 <= first <= MAX_PROBLEMS:
        raise user_error(ErrorCode.BAD_USER_INPUT, f"`first` must be 0 to {MAX_PROBLEMS}.")
    return first


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    return utc(datetime.fromisoformat(value))


def _problem(source: dict[str, Any]) -> IntegrityProblem:
    return IntegrityProblem(
        file=str(source.get("object")),
        digest=source.get("kind") == "digest",
        verdict=str(source.get("integrity")),
        detail=source.get("integrity_detail"),
        account=source.get("account"),
        region=source.get("region"),
        delivered_at=_time(source.get("delivered_at")),
        found_at=_time(source.get("integrity_at")),
    )


def _gap(source: dict[str, Any]) -> ChainGap:
    trail = str(source.get("trail") or "")
    scope, _, name = trail.partition("|")
    return ChainGap(
        trail=f"{name.split('|')[0]} ({scope})" if name else trail,
        account=source.get("account"),
        region=source.get("region"),
        start=_time(source.get("gap_start")),
        end=_time(source.get("gap_end")) or _EPOCH,
        reason=GapReason(source.get("gap_reason", "restarted")),
        after=str(source.get("gap_after")),
        before=source.get("gap_before"),
    )


def _summary_query(integrity_filter: IntegrityFilter | None) -> dict[str, Any]:
    f = integrity_filter or IntegrityFilter()
    clauses: list[dict[str, Any]] = []
    if f.recipient_account_id:
        clauses.append({"terms": {"account": f.recipient_account_id}})
    if f.aws_region:
        clauses.append({"terms": {"region": f.aws_region}})
    if f.from_ is not None or f.to is not None:
        span: dict[str, str] = {}
        if f.from_ is not None:
            span["gte"] = utc(f.from_).isoformat()
        if f.to is not None:
            span["lt"] = utc(f.to).isoformat()
        # Log files by delivery, digests by the end of their hour, gaps by their end.
        clauses.append(
            {
                "bool": {
                    "should": [
                        {"range": {"delivered_at": span}},
                        {"range": {"digest_end": span}},
                        {"range": {"gap_end": span}},
                    ],
                    "minimum_should_match": 1,
                }
            }
        )
    return {"bool": {"filter": clauses}} if clauses else {"match_all": {}}


async def _integrity(
    info: strawberry.Info[Context, None],
    filter: IntegrityFilter | None = None,  # noqa: A002  GraphQL's own name
) -> IntegritySummary:
    query = _summary_query(filter)
    response = await info.context.search_files(
        query=query,
        size=0,
        aggs={
            kind: {
                "filter": {"term": {"kind": kind}},
                "aggs": {"verdicts": {"terms": {"field": "integrity", "size": 20}}},
            }
            for kind in ("log", "digest")
        },
    )
    aggregations = response.get("aggregations", {})

    def counts(kind: str) -> list[tuple[str, int]]:
        buckets = aggregations.get(kind, {}).get("verdicts", {}).get("buckets", [])
        return [(bucket["key"], bucket["doc_count"]) for bucket in buckets]

    return IntegritySummary(
        files=[
            FileVerdictCount(verdict=_FILE_VERDICTS[key], count=count)
            for key, count in counts("log")
            if key in _FILE_VERDICTS
        ],
        digests=[
            DigestVerdictCount(verdict=_DIGEST_VERDICTS[key], count=count)
            for key, count in counts("digest")
            if key in _DIGEST_VERDICTS
        ],
        query=query,
    )


#: What the fields of this area cost (api/limits.py). `integrity` is also LogFile's field,
#: charged a search too: the page's verdicts take one search, however many files.
FIELD_COSTS = {
    "integrity": FieldCost(searches=True),
    "logFile": FieldCost(searches=True),
    "problems": FieldCost(searches=True, size_arguments=("first",), default_size=DEFAULT_PROBLEMS),
    "gaps": FieldCost(searches=True, size_arguments=("first",), default_size=DEFAULT_PROBLEMS),
}


@strawberry.type
class IntegrityQueries:
    """Integrity of the trail files."""

    integrity: IntegritySummary = strawberry.field(
        resolver=_integrity,
        description=(
            "The integrity of the trail files the continuous indexer loaded and checked "
            "against CloudTrail's signed digests: counts by verdict, the problems, the gaps in "
            "the digest chains. Only the files of the accounts the caller may see."
        ),
    )
