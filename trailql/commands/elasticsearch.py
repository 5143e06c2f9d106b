"""``trailql elasticsearch up|down|status``: a local Elasticsearch for development and tests."""

from __future__ import annotations

import argparse
import sys

from trailql import local_elasticsearch
from trailql.output import EXIT_INCOMPLETE, EXIT_OK, stderr


def run(arguments: argparse.Namespace) -> int:
    """Start, stop or describe the local node; ``up`` prints ``export`` lines."""
    if arguments.action == "up":
        node = local_elasticsearch.up(port=arguments.port, heap=arguments.heap)
        sys.stdout.write(node.exports())
        stderr.print(f"Elasticsearch {local_elasticsearch.ELASTICSEARCH_VERSION} at {node.url}")
        return EXIT_OK
    if arguments.action == "down":
        stopped = local_elasticsearch.down()
        stderr.print("stopped" if stopped else "no local Elasticsearch was running")
        return EXIT_OK
    running = local_elasticsearch.status()
    if running is None:
        stderr.print("no local Elasticsearch is running")
        return EXIT_INCOMPLETE
    stderr.print(f"running at {running.url} (pid {running.pid}, data in {running.home})")
    return EXIT_OK
