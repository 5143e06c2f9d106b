"""Names of the indices beside the events that more than one part reads."""

from __future__ import annotations


def state_index(alias: str) -> str:
    """The indexer's state index of an alias: which trail files are loaded, and their integrity.

    Deliberately outside the ``<alias>-*`` pattern of the events template. The indexer writes
    it (``indexer.state``); the API reads the integrity verdicts in it (``api.integrity``).
    """
    return f"{alias}_state"
