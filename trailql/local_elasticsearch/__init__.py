"""A local Elasticsearch for development and tests: one node, or a cluster of several.

Layout under :func:`cache_dir` (outside the repository, shared by every checkout)::

    downloads/elasticsearch-<VERSION>.zip   fetched once with Maven
    elasticsearch-<VERSION>/                the unpacked distribution, read-only and shared
    node-<port>/                            one instance: config/ data/ logs/ tmp/ state.json es.pid
    snapshots/                              every node's path.repo (filesystem snapshots)

A cluster (:func:`up_cluster`) is several instances on consecutive HTTP ports, each with its
transport port 100 above; each member's state.json names the cluster, so one member can be
stopped (:func:`down` with its port) and brought back (:func:`up_cluster` again) alone.

Running as root: Elasticsearch refuses to run as root, so the node runs as the system user
``trailql-es``. The instance folder is handed to that user; the distribution stays owned by
root but world-readable. That user must also be able to *traverse* every folder above the
cache; when one is closed to it (``/root`` is mode 0700, and the default cache lives under it)
we grant search permission only -- an ACL entry for that user where ``setfacl`` exists, else
the others' ``x`` bit -- never read permission, and say so on the log. To avoid touching
``/root`` at all, point ``TRAILQL_CACHE_DIR`` somewhere open such as ``/var/cache/trailql``.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trailql.local_elasticsearch import (
    _cluster,
    _common,
    _distribution,
    _health,
    _java,
    _node,
    _processes,
    _service_user,
    _state,
)
from trailql.local_elasticsearch._common import (
    CLUSTER_PORT,
    DEFAULT_DISTRIBUTION,
    DEFAULT_VERSIONS,
    ELASTICSEARCH_VERSION,
    ENGINE_PORTS,
    ENGINES,
    Distribution,
    LocalCluster,
    LocalElasticsearchError,
    LocalNode,
    Membership,
    cache_dir,
    default_port,
    snapshots_dir,
)

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "CLUSTER_PORT",
    "DEFAULT_DISTRIBUTION",
    "DEFAULT_VERSIONS",
    "ELASTICSEARCH_VERSION",
    "ENGINES",
    "ENGINE_PORTS",
    "Distribution",
    "Instance",
    "LocalCluster",
    "LocalElasticsearchError",
    "LocalNode",
    "Membership",
    "cache_dir",
    "default_port",
    "down",
    "health",
    "instances",
    "node_list",
    "paused_allocation",
    "running_node",
    "snapshots_dir",
    "status",
    "up",
    "up_cluster",
]

_HEAP = re.compile(r"[1-9][0-9]*[kKmMgG]")

# Tracebacks and pickles name the public module, as before the split, not a private one.
LocalNode.__module__ = LocalElasticsearchError.__module__ = LocalCluster.__module__ = __name__
Membership.__module__ = Distribution.__module__ = __name__


def _log_to_stderr(message: str) -> None:
    """Progress goes to stderr because stdout carries the export lines."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def up(
    *,
    port: int = 9200,
    heap: str = "1g",
    timeout: float = 180.0,
    log: Callable[[str], None] = _log_to_stderr,
    distribution: Distribution = DEFAULT_DISTRIBUTION,
) -> LocalNode:
    """Start (provisioning on first use) the node on ``port``, or return it if it already runs.

    ``timeout`` bounds the start itself, not the one-off download. ``heap`` applies from the
    next start of a node that is already running. A port keeps the engine and version it was
    first started with: another one runs on a port of its own.
    """
    _check_heap(heap)
    instance = _state.instance_dir(port)
    recorded = _state.read_state(instance)
    if recorded is not None and _state.recorded_distribution(recorded) != distribution.name:
        raise LocalElasticsearchError(
            f"the node on port {port} runs {_state.recorded_distribution(recorded)}, not "
            f"{distribution.name}: choose another --port (its data is in {instance})"
        )
    membership = _state.recorded_membership(instance)
    if membership is not None:
        raise LocalElasticsearchError(
            f"the node on port {port} is a member of {membership.describe()}: start it with "
            f"`trailql elasticsearch up --nodes {len(membership.ports)} "
            f"--port {membership.ports[0]}`"
        )
    with _state.lock():
        running = _node.adopt_running(instance, timeout, log)
        if running is not None:
            return running
        if _processes.port_in_use(port):
            raise LocalElasticsearchError(
                f"port {port} on {_common.HOST} is already in use by something other than the "
                f"TrailQL node recorded in {instance}; stop it or choose another port"
            )
        java_home = _java.find_java_home(distribution)
        archive = _distribution.download(log, distribution)
        dist = _distribution.unpack(archive, log, distribution)
        setup = _node.Setup(
            instance=instance,
            dist=dist,
            port=port,
            java_home=java_home,
            user=_service_user.service_user(log) if os.geteuid() == 0 else None,
            distribution=distribution,
        )
        password = _node.provision(setup, heap, log)
        return _node.start(setup, password, timeout, log)


def up_cluster(
    *,
    nodes: int = 3,
    port: int = CLUSTER_PORT,
    heap: str = "512m",
    timeout: float = 300.0,
    log: Callable[[str], None] = _log_to_stderr,
) -> LocalCluster:
    """Start (provisioning on first use) the ``nodes``-node cluster on ports from ``port``.

    Members already running are kept, so this is idempotent and also brings back a member
    that was stopped or killed. ``timeout`` bounds the start, not the one-off download.
    """
    _check_heap(heap)
    membership = _cluster.check_layout(port, nodes)
    with _state.lock():
        return _cluster.up_cluster(membership, heap, timeout, log)


def _check_heap(heap: str) -> None:
    if not _HEAP.fullmatch(heap):
        raise LocalElasticsearchError(f"heap must look like 512m or 1g, not {heap!r}")


def down(*, timeout: float = 60.0, port: int | None = None, cluster: bool = False) -> bool:
    """Stop the node on ``port`` (every local node when None), keeping its data and password.

    With ``cluster``, every member of the cluster the node on ``port`` belongs to.

    Returns:
        True if a node was stopped.
    """
    if cluster and port is None:
        raise LocalElasticsearchError("say which cluster: the port of any of its nodes")
    ports: list[int | None] = [port]
    if cluster and port is not None:
        ports = list(_cluster.members(port))
    stopped = False
    with _state.lock():
        for instance in [path for member in ports for path in _state.instances(member)]:
            state = _state.read_state(instance)
            if state is None:
                continue
            pid = _state.recorded_pid(instance, state)
            if pid is not None and _processes.is_our_process(pid, instance):
                _processes.terminate(pid, timeout, instance)
                stopped = True
            if state.get("pid") is not None:
                _state.write_state(instance, {**state, "pid": None})
            _state.pid_file(instance).unlink(missing_ok=True)
    return stopped


def status(*, port: int | None = None) -> LocalNode | None:
    """The node on ``port`` (lowest port when None) if its process lives and it answers."""
    for instance in _state.instances(port):
        node = _state.recorded_node(instance)
        if (
            node is not None
            and _processes.is_our_process(node.pid, instance)
            and _health.usable(node, wait=False)
        ):
            return node
    return None


@dataclass(frozen=True)
class Instance:
    """One local node folder, for ``trailql elasticsearch status``."""

    port: int
    home: Path
    #: The cluster it belongs to; None for a single node.
    membership: Membership | None
    #: How to reach it when its process runs, else None.
    node: LocalNode | None


def instances() -> list[Instance]:
    """Every local node folder, in port order, and whether its process runs."""
    found: list[Instance] = []
    for home in _state.instances(None):
        node = _state.recorded_node(home)
        if node is not None and not _processes.is_our_process(node.pid, home):
            node = None
        port = int(home.name.removeprefix("node-"))
        found.append(Instance(port, home, _state.recorded_membership(home), node))
    return found


def health(node: LocalNode) -> dict[str, Any] | None:
    """``_cluster/health`` as ``node`` answers it; None when it does not."""
    return _health.cluster_health(node)


def node_list(node: LocalNode) -> list[dict[str, Any]] | None:
    """The nodes in ``node``'s cluster (``_cat/nodes``); None when it does not answer."""
    return _health.cluster_nodes(node)


def paused_allocation(node: LocalNode) -> tuple[str, str] | None:
    """``cluster.routing.allocation.enable`` and its scope, when it is not ``all``."""
    return _health.paused_allocation(node)


def running_node() -> LocalNode | LocalCluster | None:
    """Lets ``trailql.connection`` find a local node when ``ELASTICSEARCH_URL`` is unset.

    The lowest port that answers; when it is a cluster's, every running member of it.
    """
    node = status()
    if node is None:
        return None
    membership = _state.recorded_membership(node.home)
    if membership is None:
        return node
    members = [
        item.node for item in instances() if item.membership == membership and item.node is not None
    ]
    return LocalCluster(membership.name, tuple(members))
