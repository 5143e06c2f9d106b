"""The system user the node runs as when we are root, and the permissions it needs."""

from __future__ import annotations

import os
import pwd
import shutil
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from trailql.local_elasticsearch._common import LocalElasticsearchError, cache_dir
from trailql.local_elasticsearch._programs import require, run

if TYPE_CHECKING:
    from collections.abc import Callable

_SERVICE_USER = "trailql-es"


def service_user(log: Callable[[str], None]) -> str:
    """Elasticsearch refuses to run as root; as root we run it as a dedicated system user."""
    try:
        pwd.getpwnam(_SERVICE_USER)
    except KeyError:
        useradd = require("useradd", f"to create the system user {_SERVICE_USER}")
        log(f"Creating system user {_SERVICE_USER} (Elasticsearch refuses to run as root)")
        result = run(
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
        if setfacl is not None and run([setfacl, "-m", f"u:{user}:x", str(folder)]).returncode == 0:
            log(f"Granted {user} search permission on {folder} (ACL), so it can reach {target}")
            continue
        folder.chmod(stat.S_IMODE(info.st_mode) | stat.S_IXOTH)
        log(
            f"Added search permission for others (o+x, not read) on {folder} so {user} can "
            f"reach {target}; set TRAILQL_CACHE_DIR to an open folder to avoid this"
        )


def chown_tree(root: Path, user: str, *, keep: frozenset[Path]) -> None:
    """Hands ``root`` and everything under it to ``user``, except the paths in ``keep``."""
    account = pwd.getpwnam(user)
    os.lchown(root, account.pw_uid, account.pw_gid)
    for folder, folders, files in os.walk(root):
        for name in [*folders, *files]:
            path = Path(folder) / name
            if path not in keep:
                os.lchown(path, account.pw_uid, account.pw_gid)
