"""``trailql elasticsearch up|down|status``: a local Elasticsearch for development and tests."""

from __future__ import annotations

import argparse
import sys

from rich.text import Text

from trailql import local_elasticsearch
from trailql.local_elasticsearch import (
    Instance,
    LocalElasticsearchError,
    LocalNode,
    Membership,
)
from trailql.output import EXIT_INCOMPLETE, EXIT_OK, stderr


def run(arguments: argparse.Namespace) -> int:
    """Start, stop or describe local nodes; ``up`` prints ``export`` lines."""
    if arguments.action == "up":
        return _up(arguments)
    if arguments.action == "down":
        if arguments.cluster and arguments.port is None:
            raise LocalElasticsearchError("--cluster needs --port: the port of any of its nodes")
        stopped = local_elasticsearch.down(port=arguments.port, cluster=arguments.cluster)
        stderr.print("stopped" if stopped else "no local Elasticsearch was running there")
        return EXIT_OK
    return _status(arguments.port)


def _up(arguments: argparse.Namespace) -> int:
    version = local_elasticsearch.ELASTICSEARCH_VERSION
    distribution = local_elasticsearch.Distribution.of(arguments.engine, arguments.version)
    if arguments.nodes == 1:
        node = local_elasticsearch.up(
            port=arguments.port or local_elasticsearch.default_port(distribution),
            heap=arguments.heap or "1g",
            distribution=distribution,
        )
        sys.stdout.write(node.exports())
        stderr.print(f"{distribution.title} at {node.url}")
        return EXIT_OK
    if distribution != local_elasticsearch.DEFAULT_DISTRIBUTION:
        raise LocalElasticsearchError(
            f"a local cluster runs Elasticsearch {version} only; start {distribution.title} "
            "as a single node (without --nodes)"
        )
    cluster = local_elasticsearch.up_cluster(
        nodes=arguments.nodes,
        port=arguments.port or local_elasticsearch.CLUSTER_PORT,
        heap=arguments.heap or "512m",
    )
    sys.stdout.write(cluster.exports())
    stderr.print(f"Elasticsearch {version} cluster {cluster.name} at {cluster.url}", soft_wrap=True)
    return EXIT_OK


def _status(port: int | None) -> int:
    """One line per node folder and one per cluster; exit 1 when none of them runs."""
    found = local_elasticsearch.instances()
    if port is not None:
        wanted = next((item for item in found if item.port == port), None)
        cluster = wanted.membership if wanted is not None else None
        found = [
            item
            for item in found
            if item.port == port or (cluster is not None and item.membership == cluster)
        ]
    running = [item for item in found if item.node is not None]
    if not running:
        stderr.print("no local Elasticsearch is running" + (f" on {port}" if port else ""))
        return EXIT_INCOMPLETE
    shown: set[str] = set()
    for item in found:
        if item.membership is None:
            if item.node is not None:
                _single(item.node)
            continue
        if item.membership.name in shown:
            continue
        shown.add(item.membership.name)
        members = [each for each in found if each.membership == item.membership]
        if port is not None or any(each.node is not None for each in members):
            _cluster(item.membership, members)
    return EXIT_OK


def _single(node: LocalNode) -> None:
    health = local_elasticsearch.health(node)
    state = "not answering" if health is None else str(health["status"])
    stderr.print(
        f"running at {node.url} (pid {node.pid}, {state}, data in {node.home})", soft_wrap=True
    )


def _cluster(membership: Membership, members: list[Instance]) -> None:
    """The cluster's health as a running member sees it, then each member and its role."""
    answering = [item.node for item in members if item.node is not None]
    health = next(
        (seen for node in answering if (seen := local_elasticsearch.health(node)) is not None),
        None,
    )
    listed = next(
        (known for node in answering if (known := local_elasticsearch.node_list(node)) is not None),
        [],
    )
    summary = (
        "no member answers"
        if health is None
        else f"{health['status']}, {health['number_of_nodes']} of {len(membership.ports)} nodes, "
        f"{health['active_primary_shards']} primary and {health['active_shards']} active shards, "
        f"{health['unassigned_shards']} unassigned"
    )
    # Settings are the cluster's: any member that answered health tells them.
    paused = local_elasticsearch.paused_allocation(answering[0]) if health else None
    if paused is not None:
        value, scope = paused
        summary += f"; shard allocation limited to {value} ({scope})"
    stderr.print(f"cluster {membership.name}: {summary}", soft_wrap=True)
    joined = {str(entry.get("http_address", "")).rsplit(":", 1)[-1]: entry for entry in listed}
    for item in members:
        entry = joined.get(str(item.port))
        if item.node is None:
            line = f"  {item.port}  stopped"
        elif entry is None:
            line = f"  {item.port}  pid {item.node.pid}, not in the cluster (starting or cut off)"
        else:
            master = ", elected master" if entry.get("master") == "*" else ""
            line = (
                f"  {item.port}  pid {item.node.pid}, roles {entry.get('node.role')}{master}, "
                f"heap {entry.get('heap.percent')}%"
            )
        stderr.print(Text(line), soft_wrap=True)
