"""The shared sample trail files, read with the standard library only.

Tests compute their expected values from here, never through the indexer's own reader.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "cloudtrail-samples"
SIGMA = SAMPLES / "sigma-aws"
STRATUS = SAMPLES / "stratus-red-team"


def sigma_files() -> list[Path]:
    """The 55 delivered log files, in a stable order."""
    return sorted(SIGMA.rglob("*.json.gz"))


def records_of(path: Path) -> list[dict[str, Any]]:
    """The records of one sample file, gzip Records object or plain array."""
    if path.name.endswith(".gz"):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            return list(json.load(handle)["Records"])
    return list(json.loads(path.read_text(encoding="utf-8")))


def read_sample_records() -> list[dict[str, Any]]:
    """All 3,210 sample records."""
    paths = sigma_files() + sorted(STRATUS.glob("*.json"))
    return [record for path in paths for record in records_of(path)]
