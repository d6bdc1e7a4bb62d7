"""The harness's nodes can never be the shared local RabbitMQ: the fault tests stop_app, kill and
alarm the node whose name they hold, through `rabbitmqctl -n <that name>`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.rabbitmq_nodes import SHARED_NODE_PORTS, RabbitNode


def _node(name: str, amqp_port: int = 20_001) -> RabbitNode:
    return RabbitNode(name, amqp_port, 20_002, 20_003, Path("."), Path("."))


def test_the_shared_node_name_is_refused() -> None:
    with pytest.raises(ValueError, match="not a node name of our own"):
        _node("rabbit@localhost")


@pytest.mark.parametrize("port", SHARED_NODE_PORTS)
def test_the_shared_nodes_ports_are_refused(port: int) -> None:
    with pytest.raises(ValueError, match="shared node"):
        _node("rb-faults-abc123-1@localhost", amqp_port=port)


def test_a_node_of_the_tests_own_is_accepted() -> None:
    assert _node("rb-faults-abc123-1@localhost").name.startswith("rb-")
