"""What a GraphQL operation is called, in metrics and in the request log alike.

Operation names come from clients: a label per name would let any client grow the metrics
without bound, so names are checked and counted, and the rest share one label.
"""

from __future__ import annotations

import re

ANONYMOUS = "anonymous"
OTHER = "other"
#: Distinct operation names labelled by name; later ones are labelled ``other``.
MAX_OPERATION_NAMES = 200
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,99}")

_seen: set[str] = set()


def operation_label(name: object) -> str:
    """The name to label metrics and logs with: the operation's own, within bounds.

    ``name`` is whatever the client sent as ``operationName``, which may be no string at all.
    """
    if name is None or name == "":
        return ANONYMOUS
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        return OTHER
    if name not in _seen:
        if len(_seen) >= MAX_OPERATION_NAMES:
            return OTHER
        _seen.add(name)
    return name
