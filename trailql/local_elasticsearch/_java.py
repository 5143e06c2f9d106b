"""Finding a JDK new enough for Elasticsearch; the distribution we use bundles none."""

from __future__ import annotations

import os
import re
from pathlib import Path

from trailql.local_elasticsearch._common import (
    DEFAULT_DISTRIBUTION,
    Distribution,
    LocalElasticsearchError,
)

_JVM_ROOTS = ("/usr/lib/jvm/*", "/Library/Java/JavaVirtualMachines/*/Contents/Home")


def find_java_home(distribution: Distribution = DEFAULT_DISTRIBUTION) -> Path:
    """The newest JDK the distribution runs on (the integ-test-zip bundles none).

    Elasticsearch 9 needs Java 21+, Elasticsearch 8 Java 17+; OpenSearch 2 runs on 11 to 21.
    """
    lowest, highest = distribution.java
    wanted = f"Java {lowest} or newer" if highest is None else f"Java {lowest} to {highest}"
    variable = f"{distribution.variable_prefix}_JAVA_HOME"
    explicit = os.environ.get(variable)
    if explicit:
        home = Path(explicit)
        version = _java_version(home)
        if version is not None and not _fits(version[0], lowest, highest):
            raise LocalElasticsearchError(
                f"{variable}={home} is Java {version[0]}; {distribution.title} needs {wanted}"
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
        if version is not None and _fits(version[0], lowest, highest)
    ]
    if usable:
        return max(usable)[1]
    found = ", ".join(
        f"{home} (Java {version[0] if version else '?'})" for home, version in seen.values()
    )
    raise LocalElasticsearchError(
        f"{distribution.title} needs {wanted}; found "
        f"{found or 'no JDK'} in JAVA_HOME and {', '.join(_JVM_ROOTS)}. "
        f"Install one or set {variable}."
    )


def _fits(major: int, lowest: int, highest: int | None) -> bool:
    return major >= lowest and (highest is None or major <= highest)


def _java_version(home: Path) -> tuple[int, ...] | None:
    """From the JDK's ``release`` file, with 1.8 read as 8."""
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
