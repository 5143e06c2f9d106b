"""Helper programs (Maven, useradd, runuser, the distribution's tools): found, then run."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from trailql.local_elasticsearch._common import LocalElasticsearchError


def run(
    command: list[str],
    *,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    cwd: Path | str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Every helper program runs from a full path found here, never through a shell."""
    return subprocess.run(  # noqa: S603 -- fixed argv built in this package
        command, input=stdin, env=env, cwd=cwd, capture_output=True, text=True, check=False
    )


def require(program: str, why: str) -> str:
    """The full path of ``program``; ``why`` finishes the error's sentence when it is missing."""
    found = shutil.which(program)
    if found is None:
        raise LocalElasticsearchError(f"`{program}` is not on PATH; it is needed {why}")
    return found
