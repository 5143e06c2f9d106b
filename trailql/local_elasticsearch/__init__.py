"""A local single-node Elasticsearch for development and tests, when no cluster is given.

Layout under :func:`cache_dir` (outside the repository, shared by every checkout)::

    downloads/elasticsearch-<VERSION>.zip   fetched once with Maven
    elasticsearch-<VERSION>/                the unpacked distribution, read-only and shared
    node-<port>/                            one instance: config/ data/ logs/ tmp/ state.json es.pid

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
from typing import TYPE_CHECKING

from trailql.local_elasticsearch import (
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
    ELASTICSEARCH_VERSION,
    LocalElasticsearchError,
    LocalNode,
    cache_dir,
)

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "ELASTICSEARCH_VERSION",
    "LocalElasticsearchError",
    "LocalNode",
    "cache_dir",
    "down",
    "running_node",
    "status",
    "up",
]

_HEAP = re.compile(r"[1-9][0-9]*[kKmMgG]")

# Tracebacks and pickles name the public module, as before the split, not a private one.
LocalNode.__module__ = LocalElasticsearchError.__module__ = __name__


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
) -> LocalNode:
    """Start (provisioning on first use) the node on ``port``, or return it if it already runs.

    ``timeout`` bounds the start itself, not the one-off download. ``heap`` applies from the
    next start of a node that is already running.
    """
    if not _HEAP.fullmatch(heap):
        raise LocalElasticsearchError(f"heap must look like 512m or 1g, not {heap!r}")
    instance = _state.instance_dir(port)
    with _state.lock():
        running = _node.adopt_running(instance, timeout, log)
        if running is not None:
            return running
        if _processes.port_in_use(port):
            raise LocalElasticsearchError(
                f"port {port} on {_common.HOST} is already in use by something other than the "
                f"TrailQL node recorded in {instance}; stop it or choose another port"
            )
        java_home = _java.find_java_home()
        dist = _distribution.unpack(_distribution.download(log), log)
        setup = _node.Setup(
            instance=instance,
            dist=dist,
            port=port,
            java_home=java_home,
            user=_service_user.service_user(log) if os.geteuid() == 0 else None,
        )
        password = _node.provision(setup, heap, log)
        return _node.start(setup, password, timeout, log)


def down(*, timeout: float = 60.0, port: int | None = None) -> bool:
    """Stop the node on ``port`` (every local node when None), keeping its data and password.

    Returns:
        True if a node was stopped.
    """
    stopped = False
    with _state.lock():
        for instance in _state.instances(port):
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


def running_node() -> LocalNode | None:
    """Lets ``trailql.connection`` find the local node when ``ELASTICSEARCH_URL`` is unset."""
    return status()
