"""Opaque cursors over Elasticsearch's ``search_after`` sort values.

A cursor is the sort key of the last event on a page (eventTime, eventID). Paging by key
rather than by offset works past 10,000 results and stays stable while new events arrive:
a new event never shifts the pages after a cursor.
"""

from __future__ import annotations

import base64
import binascii

import orjson

_KIND = "event/1"  # names the cursor's form, so a future change can tell old cursors apart


class InvalidCursorError(ValueError):
    """A cursor this API did not issue, or one that was altered."""


def encode_cursor(sort_values: list[int | str]) -> str:
    """The cursor for the event with these sort values."""
    raw = orjson.dumps([_KIND, *sort_values])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[int | str]:
    """The sort values a cursor stands for; :class:`InvalidCursorError` if it is not ours."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        decoded = orjson.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeEncodeError, orjson.JSONDecodeError):
        raise InvalidCursorError(f"{cursor!r} is not a cursor issued by this API") from None
    match decoded:
        case [str(kind), int(event_time), str(event_id)] if kind == _KIND:
            return [event_time, event_id]
        case _:
            raise InvalidCursorError(f"{cursor!r} is not a cursor issued by this API")
