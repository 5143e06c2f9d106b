"""Opaque cursors over Elasticsearch's ``search_after`` sort values.

A cursor is the sort key of an event on a page (eventTime, eventID) and the order it was
issued for. Paging by key rather than by offset works past 10,000 results and stays stable
while new events arrive: a new event never shifts the pages after a cursor.
"""

from __future__ import annotations

import base64
import binascii

import orjson

from api.errors import ErrorCode, user_error

_VERSION = 1  # names the cursor's form, so a future change can tell old cursors apart


class InvalidCursorError(ValueError):
    """A cursor this API did not issue, one that was altered, or one for another order."""


def encode_cursor(order: str, sort_values: list[int | str]) -> str:
    """The cursor for the event with these sort values, in ``order`` ("asc" or "desc")."""
    raw = orjson.dumps([_VERSION, order, *sort_values])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, order: str) -> list[int | str]:
    """The sort values a cursor stands for; :class:`InvalidCursorError` if it is not ours."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        decoded = orjson.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeEncodeError, orjson.JSONDecodeError):
        raise InvalidCursorError(f"{cursor!r} is not a cursor issued by this API") from None
    match decoded:
        case [int(version), str(issued_for), int(event_time), str(event_id)] if version == _VERSION:
            if issued_for != order:
                raise InvalidCursorError(
                    f"{cursor!r} was issued for the other order; start again without it"
                )
            return [event_time, event_id]
        case _:
            raise InvalidCursorError(f"{cursor!r} is not a cursor issued by this API")


def search_after(cursor: str | None, order: str) -> list[int | str] | None:
    """A client's cursor as search_after values, or the INVALID_CURSOR error it deserves."""
    if cursor is None:
        return None
    try:
        return decode_cursor(cursor, order)
    except InvalidCursorError as exc:
        raise user_error(ErrorCode.INVALID_CURSOR, str(exc)) from None
