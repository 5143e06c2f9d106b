"""What every part shares: the pinned version, the public types and where the cache lives."""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path

ELASTICSEARCH_VERSION = "9.3.2"
"""Newest 9.x that resolves and runs here (9.3.0 does not resolve from our Maven registry)."""

HOST = "127.0.0.1"
USERNAME = "elastic"
CLUSTER_PORT = 9301
"""A local cluster's first HTTP port unless told: clear of the single node on 9200 (and 9300)."""
TRANSPORT_OFFSET = 100
"""A node's transport port is its HTTP port plus this, as Elasticsearch's 9200/9300 habit."""
TAIL_LINES = 20
"""How many lines of a log or of Maven's output an error message quotes."""


@dataclass(frozen=True)
class LocalNode:
    """How to reach the local node; what the CLI prints and the test fixture hands out."""

    url: str
    username: str
    password: str = field(repr=False)
    pid: int
    home: Path

    def exports(self) -> str:
        """Shell lines for ``eval "$(trailql elasticsearch up)"``."""
        return _exports(self.url, self.username, self.password)


def _exports(url: str, username: str, password: str) -> str:
    pairs = (
        ("ELASTICSEARCH_URL", url),
        ("ELASTICSEARCH_USERNAME", username),
        ("ELASTICSEARCH_PASSWORD", password),
    )
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in pairs)


@dataclass(frozen=True)
class Membership:
    """The cluster a node belongs to: its name and every member's HTTP port, lowest first."""

    name: str
    ports: tuple[int, ...]

    @classmethod
    def of(cls, port: int, nodes: int) -> Membership:
        """The cluster of ``nodes`` nodes on consecutive HTTP ports from ``port``."""
        return cls(f"trailql-local-{port}", tuple(range(port, port + nodes)))

    def describe(self) -> str:
        """Say which cluster, as a person would look for it."""
        return f"the {len(self.ports)}-node cluster on ports {self.ports[0]}-{self.ports[-1]}"


@dataclass(frozen=True)
class LocalCluster:
    """How to reach a local cluster: every node, so a client survives losing any one."""

    name: str
    nodes: tuple[LocalNode, ...]

    @property
    def url(self) -> str:
        """Every node's URL, comma-separated, as ``ELASTICSEARCH_URL`` takes them."""
        return ",".join(node.url for node in self.nodes)

    @property
    def username(self) -> str:
        return self.nodes[0].username

    @property
    def password(self) -> str:
        return self.nodes[0].password

    def exports(self) -> str:
        """Shell lines for ``eval "$(trailql elasticsearch up --nodes N)"``."""
        return _exports(self.url, self.username, self.password)


class LocalElasticsearchError(Exception):
    """The local node could not be provisioned, started or stopped; the message says why."""


def cache_dir() -> Path:
    """Where downloads and instances live: outside the repository, so clones share them."""
    explicit = os.environ.get("TRAILQL_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser().absolute()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "trailql"
    if os.geteuid() == 0:
        # Root's home is closed to the service user Elasticsearch runs as; a system cache
        # folder needs no permission changes on it.
        return Path("/var/cache/trailql")
    return Path.home() / ".cache" / "trailql"


def snapshots_dir() -> Path:
    """Every local node's ``path.repo``: filesystem snapshot repositories live beneath it."""
    return cache_dir() / "snapshots"


def node_url(port: int) -> str:
    """The node's HTTP address; it only ever listens on the loopback interface."""
    return f"http://{HOST}:{port}"
