"""A data node killed with SIGKILL in the middle of a 100,000-event ``--follow`` load.

While it is gone the load goes on, and a steady query load over data with one replica gets
every answer right. Over data without replicas the API says UPSTREAM_UNAVAILABLE rather than
answer from the shards that are left. The node is started again; the load ends with exactly
the 100,000 eventIDs, each once.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from starlette.testclient import TestClient

from api.app import create_app
from common.indices import state_index
from indexer.pipeline import IndexOptions
from indexer.run import index_sources
from schema import IndexLayout
from tests.cluster.conftest import CLUSTER_PORT, NODES
from tests.cluster.load import QueryLoad, kill, primary_node, wait_for_health
from tests.indexer.continuous import (
    all_ids,
    count,
    indexed_ids,
    upload,
    wait_until,
    worker_environment,
)
from tests.samples import SAMPLES
from trailql import local_elasticsearch

pytestmark = pytest.mark.cluster

KILL_AT = 25_000
#: Events the load must index while the node is gone: it is not waiting for the node.
DURING_LOSS = 10_000
GUARD = 900  # seconds: a guard against a hang, never a measurement


def _files_done(es, alias: str) -> int:
    if not es.indices.exists(index=state_index(alias)):
        return 0
    es.indices.refresh(index=state_index(alias))
    return int(es.count(index=state_index(alias))["count"])


def test_a_node_killed_mid_load_loses_nothing_and_no_query_fails(  # noqa: PLR0915, PLR0917
    cluster_es,
    cluster_connection,
    cluster_alias,
    reference,
    reference_api,
    aws,
    moto_endpoint,
    names,
    trail_100k,
    tmp_path,
):
    es = cluster_es
    alias = cluster_alias("follow")
    # Three shards and no replica: every node holds a part that nothing else has.
    unreplicated = cluster_alias("unreplicated")
    layout = IndexLayout(shards=NODES, replicas=0)
    summary = index_sources(
        [str(SAMPLES)], client=es, alias=unreplicated, options=IndexOptions(layout=layout)
    )
    assert summary.clean, summary
    es.indices.put_settings(  # one shard of each index on each node, whichever is killed
        index=f"{unreplicated}-*", settings={"index.routing.allocation.total_shards_per_node": 1}
    )
    wait_for_health(es, "green", nodes=NODES, index=unreplicated, settled=True)
    s3, _ = aws
    s3.create_bucket(Bucket=names)
    upload(s3, names, trail_100k)

    command = [sys.executable, "-m", "trailql", "index", f"s3://{names}/", "--follow"]
    command += ["--poll-interval", "1"]
    env = worker_environment(cluster_connection, alias, moto_endpoint) | {"TRAILQL_REPLICAS": "1"}
    # Its log to a file: a pipe nobody reads while it runs would fill and block it.
    log = (tmp_path / "follower.log").open("w+b")
    follower = subprocess.Popen(command, env=env, stdout=log, stderr=log)
    load = QueryLoad(reference_api.url, reference.questions)
    try:
        with load, TestClient(create_app(cluster_connection, unreplicated)) as bare:
            wait_until(lambda: count(es, alias) >= KILL_AT, timeout=GUARD, what="the load")
            # The node with the primary being written to: its replica must take over.
            victim_name = primary_node(es, f"{alias}-*")
            victim = local_elasticsearch.status(port=int(victim_name.removeprefix("trailql-")))
            assert victim is not None
            killed_at, indexed_then = time.monotonic(), count(es, alias)
            kill(victim)

            wait_for_health(es, "yellow", nodes=NODES - 1, index=reference.alias)
            yellow_at = time.monotonic()
            # Without a replica, a part of the data is gone: no answer is better than a
            # wrong one.
            refused = bare.post("/graphql", json={"query": "{ events { totalCount } }"}).json()
            wait_until(
                lambda: count(es, alias) >= indexed_then + DURING_LOSS,
                timeout=GUARD,
                what="indexing to go on without the node",
            )
            local_elasticsearch.up_cluster(nodes=NODES, port=CLUSTER_PORT, heap="512m")
            back_at = time.monotonic()

            wait_until(
                lambda: _files_done(es, alias) == len(trail_100k), timeout=GUARD, what="load"
            )
            wait_for_health(es, "green", nodes=NODES)
        follower.send_signal(signal.SIGTERM)
        follower.wait(timeout=120)
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()
        log.close()
        es.options(ignore_status=404).indices.delete(index=state_index(alias))

    assert follower.returncode == 0, (tmp_path / "follower.log").read_text()[-3000:]
    ids = indexed_ids(es, alias)
    assert len(ids) == 100_000
    assert Counter(ids).most_common(1)[0][1] == 1
    assert set(ids) == all_ids(trail_100k)

    during = load.outcomes(killed_at, back_at)
    wrong = [answer for answer in load.answers if answer.outcome != "right"]
    print(  # noqa: T201 -- the figures the capacity note quotes (pytest -s)
        f"\nnode loss: {load.outcomes()} answers in all; while the node was gone "
        f"({back_at - killed_at:.0f} s, yellow after {yellow_at - killed_at:.1f} s): {during}"
    )
    assert not wrong, wrong[:5]
    assert during["right"] >= len(reference.questions)  # the loss was queried through
    assert [error["extensions"]["code"] for error in refused["errors"]] == ["UPSTREAM_UNAVAILABLE"]
