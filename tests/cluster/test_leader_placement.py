"""Quorum queue leaders spread over a three-node cluster of the suite's own, although `declare` and
`provision` talk to one node only (RabbitMQ's default, client-local, put all of them there)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
from kombu import Connection

from broker.domain.address import Address
from broker.transport import topology
from broker.transport.management import Management, scratch_vhost
from tests.support import rabbitmq_nodes
from tests.support.rabbitmq_nodes import RabbitCluster

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

INBOXES = [Address.parse(f"bureau:{code}") for code in ("330000", "330100", "330600", "330681", "110000")] + [
    Address.parse(f"police:{code}") for code in ("330000", "330100", "330600", "330681", "110000")
]


@pytest.fixture(scope="module")
def cluster() -> Iterator[RabbitCluster]:
    if not rabbitmq_nodes.available():
        pytest.skip("needs rabbitmq-server and rabbitmqctl to start nodes of the tests' own")
    with rabbitmq_nodes.rabbitmq_cluster(3, "leaders") as running:
        yield running


def test_declare_spreads_queue_leaders_over_the_nodes(cluster: RabbitCluster) -> None:
    one_node = cluster.nodes[0].settings()
    with scratch_vhost(one_node, "leaders") as settings:
        with Connection(settings.amqp_url) as conn:  # one node's address only
            declared = topology.declare(conn, INBOXES, inbox_secret=settings.inbox_secret)
        with Management(settings) as api:
            queues = [q for q in api.queues(settings.vhost) if q["arguments"].get("x-queue-type") == "quorum"]
        leaders = Counter(q.get("leader") or q["node"] for q in queues)
        print(f"{len(queues)} quorum queues ({declared} entities): leaders per node {dict(leaders)}")
        assert len(queues) >= len(INBOXES) + 5
        assert set(leaders) == {n.name for n in cluster.nodes}
        assert max(leaders.values()) <= len(queues) // 2, "most leaders on one node"
