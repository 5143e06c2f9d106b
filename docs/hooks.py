"""mkdocs hooks (mkdocs.yml): the pages written at build time, from the files they show.

- reference/graphql.md: the GraphQL reference, from schema/schema.graphql (docs/reference.py).
- benchmarks.md: docs/pages/benchmarks-intro.md, then bench/README.md (docs/repo_pages.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
if str(_ROOT) not in sys.path:  # mkdocs loads this file by path, from .venv/bin's mkdocs
    sys.path.insert(0, str(_ROOT))

from mkdocs.config.defaults import MkDocsConfig  # noqa: E402
from mkdocs.structure.files import File, Files  # noqa: E402

from docs import reference, repo_pages  # noqa: E402


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add the generated pages to the site's files."""
    files.append(File.generated(config, reference.PAGE, content=reference.render()))
    files.append(File.generated(config, repo_pages.BENCHMARKS, content=repo_pages.benchmarks()))
    return files
