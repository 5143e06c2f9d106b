"""``trailql schema``: the GraphQL schema, as SDL, on standard output."""

from __future__ import annotations

import argparse
import sys

from api.schema import sdl
from trailql.output import EXIT_OK


def run(arguments: argparse.Namespace) -> int:
    """Print the SDL."""
    del arguments
    sys.stdout.write(sdl())
    return EXIT_OK
