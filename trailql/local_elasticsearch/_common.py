"""What every part shares: the pinned version, the public types and where the cache lives."""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

ELASTICSEARCH_VERSION = "9.3.2"
"""Newest 9.x that resolves and runs here (9.3.0 does not resolve from our Maven registry)."""

ENGINES = ("elasticsearch", "opensearch")
"""What ``--engine`` takes: both publish a server-only ``integ-test-zip`` to Maven Central."""

#: The version of each engine ``--engine`` starts unless ``--version`` says otherwise.
DEFAULT_VERSIONS = {"elasticsearch": ELASTICSEARCH_VERSION, "opensearch": "2.19.6"}

HOST = "127.0.0.1"
USERNAME = "elastic"
CLUSTER_PORT = 9301
"""A local cluster's first HTTP port unless told: clear of the single node on 9200 (and 9300)."""
TRANSPORT_OFFSET = 100
"""A node's transport port is its HTTP port plus this, as Elasticsearch's 9200/9300 habit."""
TAIL_LINES = 20
"""How many lines of a log or of Maven's output an error message quotes."""


@dataclass(frozen=True)
class Distribution:
    """An engine and version to run: what to fetch, and how its node is set up and started.

    Elasticsearch runs with security on (the ``elastic`` user); OpenSearch's integ-test-zip
    has no security plugin, so its node answers without credentials, on loopback only.
    """

    engine: str = "elasticsearch"
    version: str = ELASTICSEARCH_VERSION

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise LocalElasticsearchError(
                f"unknown engine {self.engine!r}: use {' or '.join(ENGINES)}"
            )
        if not re.fullmatch(r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}", self.version):
            raise LocalElasticsearchError(f"version must look like 9.3.2, not {self.version!r}")

    @classmethod
    def of(cls, engine: str | None = None, version: str | None = None) -> Distribution:
        """The distribution named, each part defaulting as ``trailql elasticsearch up`` does."""
        engine = engine or "elasticsearch"
        return cls(engine, version or DEFAULT_VERSIONS.get(engine, ""))

    @classmethod
    def named(cls, name: str) -> Distribution:
        """The distribution :attr:`name` names (``opensearch-2.19.6``)."""
        engine, _, version = name.partition("-")
        return cls(engine, version)

    @property
    def name(self) -> str:
        """``elasticsearch-9.3.2``: its folder, its zip and what state.json records."""
        return f"{self.engine}-{self.version}"

    @property
    def title(self) -> str:
        return f"{'OpenSearch' if self.engine == 'opensearch' else 'Elasticsearch'} {self.version}"

    @property
    def major(self) -> int:
        return int(self.version.split(".", 1)[0])

    @property
    def artifact(self) -> str:
        return f"org.{self.engine}.distribution.integ-test-zip:{self.engine}:{self.version}:zip"

    @property
    def secured(self) -> bool:
        """Whether the node has users: Elasticsearch's has ``elastic``, OpenSearch's none."""
        return self.engine == "elasticsearch"

    @property
    def variable_prefix(self) -> str:
        """Of its environment variables: ``ES_JAVA_HOME`` or ``OPENSEARCH_JAVA_HOME``."""
        return "ES" if self.engine == "elasticsearch" else "OPENSEARCH"

    @property
    def java(self) -> tuple[int, int | None]:
        """The Java versions it runs on, lowest and highest (None: any newer)."""
        # Elasticsearch 7 needs the Security Manager, which Java 24 removed.
        if self.engine == "opensearch" or self.major <= 7:  # noqa: PLR2004
            return 11, 21
        return (21, None) if self.major >= 9 else (17, None)  # noqa: PLR2004


DEFAULT_DISTRIBUTION = Distribution()

#: Where each engine's node listens unless told: never on another's port, so they run side
#: by side (the tests and the benchmark run the others beside Elasticsearch 9 on 9200).
ENGINE_PORTS = {
    "elasticsearch-9.3.2": 9200,
    "elasticsearch-8.19.3": 9250,
    "opensearch-2.19.6": 9260,
}
OTHER_ENGINE_PORT = 9270
"""Any other engine or version's node."""


def default_port(distribution: Distribution) -> int:
    """The port a distribution's node listens on unless ``--port`` says."""
    return ENGINE_PORTS.get(distribution.name, OTHER_ENGINE_PORT)


@dataclass(frozen=True)
class LocalNode:
    """How to reach the local node; what the CLI prints and the test fixture hands out."""

    url: str
    username: str
    password: str = field(repr=False)
    pid: int
    home: Path
    #: What it runs, as :attr:`Distribution.name`.
    distribution: str = DEFAULT_DISTRIBUTION.name

    def exports(self) -> str:
        """Shell lines for ``eval "$(trailql elasticsearch up)"``."""
        return _exports(self.url, self.username, self.password)


def _exports(url: str, username: str, password: str) -> str:
    """Without a user (OpenSearch), the credentials of an earlier node are unset."""
    if not username:
        return (
            f"export ELASTICSEARCH_URL={shlex.quote(url)}\n"
            "unset ELASTICSEARCH_USERNAME ELASTICSEARCH_PASSWORD\n"
        )
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
