"""The locks in requirements/: what scripts/install installs is exactly what they pin.

Read with the standard library only: the lock's ``name==version`` lines, ``pip freeze``'s,
and pyproject.toml through tomllib.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEV_LOCK = ROOT / "requirements" / "dev.txt"
RUNTIME_LOCK = ROOT / "requirements" / "runtime.txt"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")
_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lines: list[str]) -> dict[str, str]:
    found = {}
    for line in lines:
        match = _PIN.match(line)
        if match:
            found[_normal(match[1])] = match[2]
    return found


def test_the_environment_holds_exactly_the_locked_versions():
    frozen = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--exclude-editable"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,  # a guard against a hang
    ).stdout.splitlines()
    installed = pins(frozen)
    assert installed == pins(DEV_LOCK.read_text().splitlines())
    assert len(installed) > 50  # the parse found the lines


def test_every_locked_version_carries_hashes():
    text = DEV_LOCK.read_text()
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
    for entry in entries:
        if _PIN.match(entry):
            assert "--hash=sha256:" in entry, entry.splitlines()[0]


def test_the_runtime_lock_is_the_dev_lock_less_the_tools():
    runtime = pins(RUNTIME_LOCK.read_text().splitlines())
    dev = pins(DEV_LOCK.read_text().splitlines())
    assert {name: dev.get(name) for name in runtime} == runtime
    assert "pytest" not in runtime
    assert "starlette" in runtime


def test_every_declared_dependency_is_locked():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = pins(RUNTIME_LOCK.read_text().splitlines())
    dev = pins(DEV_LOCK.read_text().splitlines())
    for requirement in project["dependencies"]:
        name = _normal(_NAME.match(requirement)[1])  # type: ignore[index]
        assert name in runtime, requirement
    for requirement in project["optional-dependencies"]["dev"]:
        name = _normal(_NAME.match(requirement)[1])  # type: ignore[index]
        assert name in dev, requirement
