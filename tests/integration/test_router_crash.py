"""Faults: SIGKILL of the router mid-stream, a lost broker connection, and SIGTERM."""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from broker.domain.messages import Kind
from broker.transport import topology
from tests.support.deployment import Deployment
from tests.support.messages import msg
from tests.support.queues import drain_ids, queue_consumers, queue_depth
from tests.support.streams import publish_stream, start_router
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.rabbitmq, pytest.mark.slow]


def test_sigkill_while_5000_messages_flow_loses_nothing(provisioned: Deployment, tmp_path: Path) -> None:
    dep = provisioned
    participants = tmp_path / "participants.txt"
    participants.write_text(dep.participants.dump())
    database = tmp_path / "router.sqlite3"
    expected: dict[str, set[str]] = {}
    publisher = threading.Thread(target=lambda: expected.update(publish_stream(dep, 5000)))
    publisher.start()
    kills = 0
    router = start_router(dep, database, participants)
    for pause in (1.5, 2.0, 1.0):
        time.sleep(pause)
        router.send_signal(signal.SIGKILL)
        router.wait()
        kills += 1
        router = start_router(dep, database, participants)
    publisher.join()
    started = time.monotonic()
    try:
        assert wait_for(lambda: queue_depth(dep.settings.amqp_url, topology.ROUTER_QUEUE) == 0, timeout=120)
        time.sleep(1.0)  # the last batch: confirmed outputs, acks in flight
    finally:
        router.send_signal(signal.SIGTERM)
        _, stderr = router.communicate(timeout=30)
    assert router.returncode == 0, stderr.decode()[-2000:]
    drained_after = time.monotonic() - started
    duplicates = 0
    for recipient, ids in expected.items():
        got = drain_ids(dep.settings.amqp_url, dep.inbox(recipient), idle_s=1.0)
        counts = Counter(got)
        duplicates += sum(c - 1 for c in counts.values())
        missing = ids - set(counts)
        assert not missing, f"{recipient} lost {len(missing)} messages"
        assert set(counts) == ids, f"{recipient} got messages it should not have"
    assert queue_depth(dep.settings.amqp_url, topology.QUARANTINE) == 0
    assert queue_depth(dep.settings.amqp_url, topology.UNROUTABLE) == 0
    print(
        f"\n5000 messages, {sum(len(v) for v in expected.values())} deliveries, {kills} SIGKILLs: "
        f"0 lost, {duplicates} duplicate copies (dropped by message id), "
        f"backlog drained {drained_after:.1f}s after publishing"
    )


def test_router_reconnects_after_losing_its_connection(deployment: Deployment) -> None:
    client = deployment.client("bureau:330681")
    first = msg(Kind.CASE_NOTICE, "bureau:330681", ["bureau:330600"])
    client.publish(first)
    assert wait_for(lambda: deployment.router.counters.routed == 1)
    user, password = deployment.settings.admin_credentials
    api = deployment.settings.api_url
    router_user = f"{deployment.settings.user_prefix}referral-router"

    def router_connections() -> list[str]:
        listing = httpx.get(f"{api}/api/connections", auth=(user, password)).json()
        return [c["name"] for c in listing if c.get("user") == router_user]

    # the management API lists a connection once its statistics were first emitted (a few seconds)
    assert wait_for(lambda: bool(router_connections()), timeout=20, interval=0.5)
    mine = router_connections()
    for name in mine:
        httpx.delete(f"{api}/api/connections/{name}", auth=(user, password))
    killed_at = time.monotonic()
    second = msg(Kind.CASE_NOTICE, "bureau:330681", ["bureau:330600"])
    client.publish(second)
    assert wait_for(lambda: deployment.router.counters.routed == 2, timeout=30)
    print(f"\nrouter back and routing {time.monotonic() - killed_at:.2f}s after its connection was closed")
    got = drain_ids(
        deployment.settings.amqp_url, deployment.inbox("bureau:330600"), idle_s=0.5
    )
    assert set(got) == {str(first.envelope.message_id), str(second.envelope.message_id)}


def test_sigterm_hands_back_unrouted_messages(provisioned: Deployment, tmp_path: Path) -> None:
    dep = provisioned
    participants = tmp_path / "participants.txt"
    participants.write_text(dep.participants.dump())
    expected = publish_stream(dep, 400)  # queued before the router starts
    router = start_router(dep, tmp_path / "r.sqlite3", participants)
    # SIGTERM once the router consumes (its handler is installed by then), mid-backlog
    assert wait_for(lambda: queue_consumers(dep.settings.amqp_url, topology.ROUTER_QUEUE) >= 1, timeout=60)
    time.sleep(0.2)
    router.send_signal(signal.SIGTERM)
    _, stderr = router.communicate(timeout=30)
    assert router.returncode == 0, stderr.decode()[-2000:]
    router = start_router(dep, tmp_path / "r.sqlite3", participants)
    try:
        assert wait_for(lambda: queue_depth(dep.settings.amqp_url, topology.ROUTER_QUEUE) == 0, timeout=60)
        time.sleep(0.5)
    finally:
        router.send_signal(signal.SIGTERM)
        router.communicate(timeout=30)
    for recipient, ids in expected.items():
        got = set(drain_ids(dep.settings.amqp_url, dep.inbox(recipient), idle_s=0.5))
        assert got == ids
