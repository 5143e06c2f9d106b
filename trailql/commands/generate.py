"""``trailql generate``: synthetic trail files in CloudTrail's layout, for demos and tests."""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlparse

import boto3
import orjson
from botocore.exceptions import BotoCoreError, ClientError

from generator import DigestOptions, GeneratedTrail, generate, ground_truth_path, upload
from trailql.output import EXIT_OK, error, stderr


def run(arguments: argparse.Namespace) -> int:
    """Write the files (into a folder, or a bucket) and say what was written."""
    if arguments.digests and arguments.signing_key is None:
        return error("--digests needs --signing-key KEY (a PEM file, made if it does not exist)")
    if not arguments.digests and (arguments.signing_key or arguments.public_keys_out):
        return error("--signing-key and --public-keys-out go with --digests")
    target: str = arguments.out
    bucket, prefix = _bucket_and_prefix(target)
    if arguments.attacks and (arguments.digests or bucket is not None):
        return error(
            "--attacks writes into a folder, without --digests (the planted files would be "
            "outside the digests, and the ground truth is written beside the folder)"
        )
    digests = None
    if arguments.digests:
        digests = DigestOptions(signing_key=arguments.signing_key)
        if bucket is not None:
            digests = replace(digests, bucket=bucket, prefix=prefix)
    if bucket is None:
        trail = generate(
            Path(target),
            events=arguments.events,
            seed=arguments.seed,
            digests=digests,
            attacks=arguments.attacks,
        )
    else:
        with tempfile.TemporaryDirectory(prefix="trailql-generate-") as folder:
            trail = generate(
                Path(folder), events=arguments.events, seed=arguments.seed, digests=digests
            )
            try:
                upload(Path(folder), boto3.session.Session().client("s3"), bucket, prefix)
            except (BotoCoreError, ClientError) as exc:
                return error(f"cannot upload to {target}: {exc}")
    stderr.print(
        f"wrote {trail.events:,} events in {trail.files:,} files under {target} "
        f"({trail.first_event_time:%Y-%m-%d} to {trail.last_event_time:%Y-%m-%d})"
    )
    if arguments.attacks:
        stderr.print(
            f"planted labelled attacks and look-alikes; ground truth in "
            f"{ground_truth_path(Path(target))}"
        )
    if digests is not None:
        _public_keys(trail, arguments)
    return EXIT_OK


def _bucket_and_prefix(target: str) -> tuple[str | None, str]:
    if not target.startswith("s3://"):
        return None, ""
    parsed = urlparse(target)
    prefix = parsed.path.lstrip("/")
    return parsed.netloc, prefix if not prefix or prefix.endswith("/") else prefix + "/"


def _public_keys(trail: GeneratedTrail, arguments: argparse.Namespace) -> None:
    key: Path = arguments.signing_key
    out: Path = arguments.public_keys_out or key.with_suffix(".public-keys.json")
    out.write_bytes(orjson.dumps(trail.public_keys, option=orjson.OPT_INDENT_2) + b"\n")
    stderr.print(
        f"and {trail.digests:,} digest files signed with {key}; verify them with "
        f"`trailql verify … --public-keys {out}`"
    )
