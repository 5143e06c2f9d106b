"""Pages made from Markdown that lives beside the code (bench/README.md), for the site.

Links to files of the repository become code names: the site holds pages, not the repository.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = "benchmarks.md"
_INTRO = Path(__file__).resolve().parent / "benchmarks-intro.md"
_RELATIVE_LINK = re.compile(r"\[([^\]]+)\]\((?!https?://|#)([^)\s]+)\)")
_HEADING = re.compile(r"^(#{1,5}) ", re.MULTILINE)


def _unlink(markdown: str) -> str:
    """``[text](../tests/x.py)`` becomes ``text``: the target is not a page of the site."""
    return _RELATIVE_LINK.sub(lambda match: match[1], markdown)


def _demote(markdown: str) -> str:
    """Every heading one level down, so the included file sits under the page's title."""
    lines, fenced = [], False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        lines.append(line if fenced else _HEADING.sub(r"#\1 ", line))
    return "\n".join(lines)


def benchmarks() -> str:
    """The benchmarks page: the summary, then bench/README.md in full."""
    harness = (ROOT / "bench" / "README.md").read_text(encoding="utf-8")
    return _INTRO.read_text(encoding="utf-8") + "\n" + _demote(_unlink(harness)) + "\n"
