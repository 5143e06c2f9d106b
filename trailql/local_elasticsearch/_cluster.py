"""A local cluster: several nodes on one machine, on consecutive ports, formed together.

Each member is an ordinary instance folder (``node-<port>/``) whose state.json also records
the cluster it belongs to, so stopping or starting one member never needs to know the others.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from trailql.local_elasticsearch import _distribution, _java, _node, _processes, _service_user
from trailql.local_elasticsearch._common import (
    HOST,
    TRANSPORT_OFFSET,
    LocalCluster,
    LocalElasticsearchError,
    LocalNode,
    Membership,
)
from trailql.local_elasticsearch._health import cluster_health, paused_allocation
from trailql.local_elasticsearch._state import (
    has_data,
    instance_dir,
    read_state,
    recorded_membership,
    recorded_node,
)

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Callable
    from pathlib import Path

MAX_NODES = 9
"""More would not fit one machine usefully, and ports must stay predictable."""

_HIGHEST_PORT = 65535


def check_layout(port: int, nodes: int) -> Membership:
    """The cluster ``nodes`` nodes from ``port`` make; raises when it cannot be made."""
    if not 2 <= nodes <= MAX_NODES:  # noqa: PLR2004 -- one node is not a cluster
        raise LocalElasticsearchError(f"a local cluster has 2 to {MAX_NODES} nodes, not {nodes}")
    last = port + nodes - 1 + TRANSPORT_OFFSET
    if port < 1024 or last > _HIGHEST_PORT:  # noqa: PLR2004 -- privileged ports
        raise LocalElasticsearchError(
            f"ports {port}-{port + nodes - 1} (and {TRANSPORT_OFFSET} above, for transport) "
            f"must lie between 1024 and {_HIGHEST_PORT}"
        )
    membership = Membership.of(port, nodes)
    for member in membership.ports:
        _check_member(instance_dir(member), membership)
    return membership


def _check_member(instance: Path, membership: Membership) -> None:
    """A folder may join ``membership`` if it is new, or already a member of exactly it."""
    recorded = recorded_membership(instance)
    if recorded == membership:
        return
    if recorded is not None:
        raise LocalElasticsearchError(
            f"{instance} is a member of {recorded.describe()}, not {membership.describe()}; "
            f"start that cluster, or delete the folder to reuse its port"
        )
    if has_data(instance) or read_state(instance) is not None:
        raise LocalElasticsearchError(
            f"{instance} holds a single node, which cannot join a cluster; choose other ports "
            f"(--port) or delete the folder"
        )


def up_cluster(
    membership: Membership, heap: str, timeout: float, log: Callable[[str], None]
) -> LocalCluster:
    """Start every member not running (all at once: each waits for the others), then wait.

    Call with the lock held. Members already running are left as they are, so this also
    brings back one member that was stopped or killed.
    """
    deadline = time.monotonic() + timeout
    missing = [
        instance_dir(port) for port in membership.ports if _running(instance_dir(port)) is None
    ]
    if missing:
        _start_together(membership, missing, heap, deadline, log)
    nodes = tuple(_running(instance_dir(port)) for port in membership.ports)
    cluster = LocalCluster(membership.name, tuple(node for node in nodes if node is not None))
    if len(cluster.nodes) != len(membership.ports):
        raise LocalElasticsearchError(f"a member of {membership.describe()} stopped meanwhile")
    _wait_until_formed(cluster, membership, deadline)
    log(f"{membership.describe().capitalize()} is up")
    paused = paused_allocation(cluster.nodes[0])
    if paused is not None:
        value, scope = paused
        log(
            f"Shard allocation is limited: cluster.routing.allocation.enable is {value} "
            f"({scope}), as a rolling restart leaves it until its last step, so the shards it "
            f"holds back stay unassigned. Once every node is back: PUT _cluster/settings "
            f'{{"{scope}": {{"cluster.routing.allocation.enable": null}}}}'
        )
    return cluster


def _running(instance: Path) -> LocalNode | None:
    node = recorded_node(instance)
    if node is None or not _processes.is_our_process(node.pid, instance):
        return None
    return node


def _start_together(
    membership: Membership,
    missing: list[Path],
    heap: str,
    deadline: float,
    log: Callable[[str], None],
) -> None:
    for instance in missing:
        port = int(instance.name.removeprefix("node-"))
        for taken in (port, port + TRANSPORT_OFFSET):
            if _processes.port_in_use(taken):
                raise LocalElasticsearchError(
                    f"port {taken} on {HOST} is already in use by something other than "
                    f"{membership.describe()}; stop it or choose other ports (--port)"
                )
    java_home = _java.find_java_home()
    dist = _distribution.unpack(_distribution.download(log), log)
    user = _service_user.service_user(log) if os.geteuid() == 0 else None
    password = _shared_password(membership)
    launches: list[tuple[_node.Setup, str, subprocess.Popen[bytes]]] = []
    failure: LocalElasticsearchError | None = None
    try:
        for instance in missing:
            setup = _node.Setup(
                instance=instance,
                dist=dist,
                port=int(instance.name.removeprefix("node-")),
                java_home=java_home,
                user=user,
                membership=membership,
            )
            password = _node.provision(setup, heap, log, password=password)
            launches.append((setup, password, _node.begin_launch(setup, log)))
    except LocalElasticsearchError as exc:
        failure = exc
    # Every launcher started is waited for, so none is left behind half-started.
    for setup, shared, launcher in launches:
        try:
            _node.finish_launch(setup, shared, launcher, deadline)
        except LocalElasticsearchError as exc:
            failure = failure or exc
    if failure is not None:
        raise failure


def _shared_password(membership: Membership) -> str | None:
    """The ``elastic`` password some member already has; every member must use the same."""
    for port in membership.ports:
        password = (read_state(instance_dir(port)) or {}).get("password")
        if isinstance(password, str) and password:
            return password
    return None


def _wait_until_formed(cluster: LocalCluster, membership: Membership, deadline: float) -> None:
    """Until some member sees every member joined, under an elected master.

    Red is formed too: an index without replicas that lost its node is red until that node is
    back, and bringing it back is what this is for.
    """
    wanted = f"nodes={len(membership.ports)}"
    while True:
        for node in cluster.nodes:
            if cluster_health(node, wait_for=wanted) is not None:
                return
        for node in cluster.nodes:
            if not _processes.is_our_process(node.pid, node.home):
                problem = f"the node on {node.url} (pid {node.pid}) exited while starting"
                break
        else:
            if time.monotonic() < deadline:
                time.sleep(0.5)
                continue
            problem = f"{membership.describe()} did not form in time"
        raise LocalElasticsearchError(
            f"{problem}; read the logs/ folder of each node ({cluster.nodes[0].home.parent}/"
            f"node-<port>/logs/{membership.name}.log). `trailql elasticsearch down` stops them"
        )


def members(port: int) -> list[int]:
    """The ports of the cluster the node on ``port`` belongs to; just ``port`` for a single."""
    membership = recorded_membership(instance_dir(port))
    return [port] if membership is None else list(membership.ports)
