"""Instance folders (``node-<port>/``), what they record (state.json, es.pid), and the lock."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trailql.local_elasticsearch._common import (
    ELASTICSEARCH_VERSION,
    USERNAME,
    LocalNode,
    Membership,
    cache_dir,
    node_url,
)

if TYPE_CHECKING:
    from collections.abc import Iterator


def instance_dir(port: int) -> Path:
    return cache_dir() / f"node-{port}"


def instances(port: int | None) -> list[Path]:
    """Instance folders in port order, so a bare ``status()`` prefers the default 9200."""
    if port is not None:
        return [instance_dir(port)]
    found: list[tuple[int, Path]] = []
    for path in cache_dir().glob("node-*"):
        suffix = path.name.removeprefix("node-")
        if suffix.isdigit() and path.is_dir():
            found.append((int(suffix), path))
    return [path for _, path in sorted(found)]


def state_file(instance: Path) -> Path:
    return instance / "state.json"


def pid_file(instance: Path) -> Path:
    """Where Elasticsearch itself writes its pid (``-p``)."""
    return instance / "es.pid"


@contextlib.contextmanager
def lock() -> Iterator[None]:
    """Serialises up/down so parallel test workers never provision the same folder twice."""
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def new_state(
    instance: Path,
    port: int,
    password: str,
    *,
    pid: int | None,
    membership: Membership | None = None,
) -> dict[str, Any]:
    state: dict[str, Any] = {
        "version": ELASTICSEARCH_VERSION,
        "url": node_url(port),
        "username": USERNAME,
        "password": password,
        "pid": pid,
        "port": port,
        "home": str(instance),
    }
    if membership is not None:
        state["cluster"] = {"name": membership.name, "ports": list(membership.ports)}
    return state


def recorded_membership(instance: Path) -> Membership | None:
    """The cluster state.json says this node belongs to; None for a single node."""
    cluster = (read_state(instance) or {}).get("cluster")
    if not isinstance(cluster, dict):
        return None
    name, ports = cluster.get("name"), cluster.get("ports")
    if not (
        isinstance(name, str)
        and isinstance(ports, list)
        and ports
        and all(isinstance(port, int) for port in ports)
    ):
        return None
    return Membership(name, tuple(ports))


def has_data(instance: Path) -> bool:
    """Whether the node has started at least once: it then belongs to a cluster for good."""
    return (instance / "data" / "_state").is_dir()


def read_state(instance: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(state_file(instance).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_state(instance: Path, state: dict[str, Any]) -> None:
    """Atomic and 0600 from the first byte: the file holds the ``elastic`` password."""
    temporary = instance / f".state.{os.getpid()}.json"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(state, handle, indent=2)
        handle.write("\n")
    temporary.replace(state_file(instance))


def recorded_node(instance: Path) -> LocalNode | None:
    """The node state.json describes, whether or not it still runs."""
    state = read_state(instance)
    if state is None:
        return None
    url, username, password = state.get("url"), state.get("username"), state.get("password")
    pid, home = state.get("pid"), state.get("home")
    if not (
        isinstance(url, str)
        and isinstance(username, str)
        and isinstance(password, str)
        and isinstance(pid, int)
        and isinstance(home, str)
    ):
        return None
    return LocalNode(url=url, username=username, password=password, pid=pid, home=Path(home))


def recorded_pid(instance: Path, state: dict[str, Any]) -> int | None:
    """The pid in state.json, else Elasticsearch's own pid file (if we died before recording)."""
    pid = state.get("pid")
    if isinstance(pid, int):
        return pid
    return written_pid(instance)


def written_pid(instance: Path) -> int | None:
    """The pid Elasticsearch wrote to its pid file, if it did."""
    try:
        return int(pid_file(instance).read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return None
