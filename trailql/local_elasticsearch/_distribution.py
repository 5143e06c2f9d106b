"""A distribution (Elasticsearch or OpenSearch): fetched once with Maven, unpacked once, shared."""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from trailql.local_elasticsearch._common import (
    DEFAULT_DISTRIBUTION,
    TAIL_LINES,
    Distribution,
    LocalElasticsearchError,
    cache_dir,
)
from trailql.local_elasticsearch._programs import require, run

if TYPE_CHECKING:
    from collections.abc import Callable

# Full coordinates: the dependency plugin Maven picks by default (2.8) is flaky with `copy`.
_COPY_GOAL = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # Maven colours some lines even with style.color=never


def dist_dir(distribution: Distribution = DEFAULT_DISTRIBUTION) -> Path:
    return cache_dir() / distribution.name


def download(log: Callable[[str], None], distribution: Distribution = DEFAULT_DISTRIBUTION) -> Path:
    """Maven resolves the zip through whatever registry settings.xml names; we hold no URL."""
    downloads = cache_dir() / "downloads"
    target = downloads / f"{distribution.name}.zip"
    if target.is_file():
        return target
    mvn = require("mvn", f"once, to fetch {distribution.title}")
    downloads.mkdir(parents=True, exist_ok=True)
    log(f"Fetching {distribution.title} with Maven ({distribution.artifact})")
    # Into a scratch folder first, so an interrupted copy never looks like a finished zip.
    with tempfile.TemporaryDirectory(dir=downloads, prefix=".mvn-") as scratch:
        result = run(
            [
                mvn,
                "-q",
                "-B",
                "-Dstyle.color=never",
                _COPY_GOAL,
                f"-Dartifact={distribution.artifact}",
                f"-DoutputDirectory={scratch}",
            ],
            cwd=scratch,
        )
        fetched = Path(scratch) / target.name
        if result.returncode != 0 or not fetched.is_file():
            output = _ANSI.sub("", result.stdout + result.stderr).splitlines()
            errors = [line for line in output if "ERROR" in line] or output[-TAIL_LINES:]
            raise LocalElasticsearchError(
                f"Maven could not fetch {distribution.artifact} (exit {result.returncode}):\n"
                + "\n".join(errors)
            )
        fetched.replace(target)
    return target


def unpack(
    archive: Path, log: Callable[[str], None], distribution: Distribution = DEFAULT_DISTRIBUTION
) -> Path:
    """Unpacks beside the target and renames, so a half distribution is never in place."""
    dist = dist_dir(distribution)
    if (dist / "bin" / distribution.engine).is_file():
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
