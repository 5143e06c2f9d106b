"""The image is built from the Dockerfile's COPY lines, not from pyproject's package list: a
package added to one and not the other builds a wheel that imports fine and an image that
fails at start (issue 10's detections/ did exactly that)."""

from __future__ import annotations

import re
import tomllib

from tests.live import ROOT


def _packages_in_the_wheel() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = project["tool"]["setuptools"]["packages"]["find"]["include"]
    return {pattern.rstrip("*") for pattern in patterns}


def _folders_copied_into_the_build() -> set[str]:
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    return {m.group(1) for line in lines if (m := re.fullmatch(r"COPY (\w+) \1", line.strip()))}


def test_every_package_of_the_wheel_is_copied_into_the_image_build() -> None:
    assert _packages_in_the_wheel() == {
        "api",
        "common",
        "detections",
        "generator",
        "indexer",
        "integrity",
        "schema",
        "trailql",
    }
    assert _folders_copied_into_the_build() == _packages_in_the_wheel()
