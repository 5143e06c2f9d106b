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

import base64
import contextlib
import fcntl
import json
import os
import pwd
import re
import secrets
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

ELASTICSEARCH_VERSION = "9.3.2"
"""Newest 9.x that resolves and runs here (9.3.0 does not resolve from our Maven registry)."""

_ARTIFACT = (
    f"org.elasticsearch.distribution.integ-test-zip:elasticsearch:{ELASTICSEARCH_VERSION}:zip"
)
# Full coordinates: the dependency plugin Maven picks by default (2.8) is flaky with `copy`.
_COPY_GOAL = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy"
_USERNAME = "elastic"
_SERVICE_USER = "trailql-es"
_CLUSTER_NAME = "trailql-local"
_HOST = "127.0.0.1"
_MIN_JAVA = 21
_JVM_ROOTS = ("/usr/lib/jvm/*", "/Library/Java/JavaVirtualMachines/*/Contents/Home")
_TAIL_LINES = 20
_HEAP = re.compile(r"[1-9][0-9]*[kKmMgG]")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # Maven colours some lines even with style.color=never
# A single node can never place replicas, so any index created with the default one replica
# keeps the cluster yellow for good; yellow still means every primary is available.
_USABLE = frozenset({"green", "yellow"})


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
    instance = _instance_dir(port)
    with _lock():
        running = _adopt_running(instance, timeout, log)
        if running is not None:
            return running
        if _port_in_use(port):
            raise LocalElasticsearchError(
                f"port {port} on {_HOST} is already in use by something other than the TrailQL "
                f"node recorded in {instance}; stop it or choose another port"
            )
        java_home = _find_java_home()
        dist = _unpack(_download(log), log)
        setup = _Setup(
            instance=instance,
            dist=dist,
            port=port,
            java_home=java_home,
            user=_service_user(log) if os.geteuid() == 0 else None,
        )
        password = _provision(setup, heap, log)
        return _start(setup, password, timeout, log)


def down(*, timeout: float = 60.0, port: int | None = None) -> bool:
    """Stop the node on ``port`` (every local node when None), keeping its data and password.

    Returns:
        True if a node was stopped.
    """
    stopped = False
    with _lock():
        for instance in _instances(port):
            state = _read_state(instance)
            if state is None:
                continue
            pid = _recorded_pid(instance, state)
            if pid is not None and _is_our_process(pid, instance):
                _terminate(pid, timeout, instance)
                stopped = True
            if state.get("pid") is not None:
                _write_state(instance, {**state, "pid": None})
            (instance / "es.pid").unlink(missing_ok=True)
    return stopped


def status(*, port: int | None = None) -> LocalNode | None:
    """The node on ``port`` (lowest port when None) if its process lives and it answers."""
    for instance in _instances(port):
        state = _read_state(instance)
        node = _node_from_state(state) if state is not None else None
        if (
            node is not None
            and _is_our_process(node.pid, instance)
            and _health(node, wait=False) in _USABLE
        ):
            return node
    return None


def running_node() -> LocalNode | None:
    """Lets ``trailql.elastic`` find the local node when ``ELASTICSEARCH_URL`` is unset."""
    return status()


# --- where things are -------------------------------------------------------------------


def _dist_dir() -> Path:
    return cache_dir() / f"elasticsearch-{ELASTICSEARCH_VERSION}"


def _instance_dir(port: int) -> Path:
    return cache_dir() / f"node-{port}"


def _instances(port: int | None) -> list[Path]:
    """Instance folders in port order, so a bare ``status()`` prefers the default 9200."""
    if port is not None:
        return [_instance_dir(port)]
    found: list[tuple[int, Path]] = []
    for path in cache_dir().glob("node-*"):
        suffix = path.name.removeprefix("node-")
        if suffix.isdigit() and path.is_dir():
            found.append((int(suffix), path))
    return [path for _, path in sorted(found)]


@contextlib.contextmanager
def _lock() -> Iterator[None]:
    """Serialises up/down so parallel test workers never provision the same folder twice."""
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --- state ------------------------------------------------------------------------------


def _read_state(instance: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((instance / "state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_state(instance: Path, state: dict[str, Any]) -> None:
    """Atomic and 0600 from the first byte: the file holds the ``elastic`` password."""
    target = instance / "state.json"
    temporary = instance / f".state.{os.getpid()}.json"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(state, handle, indent=2)
        handle.write("\n")
    temporary.replace(target)


def _node_from_state(state: dict[str, Any]) -> LocalNode | None:
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


def _recorded_pid(instance: Path, state: dict[str, Any]) -> int | None:
    """The pid in state.json, else Elasticsearch's own pid file (if we died before recording)."""
    pid = state.get("pid")
    if isinstance(pid, int):
        return pid
    try:
        return int((instance / "es.pid").read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return None


# --- processes and the network ----------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by another user (the service user when we are not root)
    try:
        fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return True
    return fields[0] != "Z"


def _is_our_process(pid: int, instance: Path) -> bool:
    """Guards against pid reuse: we only ever signal a JVM running this node's distribution."""
    if not _alive(pid):
        return False
    dist, config = _dist_dir(), instance / "config"
    expected = (
        ("cmdline", {f"-Des.path.home={path}".encode() for path in (dist, dist.resolve())}),
        ("environ", {f"ES_PATH_CONF={path}".encode() for path in (config, config.resolve())}),
    )
    for name, wanted in expected:
        entries = _proc_entries(pid, name)
        if entries is not None and not wanted & entries:
            return False
    return True


def _proc_entries(pid: int, name: str) -> set[bytes] | None:
    """NUL-separated entries of ``/proc/<pid>/<name>``; None where procfs cannot tell."""
    if not Path("/proc/self").exists():
        return None  # no procfs (macOS): trust the pid we recorded
    try:
        return set(Path(f"/proc/{pid}/{name}").read_bytes().split(b"\0"))
    except PermissionError:
        return None  # another user's process (the service user when we are not root)
    except OSError:
        return set()  # gone meanwhile


def _port_in_use(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((_HOST, port), timeout=1.0):
        return True
    return False


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((_HOST, port))
        except OSError:
            return False
    return True


def _transport_port(http_port: int) -> int:
    """``http_port + 100`` as Elasticsearch's own 9200/9300 habit suggests, else any free port."""
    preferred = http_port + 100
    if preferred <= 65535 and _port_free(preferred):  # noqa: PLR2004 -- highest TCP port
        return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((_HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _health(node: LocalNode, *, wait: bool) -> str | None:
    """The cluster status seen with the node's credentials, or None if it does not answer so.

    ``GET /`` is not available in this distribution (405), so health is the probe.
    """
    query = "?wait_for_status=yellow&timeout=1s" if wait else ""
    token = base64.b64encode(f"{node.username}:{node.password}".encode()).decode("ascii")
    request = urllib.request.Request(  # noqa: S310 -- always http://127.0.0.1, built above
        f"{node.url}/_cluster/health{query}", headers={"Authorization": f"Basic {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5.0) as response:  # noqa: S310 -- as above
            body = json.load(response)
    except (OSError, ValueError):  # URLError and HTTPError (401, 408, 503) are OSErrors
        return None
    value = body.get("status") if isinstance(body, dict) else None
    return value if isinstance(value, str) else None


def _terminate(pid: int, timeout: float, instance: Path) -> None:
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return
        time.sleep(0.25)
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        if not _alive(pid):
            return
        time.sleep(0.25)
    raise LocalElasticsearchError(
        f"Elasticsearch (pid {pid}) survived SIGTERM and SIGKILL; see {instance / 'logs'}"
    )


def _run(
    command: list[str], *, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Every helper program runs from a full path found here, never through a shell."""
    return subprocess.run(  # noqa: S603 -- fixed argv built in this module
        command, input=stdin, env=env, capture_output=True, text=True, check=False
    )


def _require(program: str, why: str) -> str:
    found = shutil.which(program)
    if found is None:
        raise LocalElasticsearchError(f"`{program}` is not on PATH; it is needed {why}")
    return found


def _tail(path: Path, lines: int = _TAIL_LINES) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


# --- provisioning -----------------------------------------------------------------------


def _java_version(home: Path) -> tuple[int, ...] | None:
    try:
        release = (home / "release").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    match = re.search(r'^JAVA_VERSION="([^"]+)"', release, re.MULTILINE)
    if match is None:
        return None
    numbers = [int(part) for part in re.findall(r"\d+", match.group(1))]
    if numbers[:1] == [1] and len(numbers) > 1:  # 1.8.0_402 is Java 8
        numbers = numbers[1:]
    return tuple(numbers) or None


def _find_java_home() -> Path:
    """Elasticsearch 9 needs Java 21+, and the distribution we use bundles no JDK."""
    explicit = os.environ.get("ES_JAVA_HOME")
    if explicit:
        home = Path(explicit)
        version = _java_version(home)
        if version is not None and version[0] < _MIN_JAVA:
            raise LocalElasticsearchError(
                f"ES_JAVA_HOME={home} is Java {version[0]}; Elasticsearch "
                f"{ELASTICSEARCH_VERSION} needs Java {_MIN_JAVA} or newer"
            )
        return home
    candidates: list[Path] = []
    if os.environ.get("JAVA_HOME"):
        candidates.append(Path(os.environ["JAVA_HOME"]))
    for pattern in _JVM_ROOTS:
        root = Path(pattern.split("*", 1)[0])
        candidates.extend(sorted(root.glob(pattern[len(str(root)) + 1 :])))
    seen: dict[Path, tuple[Path, tuple[int, ...] | None]] = {}
    for candidate in candidates:
        if (candidate / "bin" / "java").is_file():
            seen.setdefault(candidate.resolve(), (candidate, _java_version(candidate)))
    usable = [
        (version, home)
        for home, version in seen.values()
        if version is not None and version[0] >= _MIN_JAVA
    ]
    if usable:
        return max(usable)[1]
    found = ", ".join(
        f"{home} (Java {version[0] if version else '?'})" for home, version in seen.values()
    )
    raise LocalElasticsearchError(
        f"Elasticsearch {ELASTICSEARCH_VERSION} needs Java {_MIN_JAVA} or newer; found "
        f"{found or 'no JDK'} in JAVA_HOME and {', '.join(_JVM_ROOTS)}. "
        "Install one or set ES_JAVA_HOME."
    )


def _download(log: Callable[[str], None]) -> Path:
    """Maven resolves the zip through whatever registry settings.xml names; we hold no URL."""
    downloads = cache_dir() / "downloads"
    target = downloads / f"elasticsearch-{ELASTICSEARCH_VERSION}.zip"
    if target.is_file():
        return target
    mvn = _require("mvn", f"once, to fetch Elasticsearch {ELASTICSEARCH_VERSION}")
    downloads.mkdir(parents=True, exist_ok=True)
    log(f"Fetching Elasticsearch {ELASTICSEARCH_VERSION} with Maven ({_ARTIFACT})")
    # Into a scratch folder first, so an interrupted copy never looks like a finished zip.
    with tempfile.TemporaryDirectory(dir=downloads, prefix=".mvn-") as scratch:
        result = subprocess.run(  # noqa: S603 -- fixed argv
            [
                mvn,
                "-q",
                "-B",
                "-Dstyle.color=never",
                _COPY_GOAL,
                f"-Dartifact={_ARTIFACT}",
                f"-DoutputDirectory={scratch}",
            ],
            cwd=scratch,
            capture_output=True,
            text=True,
            check=False,
        )
        fetched = Path(scratch) / target.name
        if result.returncode != 0 or not fetched.is_file():
            output = _ANSI.sub("", result.stdout + result.stderr).splitlines()
            errors = [line for line in output if "ERROR" in line] or output[-_TAIL_LINES:]
            raise LocalElasticsearchError(
                f"Maven could not fetch {_ARTIFACT} (exit {result.returncode}):\n"
                + "\n".join(errors)
            )
        fetched.replace(target)
    return target


def _unpack(archive: Path, log: Callable[[str], None]) -> Path:
    """Unpacks beside the target and renames, so a half distribution is never in place."""
    dist = _dist_dir()
    if (dist / "bin" / "elasticsearch").is_file():
        return dist
    if dist.exists():
        shutil.rmtree(dist)
    log(f"Unpacking {archive.name} into {dist}")
    top = f"{dist.name}/"
    scratch = Path(tempfile.mkdtemp(dir=dist.parent, prefix=".unpack-"))
    try:
        with zipfile.ZipFile(archive) as bundle:
            for entry in bundle.infolist():
                if not entry.filename.startswith(top):
                    raise LocalElasticsearchError(
                        f"{archive} holds {entry.filename}, outside {top}; delete it and retry"
                    )
                extracted = Path(bundle.extract(entry, scratch))
                if not entry.is_dir():
                    # zipfile drops Unix modes; keep the executable bit, and make everything
                    # world-readable so the service user can use a root-owned copy.
                    executable = (entry.external_attr >> 16) & stat.S_IXUSR
                    extracted.chmod(0o755 if executable else 0o644)
        for folder, _, _ in os.walk(scratch):
            Path(folder).chmod(0o755)
        (scratch / top).rename(dist)
    except zipfile.BadZipFile as error:
        archive.unlink(missing_ok=True)
        raise LocalElasticsearchError(
            f"{archive} is not a valid zip ({error}); it was deleted, run again to fetch it anew"
        ) from error
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return dist


def _service_user(log: Callable[[str], None]) -> str:
    """Elasticsearch refuses to run as root; as root we run it as a dedicated system user."""
    try:
        pwd.getpwnam(_SERVICE_USER)
    except KeyError:
        useradd = _require("useradd", f"to create the system user {_SERVICE_USER}")
        log(f"Creating system user {_SERVICE_USER} (Elasticsearch refuses to run as root)")
        result = _run(
            [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", _SERVICE_USER]
        )
        if result.returncode != 0:
            raise LocalElasticsearchError(
                f"could not create user {_SERVICE_USER}: {result.stderr.strip()}"
            ) from None
    _make_traversable(cache_dir(), _SERVICE_USER, log)
    return _SERVICE_USER


def _make_traversable(target: Path, user: str, log: Callable[[str], None]) -> None:
    """Grants ``user`` search (not read) permission on each folder down to ``target``."""
    account = pwd.getpwnam(user)
    groups = set(os.getgrouplist(user, account.pw_gid))
    setfacl = shutil.which("setfacl")
    for folder in [*reversed(target.parents), target]:
        info = folder.stat()
        if (
            info.st_mode & stat.S_IXOTH
            or (info.st_uid == account.pw_uid and info.st_mode & stat.S_IXUSR)
            or (info.st_gid in groups and info.st_mode & stat.S_IXGRP)
        ):
            continue
        if (
            setfacl is not None
            and _run([setfacl, "-m", f"u:{user}:x", str(folder)]).returncode == 0
        ):
            log(f"Granted {user} search permission on {folder} (ACL), so it can reach {target}")
            continue
        folder.chmod(stat.S_IMODE(info.st_mode) | stat.S_IXOTH)
        log(
            f"Added search permission for others (o+x, not read) on {folder} so {user} can "
            f"reach {target}; set TRAILQL_CACHE_DIR to an open folder to avoid this"
        )


def _chown_tree(root: Path, user: str, *, keep: frozenset[Path]) -> None:
    account = pwd.getpwnam(user)
    os.lchown(root, account.pw_uid, account.pw_gid)
    for folder, folders, files in os.walk(root):
        for name in [*folders, *files]:
            path = Path(folder) / name
            if path not in keep:
                os.lchown(path, account.pw_uid, account.pw_gid)


@dataclass(frozen=True)
class _Setup:
    """What provisioning and starting one instance share; ``user`` is None unless root."""

    instance: Path
    dist: Path
    port: int
    java_home: Path
    user: str | None

    @property
    def url(self) -> str:
        return f"http://{_HOST}:{self.port}"

    def environment(self) -> dict[str, str]:
        """ES_PATH_CONF keeps the shared distribution read-only; the tmp settings spare /tmp."""
        temporary = self.instance / "tmp"
        environment = dict(os.environ)
        environment.update(
            ES_JAVA_HOME=str(self.java_home),
            ES_PATH_CONF=str(self.instance / "config"),
            ES_TMPDIR=str(temporary),
        )
        if not any(character.isspace() for character in str(temporary)):
            # The launcher JVM ignores ES_TMPDIR; its script splits this variable on spaces.
            inherited = environment.get("CLI_JAVA_OPTS", "")
            environment["CLI_JAVA_OPTS"] = f"{inherited} -Djava.io.tmpdir={temporary}".strip()
        return environment

    def command(self, tool: str, *arguments: str) -> list[str]:
        """A distribution tool's argv, through ``runuser`` (with ES_* passed on) when root."""
        argv = [str(self.dist / "bin" / tool), *arguments]
        if self.user is None:
            return argv
        runuser = _require("runuser", f"to run Elasticsearch as {self.user}")
        env = _require("env", "to pass settings through runuser")
        environment = self.environment()
        names = ("ES_JAVA_HOME", "ES_PATH_CONF", "ES_TMPDIR", "CLI_JAVA_OPTS")
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
        return _run(self.command(tool, *arguments), env=self.environment(), stdin=stdin)


def _settings(instance: Path, port: int) -> str:
    lines = {
        "cluster.name": _CLUSTER_NAME,
        "node.name": _CLUSTER_NAME,
        "network.host": _HOST,
        "http.port": str(port),
        "transport.port": str(_transport_port(port)),
        "discovery.type": "single-node",
        "xpack.security.enabled": "true",
        "xpack.security.http.ssl.enabled": "false",
        "xpack.security.transport.ssl.enabled": "false",
        "path.data": json.dumps(str(instance / "data")),
        "path.logs": json.dumps(str(instance / "logs")),
        "action.destructive_requires_name": "false",
        # A nearly full developer disk would otherwise make shards unassignable or read-only.
        "cluster.routing.allocation.disk.threshold_enabled": "false",
    }
    header = "# Written by trailql.local_elasticsearch on every start; edits are overwritten.\n"
    return header + "".join(f"{key}: {value}\n" for key, value in lines.items())


def _provision(setup: _Setup, heap: str, log: Callable[[str], None]) -> str:
    """Prepares the instance folder and returns the ``elastic`` password."""
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
    (config / "elasticsearch.yml").write_text(_settings(instance, setup.port), encoding="utf-8")
    options = config / "jvm.options.d"
    options.mkdir(exist_ok=True)
    (options / "heap.options").write_text(f"-Xms{heap}\n-Xmx{heap}\n", encoding="utf-8")

    keystore = config / "elasticsearch.keystore"
    state = _read_state(instance) or {}
    password = state.get("password")
    if not isinstance(password, str) and keystore.exists():
        # state.json was lost but the data (and so the password) survives in the keystore.
        shown = setup.run("elasticsearch-keystore", "show", "bootstrap.password")
        password = shown.stdout.strip() if shown.returncode == 0 else None
    if not isinstance(password, str) or not password:
        password = secrets.token_urlsafe(18)
    # Recorded before anything can fail, so a retried start reuses the same password.
    _write_state(instance, _state(instance, setup.port, password, pid=None))
    if setup.user is not None:
        _chown_tree(instance, setup.user, keep=frozenset({instance / "state.json"}))

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


def _state(instance: Path, port: int, password: str, *, pid: int | None) -> dict[str, Any]:
    return {
        "version": ELASTICSEARCH_VERSION,
        "url": f"http://{_HOST}:{port}",
        "username": _USERNAME,
        "password": password,
        "pid": pid,
        "port": port,
        "home": str(instance),
    }


# --- starting ---------------------------------------------------------------------------


def _adopt_running(instance: Path, timeout: float, log: Callable[[str], None]) -> LocalNode | None:
    """The node already recorded for this instance, waited for if it is still coming up."""
    state = _read_state(instance)
    node = _node_from_state(state) if state is not None else None
    if node is None or not _is_our_process(node.pid, instance):
        return None
    if _health(node, wait=False) in _USABLE:
        return node
    log(f"Elasticsearch (pid {node.pid}) is running but not answering yet; waiting")
    _wait_until_usable(node, instance, time.monotonic() + timeout, started_here=False)
    return node


def _start(setup: _Setup, password: str, timeout: float, log: Callable[[str], None]) -> LocalNode:
    deadline = time.monotonic() + timeout
    instance = setup.instance
    logs = instance / "logs"
    pid_file = instance / "es.pid"
    pid_file.unlink(missing_ok=True)
    log(f"Starting Elasticsearch {ELASTICSEARCH_VERSION} on {setup.url} (logs: {logs})")
    startup_log = logs / "startup.log"
    # With -d the launcher returns once the server JVM is up and has written its pid file.
    # (-q is refused together with -d; its output goes to startup.log, never our stdout.)
    with startup_log.open("wb") as output:
        launcher = subprocess.Popen(  # noqa: S603 -- fixed argv
            setup.command("elasticsearch", "-d", "-p", str(pid_file)),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=instance,
            env=setup.environment(),
            start_new_session=True,
        )
        try:
            returncode = launcher.wait(timeout=max(deadline - time.monotonic(), 1.0))
        except subprocess.TimeoutExpired:
            launcher.kill()
            launcher.wait()
            returncode = None
    pid = _recorded_pid(instance, {})
    if pid is not None:
        _write_state(instance, _state(instance, setup.port, password, pid=pid))
    if returncode != 0 or pid is None:
        if pid is not None and _is_our_process(pid, instance):
            _terminate(pid, 30.0, instance)
        what = "timed out" if returncode is None else f"exited with {returncode}"
        raise LocalElasticsearchError(
            f"Elasticsearch did not start (launcher {what}); read {logs}/. "
            f"Last lines of {startup_log}:\n{_tail(startup_log)}"
        )
    node = LocalNode(url=setup.url, username=_USERNAME, password=password, pid=pid, home=instance)
    _wait_until_usable(node, instance, deadline, started_here=True)
    log(f"Elasticsearch is up (pid {pid})")
    return node


def _wait_until_usable(
    node: LocalNode, instance: Path, deadline: float, *, started_here: bool
) -> None:
    while True:
        if not _is_our_process(node.pid, instance):
            problem = f"Elasticsearch (pid {node.pid}) exited while starting"
            break
        if _health(node, wait=True) in _USABLE:
            return
        if time.monotonic() >= deadline:
            problem = f"Elasticsearch (pid {node.pid}) did not become healthy in time"
            if started_here:  # half-started and unusable: do not leave it behind
                _terminate(node.pid, 30.0, instance)
                problem += " and was stopped"
            else:
                problem += "; `trailql elasticsearch down` stops it"
            break
        time.sleep(0.5)
    logs = instance / "logs"
    server_log = logs / f"{_CLUSTER_NAME}.log"
    source = server_log if _tail(server_log) else logs / "startup.log"
    raise LocalElasticsearchError(
        f"{problem}; read {logs}/. Last lines of {source}:\n{_tail(source)}"
    )
