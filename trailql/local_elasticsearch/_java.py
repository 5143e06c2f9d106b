"""Finding a JDK new enough for Elasticsearch; the distribution we use bundles none."""

from __future__ import annotations

import os
import re
from pathlib import Path

from trailql.local_elasticsearch._common import ELASTICSEARCH_VERSION, LocalElasticsearchError

_MIN_JAVA = 21
_JVM_ROOTS = ("/usr/lib/jvm/*", "/Library/Java/JavaVirtualMachines/*/Contents/Home")


def find_java_home() -> Path:
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
