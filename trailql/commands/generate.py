"""``trailql generate``: synthetic trail files in CloudTrail's layout, for demos and tests."""

from __future__ import annotations

import argparse

from generator import generate, ground_truth_path
from trailql.output import EXIT_OK, stderr


def run(arguments: argparse.Namespace) -> int:
    """Write the files and say what was written."""
    trail = generate(
        arguments.out, events=arguments.events, seed=arguments.seed, attacks=arguments.attacks
    )
    stderr.print(
        f"wrote {trail.events:,} events in {trail.files:,} files under {arguments.out} "
        f"({trail.first_event_time:%Y-%m-%d} to {trail.last_event_time:%Y-%m-%d})"
    )
    if arguments.attacks:
        stderr.print(
            f"planted labelled attacks and look-alikes; ground truth in "
            f"{ground_truth_path(arguments.out)}"
        )
    return EXIT_OK
