"""Pages of anything: GitHub's connection types, page sizes, cursors, the order of events.

Every list the API pages through (events, log groups, a group's history) is a
``Connection`` of ``Edge``s, named after its node (``EventConnection``, ``LogGroupEdge``,
...), with the same page info and the same cursor form. A cursor is opaque to clients: the
position it resumes after, the kind of list or order it was issued for, and a version.
Paging by key (eventTime, eventID) rather than by offset works past 10,000 results and stays
stable while new events arrive: a new event never shifts the pages after a cursor.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

import orjson
import strawberry

from api.completion import PlannedType, attribute, plan_type
from api.errors import ErrorCode, user_error
from schema.paths import EVENT_ID, EVENT_TIME

MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 50

#: Names the cursors' form, so a future change can tell old cursors apart.
_CURSOR_VERSION = 1

Node = TypeVar("Node")


@strawberry.type(description="Where a page ends, for asking for the next one.")
class PageInfo:
    """Relay's page information."""

    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None = strawberry.field(
        description="Pass as `after` for the next page; startCursor as `before` for the one before."
    )


@strawberry.type(description="An item on a page and its cursor.")
class Edge(Generic[Node]):
    """One item on a page."""

    cursor: str
    node: Node


@strawberry.type(description="A page of a list, in the list's order.")
class Connection(Generic[Node]):
    """A page, where it ends, and how long the whole list is (when asked)."""

    edges: list[Edge[Node]]
    nodes: list[Node] = strawberry.field(description="The items on this page, without cursors.")
    page_info: PageInfo
    total_count: int | None = strawberry.field(
        description="How many items the whole list holds (not only this page)."
    )


plan_type(
    "PageInfo",
    PlannedType(
        source=PageInfo,
        readers={
            "hasNextPage": attribute("has_next_page"),
            "hasPreviousPage": attribute("has_previous_page"),
            "startCursor": attribute("start_cursor"),
            "endCursor": attribute("end_cursor"),
        },
    ),
)


def plan_connection(connection: type[Connection[Any]], node_type: str) -> None:
    """Let plans complete pages of ``node_type``: the connection, its edges, its page info."""
    plan_type(
        f"{node_type}Connection",
        PlannedType(
            source=connection,
            root=True,
            readers={
                "edges": attribute("edges"),
                "nodes": attribute("nodes"),
                "pageInfo": attribute("page_info"),
                "totalCount": attribute("total_count"),
            },
        ),
    )
    plan_type(
        f"{node_type}Edge",
        PlannedType(
            source=Edge, readers={"cursor": attribute("cursor"), "node": attribute("node")}
        ),
    )


def page_size(first: int | None, last: int | None = None) -> int:
    """The page size asked for (``first`` or ``last``), within the API's page limits."""
    if first is not None and last is not None:
        raise user_error(ErrorCode.BAD_USER_INPUT, "give `first` or `last`, not both.")
    size = last if last is not None else first if first is not None else DEFAULT_PAGE_SIZE
    if not 0 <= size <= MAX_PAGE_SIZE:
        which = "last" if last is not None else "first"
        raise user_error(
            ErrorCode.BAD_USER_INPUT, f"`{which}` must be between 0 and {MAX_PAGE_SIZE}."
        )
    return size


def page_info(
    cursors: Sequence[str], *, more: bool, resumed: bool, backwards: bool = False
) -> PageInfo:
    """Where a page of these ``cursors`` ends.

    ``more``: the search found an item beyond the page; ``resumed``: the page starts from a
    client's cursor. Paging backwards, the two swap sides.
    """
    return PageInfo(
        has_next_page=resumed if backwards else more,
        has_previous_page=more if backwards else resumed,
        start_cursor=cursors[0] if cursors else None,
        end_cursor=cursors[-1] if cursors else None,
    )


def event_sort(direction: str) -> list[dict[str, Any]]:
    """The order of events: by eventTime, eventID breaking ties."""
    return [{EVENT_TIME: {"order": direction}}, {EVENT_ID: {"order": direction}}]


def encode_cursor(kind: str, position: Sequence[int | str]) -> str:
    """The cursor that resumes a list of ``kind`` after ``position``."""
    raw = orjson.dumps([_CURSOR_VERSION, kind, *position])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class InvalidCursorError(ValueError):
    """A cursor this API did not issue, one that was altered, or one for another list."""


def decode_cursor(cursor: str, kind: str, shape: tuple[type, ...]) -> list[int | str]:
    """The position a cursor resumes after, checked to be one of ``kind`` and ``shape``."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        decoded = orjson.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeEncodeError, orjson.JSONDecodeError):
        decoded = None
    match decoded:
        case [int(version), str(issued_for), *position] if (
            version == _CURSOR_VERSION
            and len(position) == len(shape)
            and all(
                isinstance(value, expected) and not isinstance(value, bool)
                for value, expected in zip(position, shape, strict=True)
            )
        ):
            if issued_for != kind:
                raise InvalidCursorError(
                    f"{cursor!r} was issued for another list or order; start again without it"
                )
            return list(position)
        case _:
            raise InvalidCursorError(f"{cursor!r} is not a cursor issued by this API")


def resume_after(cursor: str | None, kind: str, shape: tuple[type, ...]) -> list[int | str] | None:
    """A client's cursor as the position to resume after, or the INVALID_CURSOR error."""
    if cursor is None:
        return None
    try:
        return decode_cursor(cursor, kind, shape)
    except InvalidCursorError as exc:
        raise user_error(ErrorCode.INVALID_CURSOR, str(exc)) from None


#: An event's position: its eventTime (epoch milliseconds, as Elasticsearch sorts) and eventID.
EVENT_POSITION = (int, str)
