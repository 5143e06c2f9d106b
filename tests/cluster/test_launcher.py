"""``trailql elasticsearch up --nodes N``, ``status`` and ``down --port``, on the test cluster."""

from __future__ import annotations

import pytest

from tests.cluster.conftest import CLUSTER_PORT, NODES
from tests.cluster.load import wait_for_health
from trailql.cli import EXIT_ERROR, EXIT_OK, main

pytestmark = pytest.mark.cluster

PORTS = list(range(CLUSTER_PORT, CLUSTER_PORT + NODES))
NAME = f"trailql-local-{CLUSTER_PORT}"


def test_status_down_one_node_and_up_again(cluster_es, capsys):
    assert main(["elasticsearch", "status", "--port", str(PORTS[1])]) == EXIT_OK
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith(f"cluster {NAME}: green, {NODES} of {NODES} nodes")
    assert "allocation" not in lines[0]
    assert [line.split()[0] for line in lines[1:]] == [str(port) for port in PORTS]
    assert sum("elected master" in line for line in lines[1:]) == 1

    assert main(["elasticsearch", "down", "--port", str(PORTS[2])]) == EXIT_OK
    assert capsys.readouterr().err.strip() == "stopped"
    # The others see it gone (whatever the colour: an index of another test may have had its
    # only copy there).
    wait_for_health(cluster_es, "red", nodes=NODES - 1)
    assert main(["elasticsearch", "status", "--port", str(PORTS[0])]) == EXIT_OK
    lines = capsys.readouterr().err.splitlines()
    assert f"{NODES - 1} of {NODES} nodes" in lines[0]
    assert lines[3].split() == [str(PORTS[2]), "stopped"]

    assert main(["elasticsearch", "up", "--nodes", str(NODES), "--port", str(PORTS[0])]) == EXIT_OK
    printed = capsys.readouterr()
    assert "allocation" not in printed.err
    exports = printed.out.splitlines()
    urls = ",".join(f"http://127.0.0.1:{port}" for port in PORTS)
    assert exports[0] == f"export ELASTICSEARCH_URL={urls}"
    assert exports[1] == "export ELASTICSEARCH_USERNAME=elastic"
    assert exports[2].startswith("export ELASTICSEARCH_PASSWORD=")


def test_allocation_left_paused_is_said_when_the_cluster_comes_up(cluster_es, capsys):
    """What a rolling restart cut short leaves behind keeps the cluster yellow: say so."""
    cluster_es.cluster.put_settings(persistent={"cluster.routing.allocation.enable": "primaries"})
    assert main(["elasticsearch", "up", "--nodes", str(NODES), "--port", str(PORTS[0])]) == EXIT_OK
    said = capsys.readouterr().err.replace("\n", " ")
    assert (
        "Shard allocation is limited: cluster.routing.allocation.enable is primaries "
        "(persistent), as a rolling restart leaves it until its last step"
    ) in said
    assert '{"persistent": {"cluster.routing.allocation.enable": null}}' in said
    assert main(["elasticsearch", "status", "--port", str(PORTS[1])]) == EXIT_OK
    first = capsys.readouterr().err.splitlines()[0]
    assert first.startswith(f"cluster {NAME}: ")
    assert first.endswith("; shard allocation limited to primaries (persistent)")

    cluster_es.cluster.put_settings(transient={"cluster.routing.allocation.enable": "none"})
    assert main(["elasticsearch", "up", "--nodes", str(NODES), "--port", str(PORTS[0])]) == EXIT_OK
    said = capsys.readouterr().err.replace("\n", " ")
    assert "cluster.routing.allocation.enable is none (transient)" in said
    assert '{"transient": {"cluster.routing.allocation.enable": null}}' in said
    # The fixture puts both back after the test, as it does after a real rolling restart.


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["up", "--port", str(PORTS[1])],
            (
                f"the node on port {PORTS[1]} is a member of the 3-node cluster on ports "
                f"{PORTS[0]}-{PORTS[-1]}: start it with `trailql elasticsearch up --nodes 3 "
                f"--port {PORTS[0]}`"
            ),
        ),
        (
            ["up", "--nodes", "2", "--port", str(PORTS[0])],
            (
                f"is a member of the 3-node cluster on ports {PORTS[0]}-{PORTS[-1]}, not the "
                f"2-node cluster"
            ),
        ),
        (["up", "--nodes", "10"], "a local cluster has 2 to 9 nodes, not 10"),
        (["up", "--nodes", "3", "--port", "65500"], "must lie between 1024 and 65535"),
        (["up", "--nodes", "3", "--heap", "lots"], "heap must look like 512m or 1g"),
        (["down", "--cluster"], "--cluster needs --port"),
    ],
)
@pytest.mark.usefixtures("cluster")
def test_what_the_launcher_refuses_it_says(capsys, arguments, message):
    assert main(["elasticsearch", *arguments]) == EXIT_ERROR
    assert message in capsys.readouterr().err.replace("\n", " ")
