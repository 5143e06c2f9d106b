"""The node's process and ports: is it alive, is it ours, is a port taken, stopping it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from pathlib import Path

from trailql.local_elasticsearch._common import HOST, Distribution, LocalElasticsearchError
from trailql.local_elasticsearch._distribution import dist_dir
from trailql.local_elasticsearch._state import read_state, recorded_distribution


def alive(pid: int) -> bool:
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


def is_our_process(pid: int, instance: Path) -> bool:
    """Guards against pid reuse: we only ever signal a JVM running this node's distribution."""
    if not alive(pid):
        return False
    distribution = _recorded(instance)
    dist, config = dist_dir(distribution), instance / "config"
    home = "es" if distribution.secured else distribution.engine  # -Des.path.home, -Dopensearch…
    variable = f"{distribution.variable_prefix}_PATH_CONF"
    expected = (
        ("cmdline", {f"-D{home}.path.home={path}".encode() for path in (dist, dist.resolve())}),
        ("environ", {f"{variable}={path}".encode() for path in (config, config.resolve())}),
    )
    for name, wanted in expected:
        entries = _proc_entries(pid, name)
        if entries is not None and not wanted & entries:
            return False
    return True


def _recorded(instance: Path) -> Distribution:
    """What the instance runs; the default when state.json is unreadable or garbled."""
    try:
        return Distribution.named(recorded_distribution(read_state(instance) or {}))
    except LocalElasticsearchError:
        return Distribution()


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


def terminate(pid: int, timeout: float, instance: Path) -> None:
    """SIGTERM, then SIGKILL if ``timeout`` passes; raises if even that does not end it."""
    os.kill(pid, signal.SIGTERM)
    if _exited(pid, timeout):
        return
    os.kill(pid, signal.SIGKILL)
    if _exited(pid, 10.0):
        return
    raise LocalElasticsearchError(
        f"Elasticsearch (pid {pid}) survived SIGTERM and SIGKILL; see {instance / 'logs'}"
    )


def _exited(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.25)
    return False


def port_in_use(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=1.0):
        return True
    return False


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def transport_port(http_port: int) -> int:
    """``http_port + 100`` as Elasticsearch's own 9200/9300 habit suggests, else any free port."""
    preferred = http_port + 100
    if preferred <= 65535 and _port_free(preferred):  # noqa: PLR2004 -- highest TCP port
        return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port
