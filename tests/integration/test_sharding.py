"""Routers sharing the input by case (RB_ROUTER_SHARDS): every message of a case reaches one shard,
its router decides them in the order they were published, a standby of the same shard takes over,
and the topology switches between one queue and shards without routing an input twice.

The consistent-hash exchange is a plugin the shared node does not run, so these tests start a node
of their own with it; the routers share their memory through PostgreSQL, as deployed routers do.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

import pika
import pytest
from kombu import Connection

from broker.domain.messages import Kind, Message
from broker.router.service import Router
from broker.settings import Settings
from broker.store.memory import SqlRoutingMemory
from broker.store.scratch import postgres_reachable, temporary_database
from broker.transport import shard_key, topology
from broker.transport.management import scratch_vhost
from tests.support import rabbitmq_nodes
from tests.support.deployment import Deployment, provisioned_deployment
from tests.support.messages import msg
from tests.support.queues import queue_depth
from tests.support.rabbitmq_nodes import RabbitNode
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.rabbitmq]

SENDER = "bureau:330681"
RECIPIENT = "bureau:330600"
SHARDS = 2


@pytest.fixture(scope="module")
def hashing_node() -> Iterator[RabbitNode]:
    if not rabbitmq_nodes.available():
        pytest.skip("needs rabbitmq-server and rabbitmqctl to start a node of the tests' own")
    with rabbitmq_nodes.rabbitmq_node("shards", plugins=("rabbitmq_consistent_hash_exchange",)) as node:
        yield node


@pytest.fixture
def sharded(hashing_node: RabbitNode) -> Iterator[Deployment]:
    with (
        scratch_vhost(hashing_node.settings(), "shards") as settings,
        provisioned_deployment(replace(settings, router_shards=SHARDS)) as dep,
    ):
        yield dep


@pytest.fixture
def memory_url(tmp_path: Path) -> Iterator[str]:
    if not postgres_reachable():
        pytest.skip("needs the PostgreSQL server the routers share their memory in")
    with temporary_database("postgres", tmp_path) as url:
        yield url


class Routers:
    """Routers in threads, each on a shard, sharing one memory database."""

    def __init__(self, dep: Deployment, memory_url: str) -> None:
        self.dep = dep
        self.memory_url = memory_url
        self.running: list[tuple[Router, threading.Thread]] = []

    def start(self, index: int) -> Router:
        router = Router(
            self.dep.router_url,
            self.dep.participants,
            SqlRoutingMemory(self.memory_url),
            prefetch=32,
            shard=topology.Shard(index, SHARDS),
        )
        thread = threading.Thread(target=router.run, daemon=True)
        thread.start()
        self.running.append((router, thread))
        return router

    def stop(self, router: Router) -> None:
        for entry in list(self.running):
            if entry[0] is router:
                router.stop()
                entry[1].join(timeout=15)
                assert not entry[1].is_alive(), "router did not stop"
                self.running.remove(entry)

    def stop_all(self) -> None:
        for router, _ in list(self.running):
            self.stop(router)


@pytest.fixture
def routers(sharded: Deployment, memory_url: str) -> Iterator[Routers]:
    running = Routers(sharded, memory_url)
    try:
        yield running
    finally:
        running.stop_all()


def _cases(count: int, per_case: int) -> list[Message]:
    """`per_case` notices for each of `count` cases, interleaved case by case as one sender sends."""
    return [
        msg(Kind.CASE_NOTICE, SENDER, [RECIPIENT], case_id=f"C-SHARD-{case:03d}")
        for _ in range(per_case)
        for case in range(count)
    ]


def _inbox(dep: Deployment, expect: int) -> list[str]:
    """The message ids of the copies in the recipient's inbox, in the order it holds them."""
    url = dep.settings.amqp_url
    assert wait_for(lambda: queue_depth(url, dep.inbox(RECIPIENT)) >= expect, timeout=60)
    got: list[str] = []
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        while (item := channel.basic_get(dep.inbox(RECIPIENT), auto_ack=True))[0] is not None:
            got.append(str(item[1].message_id))
    finally:
        connection.close()
    return got


def test_every_message_of_a_case_reaches_one_shard_and_both_shards_get_cases(sharded: Deployment) -> None:
    client = sharded.client(SENDER)
    messages = _cases(40, 3)
    for message in messages:
        client.publish(message)
    admin = sharded.settings.amqp_url
    assert wait_for(lambda: sum(queue_depth(admin, s.queue) for s in topology.shards(SHARDS)) == 120)
    assert queue_depth(admin, topology.ROUTER_QUEUE) == 0, "rb.router.inbound is unbound when sharded"
    shard_of: dict[str, set[int]] = defaultdict(set)
    connection = pika.BlockingConnection(pika.URLParameters(admin))
    try:
        channel = connection.channel()
        for shard in topology.shards(SHARDS):  # consumed, since basic.get is refused with one consumer
            for method, _properties, _body in channel.consume(
                shard.queue, auto_ack=True, inactivity_timeout=1
            ):
                if method is None:
                    break
                shard_of[method.routing_key].add(shard.index)
            channel.cancel()
    finally:
        connection.close()
    by_key = {shard_key.of_case(m.envelope.case_id) for m in messages}
    assert set(shard_of) == by_key
    assert all(len(s) == 1 for s in shard_of.values()), "a case's messages landed on two shards"
    assert {i for s in shard_of.values() for i in s} == {0, 1}, "40 cases all hashed to one shard"


def test_two_routers_on_two_shards_route_everything_once_in_each_cases_order(
    sharded: Deployment, routers: Routers
) -> None:
    first, second = routers.start(0), routers.start(1)
    client = sharded.client(SENDER)
    messages = _cases(30, 4)
    for message in messages:
        client.publish(message)
    assert wait_for(lambda: first.counters.routed + second.counters.routed == 120, timeout=60)
    assert first.counters.routed > 0 and second.counters.routed > 0, "one router did all the work"
    got = _inbox(sharded, 120)
    assert sorted(got) == sorted(str(m.envelope.message_id) for m in messages)
    published: dict[str, list[str]] = defaultdict(list)
    for m in messages:
        published[m.envelope.case_id].append(str(m.envelope.message_id))
    case_of = {mid: case for case, mids in published.items() for mid in mids}
    received: dict[str, list[str]] = defaultdict(list)
    for mid in got:
        received[case_of[mid]].append(mid)
    assert received == published, "a case's messages were decided out of the order they were sent"


def test_a_second_router_of_a_shard_waits_and_takes_over_when_the_first_stops(
    hashing_node: RabbitNode, sharded: Deployment, routers: Routers
) -> None:
    shard = topology.Shard(0, SHARDS)
    vhost = quote(sharded.settings.vhost, safe="")

    def consumers() -> list[bool]:  # the queue's consumer count names the active one only
        listing = hashing_node.api(f"/api/consumers/{vhost}")
        return [c.get("active", True) for c in listing if c["queue"]["name"] == shard.queue]

    active = routers.start(0)
    assert wait_for(lambda: consumers() == [True])
    standby = routers.start(0)
    assert wait_for(lambda: sorted(consumers()) == [False, True])
    other = routers.start(1)
    client = sharded.client(SENDER)
    for message in _cases(20, 1):
        client.publish(message)
    assert wait_for(lambda: active.counters.routed + other.counters.routed == 20)
    assert active.counters.routed > 0
    assert standby.counters.routed == 0, "two routers consumed one shard at once"
    on_zero, on_one = active.counters.routed, other.counters.routed
    routers.stop(active)
    for message in _cases(20, 1):  # new message ids, the same 20 cases: the same shards
        client.publish(message)
    assert wait_for(lambda: standby.counters.routed == on_zero, timeout=30), "the standby did not take over"
    assert wait_for(lambda: other.counters.routed == 2 * on_one)


@pytest.mark.parametrize("back_to_one", [True, False])
def test_declaring_shards_then_one_queue_moves_the_input_without_doubling_it(
    hashing_node: RabbitNode, back_to_one: bool
) -> None:
    with scratch_vhost(hashing_node.settings(), "reshard") as settings:
        with Connection(settings.amqp_url) as conn:
            topology.declare(conn, shard_count=1)
            topology.declare(conn, shard_count=SHARDS)
            if back_to_one:
                topology.declare(conn, shard_count=1)
            with conn.channel() as channel:
                channel.basic_publish(
                    channel.prepare_message(b"{}"), exchange=topology.INBOUND_EXCHANGE, routing_key="k"
                )
        url = settings.amqp_url
        in_shards = lambda: sum(queue_depth(url, s.queue) for s in topology.shards(SHARDS))  # noqa: E731
        assert wait_for(lambda: queue_depth(url, topology.ROUTER_QUEUE) + in_shards() == 1)
        assert queue_depth(url, topology.ROUTER_QUEUE) == (1 if back_to_one else 0)
        assert in_shards() == (0 if back_to_one else 1)


def test_shards_on_a_broker_without_the_hash_exchange_are_refused_with_the_fix(
    broker_root: Settings,
) -> None:
    with (
        scratch_vhost(broker_root, "noshard") as settings,
        Connection(settings.amqp_url) as conn,
        pytest.raises(topology.ShardingUnavailable, match="rabbitmq_consistent_hash_exchange"),
    ):
        topology.declare(conn, shard_count=SHARDS)
