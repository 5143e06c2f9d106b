"""``python -m bench.profile``: where the time goes, in the indexer or in the served API.

- ``indexer``: pyinstrument over the indexer's parse-and-normalise pass
  (:func:`indexer.run.serialised_documents`) on a generated trail; prints the call tree.
- ``api``: ``trailql serve`` over a freshly indexed alias, one query sent in a loop, and
  py-spy sampling the server process meanwhile; prints the functions with the most samples
  (own and inclusive) and keeps py-spy's raw output for a flame graph.

Both need the ``bench`` extra (``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from bench.api_auth import bench_key
from bench.api_server import serving
from bench.client import connection_pool
from bench.cluster import bench_cluster, elasticsearch_connection
from bench.datasets import trail_folder
from bench.options import Options
from bench.prepared import index_data_set, prepare_data_set
from bench.run import environment
from indexer.run import IndexSummary, serialised_documents

_TOP = 30


def profile_indexer(workdir: Path, events: int, seed: int) -> None:
    """The parse-and-normalise pass under pyinstrument."""
    # Imported here, by name: pyinstrument comes with the bench extra, not with dev.
    pyinstrument = importlib.import_module("pyinstrument")
    trail = trail_folder(workdir, events=events, seed=seed)
    profiler = pyinstrument.Profiler(interval=0.0005)
    with profiler:
        count = sum(
            1
            for _ in serialised_documents(
                [str(trail.root)], alias="profile", summary=IndexSummary()
            )
        )
    print(f"{count:,} events from {trail.files:,} files")
    print(profiler.output_text(unicode=True, color=False, show_all=False))


def _summarise(raw: Path) -> None:
    """The functions py-spy saw most, on top of the stack (own) and anywhere on it."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        count = int(count_text)
        total += count
        frames = [frame.split(":")[0] + ")" for frame in stack.split(";")]
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    for title, counter in (("own", own), ("inclusive", inclusive)):
        print(f"\nmost samples ({title}), of {total:,}:")
        for frame, count in counter.most_common(_TOP):
            print(f"  {count / total:6.1%}  {frame}")


def profile_api(options: Options, events: int, query: str, seconds: int, raw: Path) -> None:
    """py-spy on ``trailql serve`` while one query is sent in a loop."""
    # Beside this interpreter first: a virtual environment's scripts need not be on PATH.
    beside = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    py_spy = shutil.which("py-spy", path=beside)
    if py_spy is None:
        raise SystemExit("py-spy is not installed: pip install -e '.[bench]'")
    with (
        elasticsearch_connection(options.es_port, options.engine) as connection,
        bench_cluster(connection) as aliases,
    ):
        trail = trail_folder(options.workdir, events=events, seed=options.seed)
        alias = index_data_set(aliases, "profile", trail, request_cache=False)
        server_environment, headers = bench_key()
        with environment(server_environment):
            prepared = prepare_data_set(connection, "profile", trail.events, alias, headers)
        request = prepared.queries[query].graphql
        # One worker: the process py-spy samples is then the one that answers.
        with serving(connection, alias, server_environment, workers=1) as served:
            pool = connection_pool(served.url)
            for _ in range(20):
                request.send(pool)
            command = [py_spy, "record", "--pid", str(served.pid), "--duration", str(seconds)]
            command += ["--rate", "250", "--nonblocking", "--format", "raw", "--output", str(raw)]
            spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            sent, started = 0, time.perf_counter()
            while spy.poll() is None:
                request.send(pool)
                sent += 1
            rate = sent / (time.perf_counter() - started)
            if spy.returncode != 0 and spy.stderr is not None:
                raise SystemExit(f"py-spy failed: {spy.stderr.read().decode(errors='replace')}")
    print(f"{query}: {sent:,} requests, {rate:,.1f}/s while sampled (py-spy slows the server)")
    _summarise(raw)
    print(f"\npy-spy's raw samples: {raw} (flamegraph.pl or speedscope read them)")


def main(argv: Sequence[str] | None = None) -> int:
    """Profile the indexer or the API."""
    defaults = Options()
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("target", choices=["indexer", "api"])
    parser.add_argument("--events", type=int, default=100_000, help="generated events (100,000)")
    parser.add_argument("--query", default="events_first100", help="api: query key to send")
    parser.add_argument("--seconds", type=int, default=20, help="api: seconds sampled (20)")
    parser.add_argument(
        "--raw",
        type=Path,
        default=Path(tempfile.gettempdir()) / "trailql-api-profile.txt",
        help="api: where py-spy's raw samples go",
    )
    arguments = parser.parse_args(argv)
    if arguments.target == "indexer":
        profile_indexer(defaults.workdir, arguments.events, defaults.seed)
    else:
        profile_api(defaults, arguments.events, arguments.query, arguments.seconds, arguments.raw)
    return 0


if __name__ == "__main__":
    sys.exit(main())
