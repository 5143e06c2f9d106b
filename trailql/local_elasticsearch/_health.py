"""Whether the node answers, with its own credentials, and is ready for use."""

from __future__ import annotations

import base64
import json
import urllib.request

from trailql.local_elasticsearch._common import LocalNode

# A single node can never place replicas, so any index created with the default one replica
# keeps the cluster yellow for good; yellow still means every primary is available.
_USABLE = frozenset({"green", "yellow"})


def usable(node: LocalNode, *, wait: bool) -> bool:
    """``wait`` lets the node take up to a second to turn yellow before answering."""
    return _health(node, wait=wait) in _USABLE


def _health(node: LocalNode, *, wait: bool) -> str | None:
    """The cluster status seen with the node's credentials, or None if it does not answer so.

    ``GET /`` is not available in this distribution (405), so health is the probe.
    """
    query = "?wait_for_status=yellow&timeout=1s" if wait else ""
    token = base64.b64encode(f"{node.username}:{node.password}".encode()).decode("ascii")
    request = urllib.request.Request(  # noqa: S310 -- always http://127.0.0.1 (node_url)
        f"{node.url}/_cluster/health{query}", headers={"Authorization": f"Basic {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5.0) as response:  # noqa: S310 -- as above
            body = json.load(response)
    except (OSError, ValueError):  # URLError and HTTPError (401, 408, 503) are OSErrors
        return None
    value = body.get("status") if isinstance(body, dict) else None
    return value if isinstance(value, str) else None
