"""Bulk export: every event a filter matches, streamed, in constant memory.

One point in time holds the alias still while pages of :data:`PAGE_SIZE` records are read
with ``search_after``, oldest first; each page is written out before the next is asked for,
so memory stays that of one page whatever the size. Every page is searched through
:meth:`api.context.Context.search`, which confines it to the tenant's accounts.

Records are the CloudTrail records as stored (exactly as written): as NDJSON, one per line
(``fields`` keeps only those dotted paths); or as CSV, one row per event, nested fields
flattened into dotted column names (the schema's fields unless ``fields`` says), with lists
and free-form JSON (``requestParameters``, …) as JSON text in their cell.

``GET``/``POST /export`` (:func:`export_endpoint`) streams the same for HTTP clients,
authenticated and rate-limited like ``/graphql``; ``trailql export`` writes it to stdout.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Literal, cast

import anyio
import orjson
from elasticsearch import NotFoundError
from graphql import GraphQLError, GraphQLInputType, coerce_input_value
from graphql.utilities.validate_input_value import validate_input_value
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from strawberry.types.arguments import convert_argument

from api.context import Context
from api.errors import ErrorCode, refusal_response
from api.filters import EventFilter, filter_query, needs_file_lookup
from api.inputs import check_variables
from api.limits import Limits
from api.pagination import event_sort
from api.schema import schema
from api.tenancy import NO_ACCOUNT
from schema.fields import EVENT_FIELDS, Field, Kind

logger = logging.getLogger("trailql.api.export")

ExportFormat = Literal["ndjson", "csv"]
FORMATS: tuple[ExportFormat, ...] = ("ndjson", "csv")
MEDIA_TYPES = {"ndjson": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}
#: Records per search: big enough to amortise a round trip, small enough to hold.
PAGE_SIZE = 1_000
#: How long Elasticsearch keeps the point in time between two pages.
KEEP_ALIVE = "2m"
#: The most fields one export may name, and the longest path.
MAX_FIELDS = 200
_MAX_PATH = 256


class ExportRequestError(Exception):
    """The export asked for cannot be made (a bad filter, format or field): the caller's."""


def export_columns() -> list[str]:
    """CSV's columns when no fields are named: every field of the schema, dotted."""
    return list(_leaves(EVENT_FIELDS, ""))


def _leaves(fields: Iterable[Field], prefix: str) -> Iterator[str]:
    for field in fields:
        path = f"{prefix}{field.name}"
        if field.kind is Kind.OBJECT and not field.many:
            yield from _leaves(field.children, f"{path}.")
        else:
            yield path


def format_of(name: object) -> ExportFormat:
    """``ndjson`` or ``csv``."""
    for known in FORMATS:
        if name == known:
            return known
    raise ExportRequestError("format must be ndjson or csv.")


def parse_fields(text: str | None) -> list[str] | None:
    """``a,b.c`` as a list of dotted paths; None for every field."""
    if text is None or not text.strip():
        return None
    fields = [name.strip() for name in text.split(",") if name.strip()]
    if len(fields) > MAX_FIELDS:
        raise ExportRequestError(f"name at most {MAX_FIELDS} fields.")
    for name in fields:
        parts = name.split(".")
        if len(name) > _MAX_PATH or not all(parts) or any(p.startswith("_") for p in parts):
            raise ExportRequestError(
                f"{name[:_MAX_PATH]!r} is not a field path such as userIdentity.arn."
            )
    return list(dict.fromkeys(fields))


def filter_from(value: object, limits: Limits) -> dict[str, Any]:
    """The Elasticsearch query for an ``EventFilter`` given as JSON (None: every event).

    The value is held to the same input limits and coerced by the same GraphQL type as a
    ``filter`` argument, so a filter means in an export what it means in a query.
    """
    if value is None:
        return filter_query(None, limits)
    over = check_variables({"filter": value}, limits)
    if over is not None:
        raise ExportRequestError(over.message)
    problems: list[str] = []

    def on_error(error: GraphQLError, path: Sequence[str | int]) -> None:
        where = ".".join(str(part) for part in path)
        problems.append(f"{where}: {error.message}" if where else error.message)

    graphql_type = cast("GraphQLInputType", schema._schema.get_type("EventFilter"))  # noqa: SLF001
    validate_input_value(value, graphql_type, on_error, hide_suggestions=True)
    if problems:
        raise ExportRequestError(f"the filter is not an EventFilter: {'; '.join(problems[:5])}")
    coerced = coerce_input_value(value, graphql_type)
    event_filter = convert_argument(
        coerced, EventFilter, schema.schema_converter.scalar_registry, schema.config
    )
    if needs_file_lookup(event_filter):  # type: ignore[arg-type]
        raise ExportRequestError(
            "logFileIntegrity is not available in an export: ask the events query for them, "
            "or export by time and account."
        )
    try:
        return filter_query(event_filter, limits)  # type: ignore[arg-type]
    except GraphQLError as exc:
        raise ExportRequestError(exc.message) from None


async def records(
    context: Context, query: dict[str, Any], fields: list[str] | None = None
) -> AsyncIterator[list[dict[str, Any]]]:
    """The records ``query`` matches for the tenant, a page at a time, oldest first."""
    source: bool | dict[str, list[str]] = {"includes": fields} if fields else True
    async with _point_in_time(context) as pit:
        if pit is None:
            return
        after: list[Any] | None = None
        while True:
            page = await context.search(
                query=query,
                size=PAGE_SIZE,
                sort=event_sort("asc"),
                pit={"id": pit["id"], "keep_alive": KEEP_ALIVE},
                track_total_hits=False,
                source=source,
                **({"search_after": after} if after is not None else {}),
            )
            pit["id"] = page.get("pit_id", pit["id"])
            hits = page["hits"]["hits"]
            if hits:
                yield [hit.get("_source", {}) for hit in hits]
            if len(hits) < PAGE_SIZE:
                return
            after = hits[-1]["sort"]


@asynccontextmanager
async def _point_in_time(context: Context) -> AsyncIterator[dict[str, str] | None]:
    """A point in time over the alias (None when it does not exist), closed afterwards."""
    try:
        opened = await context.elasticsearch.open_point_in_time(
            index=context.alias, keep_alive=KEEP_ALIVE, ignore_unavailable=True
        )
    except NotFoundError:
        yield None
        return
    pit = {"id": opened["id"]}
    try:
        yield pit
    finally:
        # Shielded: a client that went away cancels the stream, not the clean-up. Should it
        # fail anyway, Elasticsearch drops the point in time after KEEP_ALIVE.
        with anyio.CancelScope(shield=True), anyio.move_on_after(10):
            try:
                await context.elasticsearch.close_point_in_time(id=pit["id"])
            except Exception:  # noqa: BLE001  clean-up only: the export itself is done
                logger.warning("could not close a point in time; it expires by itself")


def ndjson_lines(page: list[dict[str, Any]]) -> bytes:
    """One JSON object per record, each on its own line."""
    return b"".join(orjson.dumps(record) + b"\n" for record in page)


def csv_header(columns: list[str]) -> str:
    """The CSV header row."""
    return _csv_rows([columns])


def csv_rows(page: list[dict[str, Any]], columns: list[str]) -> str:
    """One CSV row per record, a cell per column."""
    split = [column.split(".") for column in columns]
    return _csv_rows([_cell(record, path) for path in split] for record in page)


def _csv_rows(rows: Iterable[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


def _cell(record: dict[str, Any], path: list[str]) -> str:
    value: Any = record
    for name in path:
        if not isinstance(value, dict):
            return ""
        value = value.get(name)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return str(value)


async def encoded(
    context: Context, query: dict[str, Any], export_format: ExportFormat, fields: list[str] | None
) -> AsyncIterator[bytes]:
    """The export as bytes, a page at a time."""
    if export_format == "ndjson":
        async for page in records(context, query, fields):
            yield ndjson_lines(page)
        return
    columns = fields or export_columns()
    yield csv_header(columns).encode()
    # Fetch the top-level keys the columns read, not the whole record.
    roots = list(dict.fromkeys(column.split(".", 1)[0] for column in columns))
    async for page in records(context, query, roots):
        yield csv_rows(page, columns).encode()


def export_route(limits: Limits) -> Route:
    """The ``/export`` route, its filters held to ``limits``."""

    async def export_endpoint(request: Request) -> Response:
        return await _export(request, limits)

    return Route("/export", export_endpoint, methods=["GET", "POST"])


async def _export(request: Request, limits: Limits) -> Response:
    """``/export``: ``filter`` (an EventFilter as JSON), ``format``, ``fields``, streamed.

    GET takes them as query parameters; POST as a JSON object (``fields`` a list or a
    comma-separated string).
    """
    try:
        parameters = await _parameters(request)
        export_format = format_of(parameters.get("format") or "ndjson")
        fields = _fields_parameter(parameters.get("fields"))
        query = filter_from(parameters.get("filter"), limits)
    except ExportRequestError as exc:
        return refusal_response(400, ErrorCode.BAD_USER_INPUT, str(exc))
    context = Context(
        elasticsearch=request.app.state.elasticsearch,
        alias=request.app.state.alias,
        tenant=getattr(request.state, "tenant", NO_ACCOUNT),
        limits=limits,
    )
    return StreamingResponse(
        encoded(context, query, export_format, fields),
        media_type=MEDIA_TYPES[export_format],
        headers={"Cache-Control": "no-store"},
    )


async def _parameters(request: Request) -> dict[str, Any]:
    if request.method == "GET":
        parameters: dict[str, Any] = dict(request.query_params)
        if parameters.get("filter"):
            parameters["filter"] = _json(parameters["filter"], "filter must be JSON")
        return parameters
    body = _json(await request.body(), "the body must be JSON")
    if not isinstance(body, dict):
        raise ExportRequestError("the body must be a JSON object: {filter, format, fields}.")
    return body


def _json(text: str | bytes, problem: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        raise ExportRequestError(f'{problem} (an EventFilter: {{"eventName": [...]}}).') from None


def _fields_parameter(value: object) -> list[str] | None:
    if value is None or isinstance(value, str):
        return parse_fields(value)
    if isinstance(value, list) and all(isinstance(name, str) for name in value):
        return parse_fields(",".join(value))
    raise ExportRequestError("fields must be a list of field paths, or one string of them.")
