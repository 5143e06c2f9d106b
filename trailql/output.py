"""What every command prints, and how it exits.

Standard output carries only what a script consumes (``export`` lines, the SDL, a minted key,
JSON lines); progress, reports and errors go to standard error.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from rich.console import Console
from rich.text import Text

stderr = Console(stderr=True, highlight=False)

EXIT_OK = 0
EXIT_INCOMPLETE = 1  # ran, but something was not indexed
EXIT_ERROR = 2  # could not run: bad arguments or settings, no Elasticsearch configured
EXIT_UNREACHABLE = 3  # Elasticsearch does not answer
EXIT_REFUSED = 4  # Elasticsearch refused the credentials, or a privilege
EXIT_NOT_FOUND = 5  # the alias (or index) asked for does not exist
EXIT_PORT_BUSY = 6  # the port to serve on is taken
EXIT_BUG = 70  # a failure of ours: the traceback says where (EX_SOFTWARE)


class Problem(Protocol):
    """Something not done, where and why."""

    @property
    def where(self) -> str:
        """The file, and the record in it."""
        ...

    @property
    def reason(self) -> str:
        """Why, as a person can act on it."""
        ...


def error(message: object) -> int:
    """Say what went wrong, on one line never read as markup; the exit code for it."""
    stderr.print(Text.assemble(("error:", "red"), f" {message}"), soft_wrap=True)
    return EXIT_ERROR


def problems(*groups: tuple[str, str, Iterable[Problem]]) -> None:
    """One line per problem, never wrapped or read as markup: people grep these."""
    for label, style, found in groups:
        for problem in found:
            stderr.print(
                Text.assemble((label, style), f" {problem.where}: {problem.reason}"), soft_wrap=True
            )
