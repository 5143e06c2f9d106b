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
        pairs = (
            ("ELASTICSEARCH_URL", self.url),
            ("ELASTICSEARCH_USERNAME", self.username),
            ("ELASTICSEARCH_PASSWORD", self.password),
        )
        return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in pairs)


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


def node_url(port: int) -> str:
    """The node's HTTP address; it only ever listens on the loopback interface."""
    return f"http://{HOST}:{port}"
