"""Synthetic CloudTrail logs of CloudWatch Logs activity, laid out as a trail delivers them to S3.

The tests, the benchmarks and the demo need data with the shape and quirks of real trails
(several identity types, SDK-dependent parameter types, failures, log groups that are created,
reconfigured and deleted in a sensible order) without an AWS account; the package stands beside
api/ and indexer/ and imports neither. Everything derives from one seeded random source, so a
seed names a data set; generation runs one five-minute window at a time, so memory stays flat
however many events are asked for.

The model, in short: three accounts (shared services, production, staging) in three regions;
each account+region has a pool of log groups whose lifecycle (create, retention changes,
subscription filters, exports, KMS, data protection, tags, sometimes deletion and re-creation)
unfolds as the run progresses; each account has a fixed cast of principals (SSO users, CI and
Terraform roles, Lambda and EC2 roles, Grafana, IAM users, root, AWS services, a federated user
and Identity Center users), each with its own tools, addresses and habits.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from generator._attacks import MIN_DAYS, ground_truth_path, plant_attacks
from generator._calendar import DEFAULT_START, default_days
from generator._digests import SIGNATURE_SUFFIX, DigestOptions, public_key_list, signing_key
from generator._run import GeneratedTrail, write_trail
from generator._upload import upload
from generator._world import ACCOUNTS, REGIONS

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "ACCOUNTS",
    "DEFAULT_START",
    "MAX_RECORDS_PER_FILE",
    "REGIONS",
    "SIGNATURE_SUFFIX",
    "DigestOptions",
    "GeneratedTrail",
    "default_days",
    "generate",
    "ground_truth_path",
    "plant_attacks",
    "public_key_list",
    "signing_key",
    "upload",
]

# CloudTrail splits a busy window into several files; the default size of those files.
MAX_RECORDS_PER_FILE: Final = 2000


def generate(
    out: Path,
    *,
    events: int,
    seed: int,
    start: datetime | None = None,
    days: int | None = None,
    max_records_per_file: int = MAX_RECORDS_PER_FILE,
    attacks: bool = False,
    digests: DigestOptions | None = None,
) -> GeneratedTrail:
    """Write ``events`` CloudTrail records under ``out`` in CloudTrail's S3 key layout.

    ``start`` defaults to :data:`DEFAULT_START` (never the clock, so output is reproducible);
    a naive ``start`` is taken as UTC. ``days`` defaults to :func:`default_days`. A window
    with more than ``max_records_per_file`` records is split into several files. With
    ``digests``, an hourly chain of signed digest files per account and region too.

    With ``attacks``, labelled attacks and look-alikes are planted among the events (the
    trail then covers at least 45 days), and their ground truth written beside the folder:
    see :func:`plant_attacks`. Not with ``digests``: the planted files would be outside them.
    """
    if events < 1:
        raise ValueError(f"events must be at least 1, not {events}")
    if attacks and digests is not None:
        raise ValueError("attacks are planted after the digests are signed: ask for one of them")
    span_days = default_days(events) if days is None else days
    if attacks:
        span_days = max(span_days, MIN_DAYS)
    if span_days < 1:
        raise ValueError(f"days must be at least 1, not {span_days}")
    if max_records_per_file < 1:
        raise ValueError(f"max_records_per_file must be at least 1, not {max_records_per_file}")
    begin = DEFAULT_START if start is None else start
    begin = begin.replace(tzinfo=UTC) if begin.tzinfo is None else begin.astimezone(UTC)
    first_second = math.ceil(begin.timestamp())  # eventTime has whole seconds, none before start
    trail = write_trail(
        out,
        events=events,
        seed=seed,
        begin=first_second,
        days=span_days,
        max_records_per_file=max_records_per_file,
        digests=digests,
    )
    if attacks:
        plant_attacks(out, begin=first_second, seed=seed)
    return trail
