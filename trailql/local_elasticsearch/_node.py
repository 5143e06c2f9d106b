"""One node instance: its settings and keystore, starting it, and waiting until it is usable."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trailql.local_elasticsearch._common import (
    DEFAULT_DISTRIBUTION,
    HOST,
    TAIL_LINES,
    TRANSPORT_OFFSET,
    USERNAME,
    Distribution,
    LocalElasticsearchError,
    LocalNode,
    Membership,
    node_url,
    snapshots_dir,
)
from trailql.local_elasticsearch._health import usable
from trailql.local_elasticsearch._processes import is_our_process, terminate, transport_port
from trailql.local_elasticsearch._programs import require, run
from trailql.local_elasticsearch._service_user import chown_tree
from trailql.local_elasticsearch._state import (
    has_data,
    new_state,
    pid_file,
    read_state,
    recorded_membership,
    recorded_node,
    state_file,
    write_state,
    written_pid,
)

if TYPE_CHECKING:
    from collections.abc import Callable

_CLUSTER_NAME = "trailql-local"


@dataclass(frozen=True)
class Setup:
    """What provisioning and starting one instance share; ``user`` is None unless root."""

    instance: Path
    dist: Path
    port: int
    java_home: Path
    user: str | None
    #: The cluster this node belongs to; None for a single node.
    membership: Membership | None = None
    distribution: Distribution = DEFAULT_DISTRIBUTION

    def state(self, password: str, *, pid: int | None) -> dict[str, Any]:
        """What state.json records for this node."""
        return new_state(
            self.instance,
            self.port,
            password,
            pid=pid,
            membership=self.membership,
            distribution=self.distribution,
        )

    @property
    def _variables(self) -> tuple[str, ...]:
        prefix = self.distribution.variable_prefix
        return tuple(f"{prefix}_{name}" for name in ("JAVA_HOME", "PATH_CONF", "TMPDIR"))

    def environment(self) -> dict[str, str]:
        """ES_PATH_CONF keeps the shared distribution read-only; the tmp settings spare /tmp."""
        temporary = self.instance / "tmp"
        environment = dict(os.environ)
        java, config, tmp = self._variables
        environment.update(
            {
                java: str(self.java_home),
                config: str(self.instance / "config"),
                tmp: str(temporary),
            }
        )
        if self.distribution.secured and not any(c.isspace() for c in str(temporary)):
            # The launcher JVM ignores ES_TMPDIR; its script splits this variable on spaces.
            inherited = environment.get("CLI_JAVA_OPTS", "")
            environment["CLI_JAVA_OPTS"] = f"{inherited} -Djava.io.tmpdir={temporary}".strip()
        return environment

    def command(self, tool: str, *arguments: str) -> list[str]:
        """A distribution tool's argv, through ``runuser`` (with ES_* passed on) when root."""
        argv = [str(self.dist / "bin" / tool), *arguments]
        if self.user is None:
            return argv
        runuser = require("runuser", f"to run Elasticsearch as {self.user}")
        env = require("env", "to pass settings through runuser")
        environment = self.environment()
        names = (*self._variables, "CLI_JAVA_OPTS")
        return [
            runuser,
            "-u",
            self.user,
            "--",
            env,
            *(f"{n}={environment[n]}" for n in names if n in environment),
            *argv,
        ]

    def run(
        self, tool: str, *arguments: str, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return run(self.command(tool, *arguments), env=self.environment(), stdin=stdin)


def _settings(setup: Setup) -> str:
    instance, port, membership = setup.instance, setup.port, setup.membership
    lines = {
        "cluster.name": _CLUSTER_NAME if membership is None else membership.name,
        "node.name": _CLUSTER_NAME if membership is None else f"trailql-{port}",
        "network.host": HOST,
        "http.port": str(port),
    }
    if membership is None:
        lines["transport.port"] = str(transport_port(port))
        lines["discovery.type"] = "single-node"
    else:
        # Fixed, not probed: every member must know every other's transport port.
        lines["transport.port"] = str(port + TRANSPORT_OFFSET)
        seeds = [f"{HOST}:{member + TRANSPORT_OFFSET}" for member in membership.ports]
        lines["discovery.seed_hosts"] = json.dumps(seeds)
        if not has_data(instance):
            # Bootstrapping only: once the cluster has formed, its members ignore this.
            names = [f"trailql-{member}" for member in membership.ports]
            lines["cluster.initial_master_nodes"] = json.dumps(names)
    if setup.distribution.secured:
        lines |= {
            "xpack.security.enabled": "true",
            "xpack.security.http.ssl.enabled": "false",
            "xpack.security.transport.ssl.enabled": "false",
        }
    lines |= {
        "path.data": json.dumps(str(instance / "data")),
        "path.logs": json.dumps(str(instance / "logs")),
        # Filesystem snapshot repositories (`trailql indices snapshot`), shared by every node.
        "path.repo": json.dumps([str(snapshots_dir())]),
        "action.destructive_requires_name": "false",
        # A nearly full developer disk would otherwise make shards unassignable or read-only.
        "cluster.routing.allocation.disk.threshold_enabled": "false",
    }
    header = "# Written by trailql.local_elasticsearch on every start; edits are overwritten.\n"
    return header + "".join(f"{key}: {value}\n" for key, value in lines.items())


def provision(
    setup: Setup, heap: str, log: Callable[[str], None], *, password: str | None = None
) -> str:
    """Prepares the instance folder and returns the ``elastic`` password.

    ``password``: the one a cluster's members share; a single node keeps its own.
    """
    instance = setup.instance
    config = instance / "config"
    instance.mkdir(parents=True, exist_ok=True)
    if not config.is_dir():
        log(f"Creating node folder {instance}")
        staging = instance / ".config-staging"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(setup.dist / "config", staging)
        staging.rename(config)
    for name in ("data", "logs", "tmp"):
        (instance / name).mkdir(exist_ok=True)
    _prepare_snapshots(setup)
    (config / f"{setup.distribution.engine}.yml").write_text(_settings(setup), encoding="utf-8")
    _anchor_jvm_paths(config / "jvm.options", instance)
    options = config / "jvm.options.d"
    options.mkdir(exist_ok=True)
    (options / "heap.options").write_text(f"-Xms{heap}\n-Xmx{heap}\n", encoding="utf-8")
    if not setup.distribution.secured:  # no users: nothing to protect, loopback only
        _record(setup, "")
        return ""
    return _keystore(setup, password)


def _anchor_jvm_paths(options: Path, instance: Path) -> None:
    """The instance's own jvm.options point logs/ and data at the instance.

    OpenSearch's and Elasticsearch 7's name them relative to the distribution, which is
    read-only here.
    """
    text = options.read_text(encoding="utf-8")
    for relative in ("file=logs/", "-Xloggc:logs/", "-XX:ErrorFile=logs/"):
        text = text.replace(relative, relative.replace("logs/", f"{instance}/logs/"))
    text = text.replace("-XX:HeapDumpPath=data\n", f"-XX:HeapDumpPath={instance}/data\n")
    options.write_text(text, encoding="utf-8")


def _record(setup: Setup, password: str) -> None:
    """Recorded before anything can fail, so a retried start reuses the same password."""
    write_state(setup.instance, setup.state(password, pid=None))
    if setup.user is not None:
        chown_tree(setup.instance, setup.user, keep=frozenset({state_file(setup.instance)}))


def _keystore(setup: Setup, password: str | None) -> str:
    """The ``elastic`` password, put in the keystore on first use, read back if state is lost."""
    instance = setup.instance
    keystore = instance / "config" / "elasticsearch.keystore"
    if password is None:
        password = (read_state(instance) or {}).get("password")
    if not isinstance(password, str) and keystore.exists():
        # state.json was lost but the data (and so the password) survives in the keystore.
        shown = setup.run("elasticsearch-keystore", "show", "bootstrap.password")
        password = shown.stdout.strip() if shown.returncode == 0 else None
    if not isinstance(password, str) or not password:
        password = secrets.token_urlsafe(18)
    _record(setup, password)
    if not keystore.exists():
        # The bootstrap password becomes the `elastic` user's password on first start.
        for arguments, stdin in (
            (("create",), None),
            (("add", "-x", "bootstrap.password"), password),
        ):
            result = setup.run("elasticsearch-keystore", *arguments, stdin=stdin)
            if result.returncode != 0:
                keystore.unlink(missing_ok=True)
                raise LocalElasticsearchError(
                    f"`elasticsearch-keystore {arguments[0]}` failed (exit {result.returncode}):\n"
                    + (result.stdout + result.stderr).strip()
                )
    return password


def _prepare_snapshots(setup: Setup) -> None:
    """``path.repo`` must exist, writable by the node, before a repository is registered."""
    snapshots = snapshots_dir()
    if not snapshots.is_dir():
        snapshots.mkdir(parents=True)
        if setup.user is not None:
            chown_tree(snapshots, setup.user, keep=frozenset())


def adopt_running(instance: Path, timeout: float, log: Callable[[str], None]) -> LocalNode | None:
    """The node already recorded for this instance, waited for if it is still coming up."""
    node = recorded_node(instance)
    if node is None or not is_our_process(node.pid, instance):
        return None
    if usable(node, wait=False):
        return node
    log(f"Elasticsearch (pid {node.pid}) is running but not answering yet; waiting")
    wait_until_usable(node, instance, time.monotonic() + timeout, started_here=False)
    return node


def start(setup: Setup, password: str, timeout: float, log: Callable[[str], None]) -> LocalNode:
    """Launches the provisioned node as a daemon and waits until it is usable."""
    deadline = time.monotonic() + timeout
    node = finish_launch(setup, password, begin_launch(setup, log), deadline)
    wait_until_usable(node, setup.instance, deadline, started_here=True)
    log(f"{setup.distribution.title} is up (pid {node.pid})")
    return node


def begin_launch(setup: Setup, log: Callable[[str], None]) -> subprocess.Popen[bytes]:
    """Starts the launcher, which returns once the server JVM runs and has written its pid.

    Members of a cluster are launched together: each waits for the others to form it.
    """
    instance = setup.instance
    logs = instance / "logs"
    pid_file(instance).unlink(missing_ok=True)
    log(f"Starting {setup.distribution.title} on {node_url(setup.port)} (logs: {logs})")
    # (-q is refused together with -d; its output goes to startup.log, never our stdout.)
    with (logs / "startup.log").open("wb") as output:
        return subprocess.Popen(  # noqa: S603 -- fixed argv
            setup.command(setup.distribution.engine, "-d", "-p", str(pid_file(instance))),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=instance,
            env=setup.environment(),
            start_new_session=True,
        )


def finish_launch(
    setup: Setup, password: str, launcher: subprocess.Popen[bytes], deadline: float
) -> LocalNode:
    """Waits for the launcher and records the server's pid; raises if it did not start."""
    instance = setup.instance
    try:
        returncode: int | None = launcher.wait(timeout=max(deadline - time.monotonic(), 1.0))
    except subprocess.TimeoutExpired:
        launcher.kill()
        launcher.wait()
        returncode = None
    pid = written_pid(instance)
    # OpenSearch's launcher returns as soon as it has forked; the server writes its pid later.
    while returncode == 0 and pid is None and time.monotonic() < deadline:
        time.sleep(0.2)
        pid = written_pid(instance)
    if pid is not None:
        write_state(instance, setup.state(password, pid=pid))
    if returncode != 0 or pid is None:
        if pid is not None and is_our_process(pid, instance):
            terminate(pid, 30.0, instance)
        what = "timed out" if returncode is None else f"exited with {returncode}"
        startup_log = instance / "logs" / "startup.log"
        raise LocalElasticsearchError(
            f"Elasticsearch did not start (launcher {what}); read {instance / 'logs'}/. "
            f"Last lines of {startup_log}:\n{_tail(startup_log)}"
        )
    return LocalNode(
        url=node_url(setup.port),
        username=USERNAME if setup.distribution.secured else "",
        password=password,
        pid=pid,
        home=instance,
        distribution=setup.distribution.name,
    )


def wait_until_usable(
    node: LocalNode, instance: Path, deadline: float, *, started_here: bool
) -> None:
    while True:
        if not is_our_process(node.pid, instance):
            problem = f"Elasticsearch (pid {node.pid}) exited while starting"
            break
        if usable(node, wait=True):
            return
        if time.monotonic() >= deadline:
            problem = f"Elasticsearch (pid {node.pid}) did not become healthy in time"
            if started_here:  # half-started and unusable: do not leave it behind
                terminate(node.pid, 30.0, instance)
                problem += " and was stopped"
            else:
                problem += "; `trailql elasticsearch down` stops it"
            break
        time.sleep(0.5)
    logs = instance / "logs"
    membership = recorded_membership(instance)
    server_log = logs / f"{_CLUSTER_NAME if membership is None else membership.name}.log"
    source = server_log if _tail(server_log) else logs / "startup.log"
    raise LocalElasticsearchError(
        f"{problem}; read {logs}/. Last lines of {source}:\n{_tail(source)}"
    )


def _tail(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-TAIL_LINES:])
