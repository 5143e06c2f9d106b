"""``trailql keys mint``: a new API key, and the hash line the API needs to let it in."""

from __future__ import annotations

import argparse
import sys

from api.keys import KeyConfigError, mint
from trailql.output import EXIT_OK, error, stderr


def run(arguments: argparse.Namespace) -> int:
    """Print the key, then its hash line, on standard output; what to do with them on stderr."""
    try:
        key, line = mint(
            arguments.name,
            arguments.accounts,
            days=arguments.days,
            expires=arguments.expires,
            scopes=arguments.scope or (),
        )
    except KeyConfigError as exc:
        return error(exc)
    sys.stdout.write(f"{key}\n{line}\n")
    stderr.print(
        "Line 1 is the key: give it to its user, who sends it as the X-API-Key header; it is "
        "not stored anywhere.\nLine 2 is its hash line: add it to TRAILQL_API_KEYS or to the "
        "file TRAILQL_API_KEYS_FILE names, and restart the API."
    )
    return EXIT_OK
