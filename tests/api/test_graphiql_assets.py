"""GraphiQL's files in api/static/graphiql/ are exactly those package-lock.json pins.

The chain: each package's tarball, as npm fetches it (``npm pack``, from npm's cache when it
has it), has the SHA-512 the lock file records as its ``integrity``; and the file copied into
the package is byte for byte the one in that tarball.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from api import graphiql
from tests.live import INSTALL, ROOT

STATIC = ROOT / "api" / "static" / "graphiql"


@pytest.fixture(scope="module")
def tarballs(tmp_path_factory) -> dict[str, Path]:
    """Each package's tarball at the version the lock pins, its integrity checked."""
    if shutil.which("npm") is None:
        pytest.fail(f"npm is not installed: {INSTALL}")
    lock = json.loads((ROOT / "package-lock.json").read_text())["packages"]
    folder = tmp_path_factory.mktemp("npm-pack")
    packages = sorted({package for package, _ in graphiql.ASSETS.values()})
    specs = [f"{name}@{lock[f'node_modules/{name}']['version']}" for name in packages]
    done = subprocess.run(
        ["npm", "pack", *specs, "--prefer-offline", "--json", "--pack-destination", str(folder)],
        capture_output=True,
        text=True,
        timeout=300,  # a guard against a hang
        check=False,
        cwd=folder,
    )
    assert done.returncode == 0, done.stderr
    found = {}
    for packed in json.loads(done.stdout):
        tarball = folder / packed["filename"]
        digest = base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
        assert f"sha512-{digest}" == lock[f"node_modules/{packed['name']}"]["integrity"]
        found[packed["name"]] = tarball
    assert set(found) == set(packages)
    return found


@pytest.mark.parametrize("name", sorted(graphiql.ASSETS))
def test_each_packaged_file_is_the_one_the_lock_pins(tarballs, name):
    package, path = graphiql.ASSETS[name]
    with tarfile.open(tarballs[package]) as tarball:
        member = tarball.extractfile(f"package/{path}")
        assert member is not None
        assert (STATIC / name).read_bytes() == member.read()


def test_the_licences_ship_beside_them(tarballs):
    for package, tarball_path in tarballs.items():
        with tarfile.open(tarball_path) as tarball:
            # LICENSE, or LICENSE.md (graphql-ws): the first, as scripts/vendor-graphiql takes it.
            [name, *_] = sorted(n for n in tarball.getnames() if n.startswith("package/LICENSE"))
            member = tarball.extractfile(name)
            assert member is not None
            assert (STATIC / f"LICENSE.{package}").read_bytes() == member.read()


def test_nothing_else_is_in_the_folder():
    expected = set(graphiql.ASSETS) | {f"LICENSE.{p}" for p, _ in graphiql.ASSETS.values()}
    assert {path.name for path in STATIC.iterdir()} == expected
