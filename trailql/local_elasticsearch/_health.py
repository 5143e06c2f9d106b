"""Whether the node answers, with its own credentials, and is ready for use."""

from __future__ import annotations

import base64
import json
import urllib.request
from typing import Any

from trailql.local_elasticsearch._common import LocalNode

# A single node can never place replicas, so any index created with the default one replica
# keeps the cluster yellow for good; yellow still means every primary is available.
_USABLE = frozenset({"green", "yellow"})

_ALLOCATION = "cluster.routing.allocation.enable"


def usable(node: LocalNode, *, wait: bool) -> bool:
    """``wait`` lets the node take up to a second to turn yellow before answering."""
    health = cluster_health(node, wait_for="status=yellow" if wait else None)
    return health is not None and health.get("status") in _USABLE


def cluster_health(node: LocalNode, *, wait_for: str | None = None) -> dict[str, Any] | None:
    """The cluster's health seen through ``node``, or None if it does not answer so.

    ``wait_for`` (``status=yellow``, ``nodes=3``) lets the node take up to a second to get
    there. ``GET /`` is not available in this distribution (405), so health is the probe.
    """
    query = f"?wait_for_{wait_for}&timeout=1s" if wait_for else ""
    body = _get(node, f"/_cluster/health{query}")
    return body if isinstance(body, dict) and isinstance(body.get("status"), str) else None


def cluster_nodes(node: LocalNode) -> list[dict[str, Any]] | None:
    """The nodes ``node``'s cluster holds now (``_cat/nodes``), or None if it does not say."""
    body = _get(node, "/_cat/nodes?format=json&h=name,http_address,master,node.role,heap.percent")
    if not isinstance(body, list):
        return None
    return [entry for entry in body if isinstance(entry, dict)]


def paused_allocation(node: LocalNode) -> tuple[str, str] | None:
    """``cluster.routing.allocation.enable`` and its scope when it is not ``all``, else None.

    A rolling restart pauses it and its last step undoes that; a restart cut short leaves it
    set, persistently, and the cluster then never places a replica again (yellow for good).
    """
    body = _get(node, "/_cluster/settings?flat_settings=true")
    if not isinstance(body, dict):
        return None
    for scope in ("transient", "persistent"):  # a transient setting wins over a persistent
        settings = body.get(scope)
        value = settings.get(_ALLOCATION) if isinstance(settings, dict) else None
        if isinstance(value, str):
            return None if value == "all" else (value, scope)
    return None


def _get(node: LocalNode, path: str) -> Any:
    token = base64.b64encode(f"{node.username}:{node.password}".encode()).decode("ascii")
    # A node without users (OpenSearch's integ-test-zip) is asked without credentials.
    headers = {"Authorization": f"Basic {token}"} if node.username else {}
    request = urllib.request.Request(  # noqa: S310 -- always http://127.0.0.1 (node_url)
        f"{node.url}{path}", headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=5.0) as response:  # noqa: S310 -- as above
            return json.load(response)
    except (OSError, ValueError):  # URLError and HTTPError (401, 408, 503) are OSErrors
        return None
