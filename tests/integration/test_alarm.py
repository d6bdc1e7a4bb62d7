"""Memory alarms, on a RabbitMQ node of this module's own (never the shared one): what the router,
the client library and the blocked-connection watch do while the broker blocks publishers; and a
node that keeps the connection open but stops answering (SIGSTOP), which never sends the confirm.

The alarm is real: `rabbitmqctl set_vm_memory_high_watermark` puts the threshold under what the
node uses, and setting it back ends the alarm.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from collections import Counter
from collections.abc import Iterator

import amqp
import pytest
from kombu import Connection

from broker.domain.messages import Kind
from broker.settings import Settings
from broker.transport import topology
from broker.transport.blocking import BlockedWatch
from broker.transport.client import BrokerUnavailable, ConfirmNotReceived, ParticipantClient
from broker.transport.confirms import CONFIRM_TIMEOUT_S
from broker.transport.management import scratch_vhost
from tests.support import rabbitmq_nodes
from tests.support.deployment import DEFAULT_PARTICIPANTS, Deployment
from tests.support.messages import msg
from tests.support.queues import queue_depth
from tests.support.rabbitmq_nodes import RabbitNode
from tests.support.traffic import receive
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.rabbitmq, pytest.mark.slow]

NORMAL_WATERMARK = "0.4"


@pytest.fixture(scope="module")
def own_node() -> Iterator[RabbitNode]:
    if not rabbitmq_nodes.available():
        pytest.skip("needs rabbitmq-server and rabbitmqctl to start a node of the tests' own")
    with rabbitmq_nodes.rabbitmq_node("alarm") as node:
        yield node


@contextlib.contextmanager
def memory_alarm(node: RabbitNode) -> Iterator[None]:
    node.rabbitmqctl("set_vm_memory_high_watermark", "0.000001")
    try:
        assert wait_for(lambda: "memory" in node.rabbitmqctl("eval", "rabbit_alarm:get_alarms().").stdout)
        yield
    finally:
        node.rabbitmqctl("set_vm_memory_high_watermark", NORMAL_WATERMARK)


@pytest.fixture
def scratch(own_node: RabbitNode) -> Iterator[Settings]:
    with scratch_vhost(own_node.settings(), "alarm") as settings:
        with Connection(settings.amqp_url) as conn:
            topology.declare(conn)
        yield settings


def test_the_watch_sees_the_broker_block_and_unblock_a_publisher(
    own_node: RabbitNode, scratch: Settings
) -> None:
    watch = BlockedWatch()
    with Connection(scratch.amqp_url, transport_options=watch.transport_options()) as conn:
        conn.connect()
        channel = conn.channel()
        with memory_alarm(own_node):
            channel.basic_publish(amqp.Message(b"{}"), exchange=topology.INBOUND_EXCHANGE, routing_key="")
            assert wait_for(lambda: _drained(conn) and watch.blocked, timeout=15)
            time.sleep(1)
            assert watch.blocked and watch.blocked_s() >= 1
        assert wait_for(lambda: _drained(conn) and not watch.blocked, timeout=15)
    assert watch.blocks == 1


def _drained(conn: Connection) -> bool:
    with contextlib.suppress(TimeoutError):
        conn.drain_events(timeout=0.2)
    return True


def test_a_client_publish_in_an_alarm_raises_broker_unavailable_then_goes_through(
    own_node: RabbitNode, scratch: Settings
) -> None:
    url = scratch.amqp_url + "?blocked_connection_timeout=1"
    with memory_alarm(own_node), ParticipantClient(url, "bureau:330681", connect_timeout_s=3) as client:
        started = time.monotonic()
        with pytest.raises(BrokerUnavailable):
            client.publish(b"{}", message_id=str(uuid.uuid4()))
        assert time.monotonic() - started < 15
    with ParticipantClient(url, "bureau:330681", connect_timeout_s=10) as client:
        client.publish(b"{}", message_id=str(uuid.uuid4()))  # the same client code, once it is over
    assert wait_for(lambda: queue_depth(scratch.amqp_url, topology.ROUTER_QUEUE) >= 1)


def test_a_client_publish_the_broker_never_confirms_raises_within_its_budget(
    own_node: RabbitNode, scratch: Settings
) -> None:
    """pika's blocking channel would wait for that confirm for ever: the client drops the
    connection at its deadline and says so, and the same client publishes once the node is back."""
    with ParticipantClient(scratch.amqp_url, "bureau:330681", connect_timeout_s=4) as client:
        client.publish(b"{}", message_id=str(uuid.uuid4()))  # connected, confirms flowing
        os.kill(own_node.pid, signal.SIGSTOP)
        try:
            with pytest.raises(ConfirmNotReceived, match="no confirm within"):
                client.publish(b"{}", message_id=str(uuid.uuid4()))
        finally:
            os.kill(own_node.pid, signal.SIGCONT)
        client.publish(b"{}", message_id=str(uuid.uuid4()))
    assert wait_for(lambda: queue_depth(scratch.amqp_url, topology.ROUTER_QUEUE) >= 2)


def test_the_router_waits_out_an_alarm_longer_than_its_confirm_timeout(own_node: RabbitNode) -> None:
    from broker.participants import Participants
    from broker.transport.provision import provision

    with scratch_vhost(own_node.settings(), "alarm") as settings:
        participants = Participants.of(DEFAULT_PARTICIPANTS, settings.user_prefix)
        report = provision(settings, participants)
        dep = Deployment(settings, participants, dict(report.created))
        try:
            sent = [msg(Kind.CASE_NOTICE, "bureau:330681", ["bureau:330600"]) for _ in range(30)]
            sender = dep.client("bureau:330681")
            for message in sent:
                sender.publish(message)
            with memory_alarm(own_node):
                dep.start_router()  # it consumes (consumers are not blocked) and is blocked publishing
                time.sleep(CONFIRM_TIMEOUT_S + 5)
                assert dep.router.counters.routed == 0
            cleared = time.monotonic()
            assert wait_for(lambda: dep.router.counters.routed >= len(sent), timeout=30, interval=0.05)
            resumed_s = time.monotonic() - cleared
            print(f"routing resumed {resumed_s:.2f} s after the alarm cleared")
            assert resumed_s < 5

            inbox = receive(dep.client("bureau:330600"), len(sent))
            got = Counter(str(m.envelope.message_id) for m, _ in inbox)
            assert set(got) == {str(m.envelope.message_id) for m in sent}
            assert queue_depth(settings.amqp_url, topology.DEAD_LETTER_QUEUE) == 0
            assert dep.router.counters.sessions == 1, "the router waited the alarm out"
            assert max(got.values()) == 1  # no reconnect, so no copy sent twice
        finally:
            for client in dep.clients:
                with contextlib.suppress(Exception):
                    client.close()
            dep.stop_router()
