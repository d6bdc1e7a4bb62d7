"""The queues where messages wait for people are bounded; quorum leaders are spread over the cluster."""

from __future__ import annotations

import time
import uuid

import pytest

from broker.domain.messages import Kind
from broker.settings import Settings
from broker.transport import topology
from broker.transport.management import Management
from tests.support.deployment import Deployment
from tests.support.messages import msg
from tests.support.queues import drain, queue_depth
from tests.support.traffic import receive
from tests.support.waiting import wait_for

pytestmark = pytest.mark.rabbitmq

HOLDING = {
    topology.QUARANTINE: (topology.QUARANTINE_MAX_MESSAGES, topology.QUARANTINE_MAX_BYTES),
    topology.DEAD_LETTER_QUEUE: (topology.DEAD_LETTER_MAX_MESSAGES, topology.DEAD_LETTER_MAX_BYTES),
    topology.UNROUTABLE: (topology.UNROUTABLE_MAX_MESSAGES, topology.UNROUTABLE_MAX_BYTES),
}


def test_holding_queues_are_bounded_and_leaders_balanced_as_declared(provisioned: Deployment) -> None:
    settings = provisioned.settings
    with Management(settings) as api:
        queues = {q["name"]: q for q in api.queues(settings.vhost)}
    for name, (messages, size) in HOLDING.items():
        args = queues[name]["arguments"]
        assert args["x-max-length"] == messages and args["x-max-length-bytes"] == size, name
        assert args["x-overflow"] == "reject-publish", name
    quorum = [q for q in queues.values() if q["arguments"].get("x-queue-type") == "quorum"]
    assert len(quorum) == len(queues)
    assert {q["arguments"].get("x-queue-leader-locator") for q in quorum} == {"balanced"}


def test_a_full_quarantine_holds_the_input_instead_of_dropping_it(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    monkeypatch.setattr(topology, "QUARANTINE_MAX_MESSAGES", 1)
    dep: Deployment = request.getfixturevalue("deployment")  # declared with the small bound
    sender = dep.client("bureau:330681")
    url = dep.settings.amqp_url
    first = [str(uuid.uuid4()) for _ in range(2)]
    for message_id in first:
        sender.publish(b"this is not json", message_id=message_id)
    # a quorum queue applies its bound after the publishes in flight, so it may go a little over
    assert wait_for(lambda: queue_depth(url, topology.QUARANTINE) >= 1, timeout=15)
    time.sleep(1)
    held = queue_depth(url, topology.QUARANTINE)
    later = [str(uuid.uuid4()) for _ in range(3)]
    for message_id in later:  # the queue is at its bound now: each of these is refused
        sender.publish(b"this is not json", message_id=message_id)
    ids = first + later
    time.sleep(3)
    assert queue_depth(url, topology.QUARANTINE) == held

    good = msg(Kind.CASE_NOTICE, "bureau:330681", ["bureau:330600"])
    sender.publish(good)
    got = receive(dep.client("bureau:330600"), 1)
    assert [m.envelope.message_id for m, _ in got] == [good.envelope.message_id]  # routing goes on
    assert queue_depth(url, topology.QUARANTINE) == held
    assert queue_depth(url, topology.DEAD_LETTER_QUEUE) == 0

    seen: list[str] = []
    deadline = time.monotonic() + 30
    while len(seen) < len(ids) and time.monotonic() < deadline:  # room again: the held inputs follow
        seen += [m.properties["message_id"] for m in drain(dep.settings, topology.QUARANTINE, expect=1)]
    assert sorted(seen) == sorted(ids)
    assert queue_depth(url, topology.DEAD_LETTER_QUEUE) == 0


def test_a_full_dead_letter_queue_loses_no_dead_letter(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    import pika

    monkeypatch.setattr(topology, "DEAD_LETTER_MAX_MESSAGES", 1)
    dep: Deployment = request.getfixturevalue("provisioned")  # no router: inputs wait in its queue
    sender = dep.client("bureau:330681")
    ids = [str(uuid.uuid4()) for _ in range(4)]
    for message_id in ids:
        sender.publish(b"{}", message_id=message_id)
    connection = pika.BlockingConnection(pika.URLParameters(dep.settings.amqp_url))
    try:
        channel = connection.channel()
        for _ in ids:  # poison, as the router's delivery limit would make it
            method, _props, _body = channel.basic_get(topology.ROUTER_QUEUE)
            assert method is not None
            channel.basic_reject(method.delivery_tag, requeue=False)
    finally:
        connection.close()
    time.sleep(2)
    assert queue_depth(dep.settings.amqp_url, topology.DEAD_LETTER_QUEUE) <= 2  # bounded

    # Those that did not fit wait in the router's queue, counted as messages_dlx, and are handed
    # over when RabbitMQ's dead-letter worker retries (up to 3 minutes later): none is dropped.
    seen: list[str] = []

    def all_accounted() -> bool:
        seen.extend(m.properties["message_id"] for m in drain(dep.settings, topology.DEAD_LETTER_QUEUE))
        with Management(dep.settings) as api:
            waiting = (api.queue(dep.settings.vhost, topology.ROUTER_QUEUE) or {}).get("messages_dlx", 0)
        return len(seen) + waiting == len(ids)

    assert wait_for(all_accounted, timeout=30, interval=1)
    assert set(seen) <= set(ids) and len(set(seen)) == len(seen)


def test_declare_names_a_queue_left_with_older_arguments(isolated: Settings) -> None:
    from kombu import Connection

    with Connection(isolated.amqp_url) as conn, conn.channel() as channel:
        channel.queue_declare(
            topology.QUARANTINE, durable=True, auto_delete=False, arguments={"x-queue-type": "quorum"}
        )
    with Connection(isolated.amqp_url) as conn, pytest.raises(topology.TopologyMismatch) as info:
        topology.declare(conn)
    assert str(info.value).startswith(f"{topology.QUARANTINE}: declared earlier with other arguments")
    assert "x-max-length" in str(info.value)
