"""What indexers tell live subscriptions: how far back events may still be on their way.

Every running indexing pipeline keeps one document in ``<alias>_writers`` (beside the
monthly indices, outside the events template and the alias): ``pending_since``, the
earliest indexed time it stamped on events that may not be searchable yet (None when
everything it sent is searchable), and ``heartbeat``, when it last said so. The indexer
writes it (``indexer.watermark``); the API's events feed reads it to know how far it may
hand events out without one turning up behind it later (``api.live_events``).
"""

from __future__ import annotations

from typing import Any

PENDING_SINCE = "pending_since"
HEARTBEAT = "heartbeat"
#: A writer whose heartbeat is older than this is taken for gone (its process died).
STALE_AFTER_MS = 60_000
#: How often a busy writer says it is still there.
HEARTBEAT_MS = 10_000


def writers_index(alias: str) -> str:
    """The writers' index for ``alias``; not ``<alias>-…``, which the events template claims."""
    return f"{alias}_writers"


def writers_mapping() -> dict[str, Any]:
    """Strict: a writer's document holds exactly these fields."""
    millis = {"type": "date", "format": "epoch_millis"}
    return {
        "dynamic": "strict",
        "properties": {PENDING_SINCE: millis, HEARTBEAT: millis, "host": {"type": "keyword"}},
    }
