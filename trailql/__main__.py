"""``python -m trailql``: the same as the ``trailql`` command."""

import sys

from trailql.cli import main

sys.exit(main())
