"""Faults against the real broker, each ending with zero messages lost and duplicates counted:

1. SIGKILL of the router subprocess at random points of a stream (seeded; the seed is printed);
2. `rabbitmqctl stop_app` / `start_app` mid-stream, with a publisher that reconnects and retries,
   on a RabbitMQ node of the tests' own (tests/support), never on the shared one;
3. a consumer that takes its inbox and never acks, then goes away (closes, or is killed);
4. an inbox at its length limit (reject-publish: the router is nacked, holds the input unacked and
   retries the refused copies), also for longer than the input queue's delivery limit and without
   holding up other participants; and the reconnect backoff, outage after outage.

Each prints its measured recovery time. The broker-level faults run on the tests' own node, so a
developer's or CI's broker is never taken away from other tests. Messages are compared by id, as
sets, per recipient inbox.
The last three were written as strict xfails pinning product bugs (a requeue that dead-lettered
inputs and stalled everyone behind one full inbox; a reconnect backoff that never reset); they
are regression tests now.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pika
import pika.exceptions
import pytest

from broker.domain.messages import Kind
from broker.settings import Settings
from broker.transport import topology
from tests.support import rabbitmq_nodes
from tests.support.deployment import Deployment, provisioned_deployment
from tests.support.messages import msg
from tests.support.queues import drain_ids, queue_depth
from tests.support.rabbitmq_nodes import NodeError, RabbitNode
from tests.support.streams import RetryingPublisher, publish_stream, start_router
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.rabbitmq, pytest.mark.slow]

SEED = int(os.environ.get("RB_FAULT_SEED", "20190603"))
"""Seed of the random kill points; set RB_FAULT_SEED to replay another schedule."""


# ---- shared checks ----


def inbox(dep: Deployment, address: str) -> str:
    return dep.inbox(address)


def check_inboxes(dep: Deployment, expected: dict[str, set[str]], label: str) -> int:
    """Drain every recipient's inbox; assert each got exactly its expected ids (as sets).

    Returns the number of duplicate copies (same message id twice in one inbox)."""
    duplicates = 0
    for recipient, ids in sorted(expected.items()):
        got = Counter(drain_ids(dep.settings.amqp_url, inbox(dep, recipient), idle_s=1.0))
        duplicates += sum(count - 1 for count in got.values())
        missing = ids - set(got)
        assert not missing, f"{label}: {recipient} lost {len(missing)} of {len(ids)} messages"
        assert set(got) == ids, f"{label}: {recipient} got {len(set(got) - ids)} messages it should not have"
    return duplicates


def assert_nothing_set_aside(dep: Deployment) -> None:
    url = dep.settings.amqp_url
    for queue in (topology.QUARANTINE, topology.UNROUTABLE, topology.DEAD_LETTER_QUEUE):
        assert queue_depth(url, queue) == 0, f"{queue} is not empty"


def wait_router_queue_empty(dep: Deployment, timeout: float = 60.0) -> float:
    """Wait until the router's input is empty (ready and unacked); return how long it took."""
    started = time.monotonic()
    assert wait_for(
        lambda: queue_depth(dep.settings.amqp_url, topology.ROUTER_QUEUE) == 0, timeout=timeout, interval=0.1
    ), "the router's input did not drain"
    return time.monotonic() - started


class RoutingLogTap:
    """Watches rb.routing-log (routed.#) from an exclusive queue: when each decision was seen here,
    and when the router says it made it (`routed_at`, the router's clock, same machine)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.seen: list[tuple[float, datetime]] = []
        self._stop = threading.Event()
        self._ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self._ready.wait(15), "routing-log tap did not start"

    def _run(self) -> None:
        connection = pika.BlockingConnection(pika.URLParameters(self.url))
        channel = connection.channel()
        queue = channel.queue_declare("", exclusive=True, auto_delete=True).method.queue
        channel.queue_bind(queue, topology.ROUTING_LOG, "routed.#")
        self._ready.set()
        for method, _, body in channel.consume(queue, auto_ack=True, inactivity_timeout=0.1):
            if self._stop.is_set():
                break
            if method is not None:
                routed_at = datetime.fromisoformat(json.loads(body)["routed_at"])
                self.seen.append((time.monotonic(), routed_at))
        channel.cancel()
        connection.close()

    def first_routed_after(self, wall: datetime) -> float | None:
        """Monotonic time at which the first decision made after `wall` was seen."""
        return next((seen for seen, routed_at in list(self.seen) if routed_at > wall), None)

    def close(self) -> None:
        self._stop.set()
        self.thread.join(timeout=10)


# ---- 1. SIGKILL of the router at random points ----


def test_sigkill_at_random_points_of_a_stream_loses_nothing(provisioned: Deployment, tmp_path: Path) -> None:
    dep = provisioned
    rng = random.Random(SEED)
    participants = tmp_path / "participants.txt"
    participants.write_text(dep.participants.dump())
    database = tmp_path / "router.sqlite3"
    tap = RoutingLogTap(dep.settings.amqp_url)
    expected: dict[str, set[str]] = {}
    published: list[int] = []
    failures: list[BaseException] = []

    def stream() -> None:  # 3,000 messages in bursts over ~10 s, so that every kill lands mid-stream
        try:
            for burst in range(6):
                for recipient, ids in publish_stream(dep, 500).items():
                    expected.setdefault(recipient, set()).update(ids)
                published.append(500)
                if burst < 5:
                    time.sleep(1.0)
        except BaseException as exc:
            failures.append(exc)

    publisher = threading.Thread(target=stream)
    recoveries: list[float] = []
    pauses: list[float] = []
    router = start_router(dep, database, participants)
    try:
        started = datetime.now(UTC)
        publisher.start()
        assert wait_for(lambda: tap.first_routed_after(started) is not None, timeout=30)
        for _ in range(4):
            pause = rng.uniform(0.3, 2.0)
            pauses.append(pause)
            time.sleep(pause)
            killed_wall, killed = datetime.now(UTC), time.monotonic()
            router.send_signal(signal.SIGKILL)
            router.wait()
            router = start_router(dep, database, participants)
            assert wait_for(lambda w=killed_wall: tap.first_routed_after(w) is not None, timeout=30)
            back = tap.first_routed_after(killed_wall)
            assert back is not None
            recoveries.append(back - killed)
        mid_stream = publisher.is_alive()
        publisher.join(timeout=60)
        assert not publisher.is_alive()
        assert not failures and sum(published) == 3000, failures
        drained = wait_router_queue_empty(dep, timeout=90)
        time.sleep(1.0)  # the last batch: outputs confirmed, acks in flight
    finally:
        router.send_signal(signal.SIGTERM)
        _, stderr = router.communicate(timeout=30)
        tap.close()
    assert router.returncode == 0, stderr.decode()[-2000:]
    total = sum(len(ids) for ids in expected.values())
    duplicates = check_inboxes(dep, expected, "sigkill")
    assert_nothing_set_aside(dep)
    print(
        f"\n[sigkill] seed {SEED}: 3000 messages, {total} deliveries, 4 SIGKILLs after "
        f"{', '.join(f'{p:.2f}' for p in pauses)} s of routing (publisher still running at the last: "
        f"{mid_stream}); 0 lost, {duplicates} duplicate copies; kill -> routing again: "
        f"{', '.join(f'{r:.2f}' for r in recoveries)} s (new process included); "
        f"backlog drained {drained:.1f} s after the stream ended"
    )


# ---- 2. RabbitMQ stop_app / start_app mid-stream ----


@pytest.fixture(scope="module")
def own_node() -> Iterator[RabbitNode]:
    """A RabbitMQ node of this module's own: the faults below stop its broker or cut its connections."""
    if not rabbitmq_nodes.available():
        pytest.skip("needs rabbitmq-server and rabbitmqctl to start a node of the tests' own")
    with rabbitmq_nodes.rabbitmq_node("faults") as node:
        yield node


@pytest.fixture
def own_deployment(own_node: RabbitNode) -> Iterator[Deployment]:
    """Like `deployment` (a scratch vhost, participants provisioned, the router in a thread), on
    the tests' own node."""
    from broker.transport.management import scratch_vhost

    with scratch_vhost(own_node.settings(), "faults") as settings, provisioned_deployment(settings) as dep:
        dep.start_router()
        yield dep


def _broker_answers(settings: Settings) -> bool:
    parts = urlsplit(settings.amqp_url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5672), timeout=1):
            pass
        response = httpx.get(f"{settings.api_url}/api/overview", auth=settings.admin_credentials, timeout=2)
        return response.status_code == 200
    except (OSError, httpx.HTTPError):
        return False


def test_broker_stop_app_start_app_mid_stream_loses_nothing(
    own_node: RabbitNode, own_deployment: Deployment
) -> None:
    dep = own_deployment
    counters = dep.router.counters
    # 15 s of stream: stop_app takes several seconds (once more than 5 s, when a stream of 6 s
    # had ended before the broker stopped, and nothing was left to route after it)
    publisher = RetryingPublisher(dep, total=1500, per_second=100)
    publisher.start()
    try:
        assert wait_for(lambda: counters.routed >= 200, timeout=30)
        t_stop = time.monotonic()
        try:
            own_node.rabbitmqctl("stop_app", timeout=120)  # closes every connection; deletes nothing
            t_stopped = time.monotonic()
            routed_before = counters.routed  # nothing is routed while the broker is away
            assert publisher.is_alive(), (
                f"the stream ended before the broker stopped ({t_stopped - t_stop:.1f} s)"
            )
            time.sleep(1.0)  # stop_app itself takes several seconds: keep the whole outage short
        finally:
            t_start = time.monotonic()
            for attempt in range(3):  # never leave the node stopped for the next test
                try:
                    own_node.rabbitmqctl("start_app", timeout=120)
                    break
                except (NodeError, subprocess.SubprocessError):
                    if attempt == 2:
                        raise
                    time.sleep(2)
            t_started = time.monotonic()
        assert wait_for(lambda: _broker_answers(dep.settings), timeout=60, interval=0.1), "broker not back"
        t_answers = time.monotonic()
        assert wait_for(lambda: counters.routed > routed_before, timeout=60, interval=0.01)
        t_routing = time.monotonic()
        publisher.join(timeout=120)
        assert not publisher.is_alive(), "publisher did not finish"
        assert publisher.failure is None, repr(publisher.failure)
        drained = wait_router_queue_empty(dep, timeout=60)
        time.sleep(1.0)  # the last batch: outputs confirmed, acks in flight
    finally:
        publisher.stopping.set()
    assert dep.thread is not None and dep.thread.is_alive()
    assert counters.received >= 1500 and counters.quarantined == 0
    duplicates = check_inboxes(dep, publisher.expected, "stop_app")
    assert_nothing_set_aside(dep)
    deliveries = sum(len(v) for v in publisher.expected.values())
    print(
        f"\n[stop_app] 1500 messages, {deliveries} deliveries; stop_app took {t_stopped - t_stop:.1f} s, "
        f"pause 1 s, start_app took {t_started - t_start:.1f} s; router routing again "
        f"{t_routing - t_start:.2f} s after start_app was issued ({t_routing - t_started:+.2f} s after "
        f"it returned, {t_routing - t_answers:+.2f} s after the broker answered again); publisher "
        f"retried {publisher.retries} times {dict(publisher.errors)}; 0 lost, {duplicates} duplicate "
        f"copies; {counters.duplicates} repeated inputs dropped by the router; backlog drained in "
        f"{drained:.1f} s"
    )


# ---- 3. a consumer that never acks ----

HOLD_AND_NEVER_ACK = r"""
import sys, pika
connection = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
channel = connection.channel()
channel.basic_qos(prefetch_count=1000)
count = 0
def hold(channel, method, properties, body):
    global count
    count += 1
    print(count, flush=True)
channel.basic_consume(sys.argv[2], hold, auto_ack=False)
channel.start_consuming()
"""


class NeverAcks:
    """A participant consuming its inbox with manual acks that never acks: in this process (then
    closes its connection) or in a child process (then is killed with SIGKILL)."""

    def __init__(self, url: str, queue: str, how: str) -> None:
        self.how = how
        self.count = 0
        if how == "crashes":
            self.process = subprocess.Popen(
                [sys.executable, "-c", HOLD_AND_NEVER_ACK, url, queue],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            threading.Thread(target=self._read, daemon=True).start()
        else:
            self.connection = pika.BlockingConnection(pika.URLParameters(url))
            channel = self.connection.channel()
            channel.basic_qos(prefetch_count=1000)
            channel.basic_consume(queue, self._hold, auto_ack=False)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.count = int(line)

    def _hold(self, *_: Any) -> None:
        self.count += 1

    def wait_holding(self, n: int, timeout: float = 15.0) -> bool:
        deadline = time.monotonic() + timeout
        while self.count < n and time.monotonic() < deadline:
            if self.how == "closes":
                self.connection.process_data_events(time_limit=0.1)
            else:
                time.sleep(0.05)
        return self.count >= n

    def go_away(self) -> None:
        if self.how == "crashes":
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGKILL)
            self.process.wait()
        elif self.connection.is_open:
            self.connection.close()  # no acks: the broker returns every unacked message


def consume_ids(url: str, queue: str, want: set[str], timeout: float) -> tuple[list[str], int, float]:
    """A good consumer: take and ack until every id in `want` came; return the ids (duplicates kept),
    how many came flagged redelivered, and when the last wanted one arrived (monotonic)."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.basic_qos(prefetch_count=200)
    got: list[str] = []
    redelivered = 0
    last = time.monotonic()
    deadline = last + timeout
    for method, props, _ in channel.consume(queue, inactivity_timeout=0.2):
        if method is not None:
            got.append(props.message_id)
            redelivered += bool(method.redelivered)
            channel.basic_ack(method.delivery_tag)
            last = time.monotonic()
        if want <= set(got) or time.monotonic() > deadline:
            break
    channel.cancel()
    connection.close()
    return got, redelivered, last


@pytest.mark.parametrize("how", ["closes", "crashes"])
def test_consumer_that_never_acks_loses_nothing(deployment: Deployment, how: str) -> None:
    dep = deployment
    recipient = "bureau:330600"
    sender = dep.client("bureau:330681")
    want: set[str] = set()
    for n in range(100):
        message = msg(Kind.CASE_NOTICE, "bureau:330681", [recipient], case_id=f"N-{n}")
        sender.publish(message)
        want.add(str(message.envelope.message_id))
    assert wait_for(lambda: dep.router.counters.routed == 100)
    url = dep.url_for(recipient)
    bad = NeverAcks(url, inbox(dep, recipient), how)
    try:
        assert bad.wait_holding(100), f"the bad consumer got only {bad.count} of 100"
        held_since = time.monotonic()
        time.sleep(1.5)  # holding them, acking none
        assert queue_depth(dep.settings.amqp_url, inbox(dep, recipient)) == 0  # none ready: all held, unacked
        gone = time.monotonic()
    finally:
        bad.go_away()
    got, redelivered, last = consume_ids(url, inbox(dep, recipient), want, timeout=20)
    counts = Counter(got)
    missing = want - set(counts)
    assert not missing, f"lost {len(missing)} of 100 after the consumer that never acked went away"
    assert set(counts) == want
    duplicates = sum(c - 1 for c in counts.values())
    assert redelivered == 100, "every message should come back flagged redelivered"
    assert queue_depth(dep.settings.amqp_url, inbox(dep, recipient)) == 0
    assert_nothing_set_aside(dep)
    print(
        f"\n[never-acks, {how}] 100 messages held unacked for {gone - held_since:.1f} s, then the "
        f"consumer went away: all 100 redelivered and consumed {last - gone:.2f} s later; 0 lost, "
        f"{duplicates} duplicate copies"
    )


# ---- 4. an inbox at its length limit ----

SMALL_INBOX = 50


@pytest.fixture
def small_inboxes(isolated: Settings) -> Iterator[Deployment]:
    """Like `deployment`, with every inbox limited to SMALL_INBOX messages (reject-publish)."""
    with provisioned_deployment(isolated, inbox_length=SMALL_INBOX) as dep:
        dep.start_router()
        yield dep


def publish_to(dep: Deployment, recipient: str, n: int, tag: str) -> set[str]:
    client = dep.client("bureau:330681")
    ids: set[str] = set()
    for i in range(n):
        message = msg(Kind.CASE_NOTICE, "bureau:330681", [recipient], case_id=f"{tag}-{i}")
        client.publish(message)
        ids.add(str(message.envelope.message_id))
    return ids


def drain_until(
    dep: Deployment, recipient: str, want: set[str], timeout: float
) -> tuple[Counter[str], float]:
    """Consume `recipient`'s inbox until every wanted id came (or timeout); return counts and time taken."""
    started = time.monotonic()
    got, _, last = consume_ids(dep.url_for(recipient), inbox(dep, recipient), want, timeout)
    return Counter(got), last - started


def test_inbox_at_its_length_limit_loses_nothing(small_inboxes: Deployment) -> None:
    dep = small_inboxes
    recipient = "bureau:330600"
    want = publish_to(dep, recipient, 3 * SMALL_INBOX, "L")
    counters = dep.router.counters
    assert wait_for(lambda: counters.retried > 0, timeout=15), "the full inbox never refused a copy"
    full_since = time.monotonic()
    time.sleep(3.0)  # the inbox stays full a while; the router keeps retrying
    depth = queue_depth(dep.settings.amqp_url, inbox(dep, recipient))
    assert SMALL_INBOX <= depth < len(want)  # the limit holds (a quorum queue may overshoot it a little)
    refused = counters.retried
    draining = time.monotonic()
    got, took = drain_until(dep, recipient, want, timeout=60)
    missing = want - set(got)
    dead = queue_depth(dep.settings.amqp_url, topology.DEAD_LETTER_QUEUE)
    assert not missing, f"lost {len(missing)} of {len(want)}; {dead} in rb.dead-letter"
    assert set(got) == want
    wait_router_queue_empty(dep, timeout=15)
    duplicates = sum(c - 1 for c in got.values())
    assert_nothing_set_aside(dep)
    print(
        f"\n[inbox limit] {len(want)} messages into an inbox of {SMALL_INBOX} (held {depth}): full for "
        f"{draining - full_since:.1f} s ({refused} refused copies retried by then, "
        f"{counters.retried} in all); all arrived {took:.2f} s after the consumer started draining; "
        f"0 lost, {duplicates} duplicate copies"
    )


def test_inbox_full_for_longer_than_the_delivery_limit_loses_nothing(small_inboxes: Deployment) -> None:
    dep = small_inboxes
    recipient = "bureau:330600"
    want = publish_to(dep, recipient, 2 * SMALL_INBOX, "D")
    url = dep.settings.amqp_url
    # the recipient is away for a while (here until the broker's delivery limit has been passed)
    wait_for(lambda: queue_depth(url, topology.DEAD_LETTER_QUEUE) > 0, timeout=30, interval=0.5)
    dead = queue_depth(url, topology.DEAD_LETTER_QUEUE)
    got, _ = drain_until(dep, recipient, want, timeout=8)
    missing = want - set(got)
    print(f"\n[inbox limit, long] {len(missing)} of {len(want)} missing; {dead} input(s) in rb.dead-letter")
    assert not missing, f"lost {len(missing)} of {len(want)}: {dead} router inputs were dead-lettered"


def test_full_inbox_does_not_hold_up_other_participants(small_inboxes: Deployment) -> None:
    dep = small_inboxes
    publish_to(dep, "bureau:330600", 2 * SMALL_INBOX, "F")  # 330600 is away; its inbox fills up
    others = publish_to(dep, "bureau:330602", 5, "O")
    started = time.monotonic()
    got, _ = drain_until(dep, "bureau:330602", others, timeout=5)
    took = time.monotonic() - started
    print(f"\n[inbox limit, neighbour] {len(set(got) & others)} of 5 arrived in {took:.1f} s")
    assert set(got) == others, "messages for a participant with room waited behind a full inbox"


# ---- the router's reconnect backoff, outage after outage ----


def cut_router_connections(dep: Deployment) -> int:
    """Shut down the TCP sockets of the in-process router's connections (a network failure)."""
    from kombu import Connection

    user = f"{dep.settings.user_prefix}referral-router"
    cut = 0
    for obj in gc.get_objects():
        if isinstance(obj, Connection) and obj.userid == user and obj._connection is not None:
            sock = getattr(getattr(obj._connection, "_transport", None), "sock", None)
            if sock is not None and sock.fileno() != -1:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                    cut += 1
    return cut


def test_router_reconnects_quickly_after_each_of_several_outages(own_deployment: Deployment) -> None:
    dep = own_deployment
    counters = dep.router.counters
    client = dep.client("bureau:330681")
    recoveries: list[float] = []

    def route_one() -> None:
        routed = counters.routed
        client.publish(msg(Kind.CASE_NOTICE, "bureau:330681", ["bureau:330600"]))
        assert wait_for(lambda: counters.routed > routed, timeout=30, interval=0.01)

    for _ in range(4):
        route_one()  # a healthy session
        assert wait_for(lambda: cut_router_connections(dep) > 0, timeout=5)
        cut = time.monotonic()
        route_one()
        recoveries.append(time.monotonic() - cut)
    print(f"\n[reconnect] routing again after each outage: {', '.join(f'{r:.2f}' for r in recoveries)} s")
    assert max(recoveries) < 1.0, f"recoveries grew outage after outage: {recoveries}"
