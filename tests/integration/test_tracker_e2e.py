"""The tracker against a real RabbitMQ (and PostgreSQL): notices sent exactly once across a restart and
with two trackers at once, a SIGKILL mid-stream, and a record that is not one."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from kombu import Connection, Producer
from prometheus_client import REGISTRY

from broker.domain.messages import Kind, Message
from broker.store.scratch import postgres_reachable, temporary_database
from broker.store.tracker.model import State
from broker.store.tracker.store import TrackerStore
from broker.tracker.clock import ManualClock
from broker.transport import topology
from tests.support.deployment import Deployment
from tests.support.messages import msg
from tests.support.queues import drain_ids, queue_depth
from tests.support.tracker import Crash, RecordingPublisher, Running
from tests.support.traffic import send
from tests.support.waiting import wait_for


@pytest.fixture
def deployment(provisioned: Deployment) -> Iterator[Deployment]:
    """The router of these tests accepts sent_at up to a year ahead of its clock: the trackers here run
    on a manual clock moved weeks ahead, and stamp their notices with it."""
    provisioned.start_router(clock_skew=timedelta(days=366))
    yield provisioned


pytestmark = pytest.mark.rabbitmq


class DyingPublisher(RecordingPublisher):
    """Gets the broker's confirm, then dies before the tracker can mark the notice sent."""

    def publish(self, notices: Sequence[tuple[bytes, str]]) -> set[str]:
        super().publish(notices)
        raise Crash


def reply(dep: Deployment, original: Message, kind: Kind, sender: str) -> Message:
    from broker.domain.factory import new_message

    answer = new_message(
        kind, sender, [], original.envelope.case_id, {}, in_reply_to=original.envelope.message_id
    )
    return send(dep, answer)


def inbox_ids(dep: Deployment, address: str) -> list[str]:
    return drain_ids(dep.settings.amqp_url, dep.inbox(address), idle_s=0.5)


def sent(store: TrackerStore, notice: str | None = None) -> list[tuple[str, str, int, str, str, str]]:
    return [n for n in store.sent_notices() if n[4] == "sent" and (notice is None or n[1] == notice)]


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    with temporary_database("sqlite", tmp_path) as url:
        yield url


@pytest.fixture
def postgres_url(tmp_path: Path) -> Iterator[str]:
    if not postgres_reachable():
        pytest.skip("no PostgreSQL at RB_TEST_POSTGRES_URL")
    with temporary_database("postgres", tmp_path) as url:
        yield url


def notices_counted(notice: str) -> float:
    return REGISTRY.get_sample_value("rb_tracker_notices_total", {"notice": notice}) or 0.0


def test_reminder_and_escalation_each_once_across_a_restart(deployment: Deployment, sqlite_url: str) -> None:
    counted_before = {n: notices_counted(n) for n in ("reminder", "escalation", "overdue")}
    clock = ManualClock()
    published: list[str] = []
    first = Running(deployment, sqlite_url, clock, published)
    request = send(deployment, msg(Kind.ASSISTANCE_REQUEST, "bureau:330681", ["bureau:330600"]))
    rid = str(request.envelope.message_id)
    assert wait_for(lambda: len(first.store.obligations(rid)) == 2)
    reply(deployment, request, Kind.RECEIPT_ACK, "bureau:330600")
    assert wait_for(
        lambda: {o.rule: o.state for o in first.store.obligations(rid)}["receipt"] is State.CLOSED
    )
    owed = {o.rule: o for o in first.store.obligations(rid)}["assistance_reply"]
    assert owed.due_at - owed.start_at > timedelta(days=19)  # 15 working days, run in seconds

    clock.set(owed.reminder_at + timedelta(seconds=1))
    assert wait_for(lambda: len(sent(first.store, "reminder")) == 1)
    first.scans()
    first.stop()

    second = Running(deployment, sqlite_url, clock, published)  # the same database: a restart
    second.scans()
    assert len(sent(second.store)) == 1
    clock.set(owed.due_at + timedelta(seconds=1))
    assert wait_for(lambda: len(sent(second.store)) == 3)
    clock.advance(timedelta(days=60))
    second.scans()
    assert REGISTRY.get_sample_value("rb_tracker_obligations", {"state": "open"}) == 1
    assert REGISTRY.get_sample_value("rb_tracker_obligations", {"state": "overdue"}) == 1
    assert {n: notices_counted(n) - counted_before[n] for n in counted_before} == {
        "reminder": 1,
        "escalation": 1,
        "overdue": 1,
    }
    notices = {n[1]: n for n in sent(second.store)}
    second.stop()

    assert sorted(notices) == ["escalation", "overdue", "reminder"]
    assert Counter(published) == Counter(n[5] for n in notices.values())  # each published once
    assert {n[1]: n[3] for n in notices.values()} == {
        "reminder": "bureau:330600",
        "escalation": "bureau:330000",
        "overdue": "bureau:330681",
    }
    for notice in notices.values():
        assert inbox_ids(deployment, notice[3]).count(notice[5]) == 1
    assert deployment.router.counters.duplicates == 0
    assert deployment.router.counters.quarantined == 0
    trail = [e.event for e in TrackerStore(sqlite_url).trace(rid)]
    assert [trail.count(f"{n}_sent") for n in ("reminder", "escalation", "overdue")] == [1, 1, 1]


def test_a_tracker_dying_between_the_confirm_and_marking_sent_still_delivers_once(
    deployment: Deployment, sqlite_url: str
) -> None:
    clock = ManualClock()
    published: list[str] = []
    dying = Running(deployment, sqlite_url, clock, published, DyingPublisher, lease_s=0.5)
    notice = send(deployment, msg(Kind.CASE_NOTICE, "bureau:330681", ["bureau:330600"]))
    nid = str(notice.envelope.message_id)
    assert wait_for(lambda: len(dying.store.obligations(nid)) == 1)
    (receipt,) = dying.store.obligations(nid)
    clock.set(receipt.reminder_at + timedelta(seconds=1))
    assert wait_for(lambda: dying.crashed)
    assert len(published) == 1 and sent(dying.store) == []  # confirmed, never marked sent
    dying.store.close()

    after = Running(deployment, sqlite_url, clock, published, lease_s=0.5)
    assert wait_for(lambda: len(sent(after.store)) == 1)
    after.scans()
    after.stop()
    assert published == [published[0], published[0]]  # the same notice, published again
    assert wait_for(lambda: deployment.router.counters.duplicates == 1)  # and dropped by the router
    assert inbox_ids(deployment, "bureau:330600").count(published[0]) == 1
    trail = [e.event for e in TrackerStore(sqlite_url).trace(nid)]
    assert trail.count("reminder_sent") == 1


@pytest.mark.postgres
def test_two_trackers_on_postgres_send_each_notice_once(deployment: Deployment, postgres_url: str) -> None:
    clock = ManualClock()
    published: list[str] = []
    trackers = [Running(deployment, postgres_url, clock, published) for _ in range(2)]
    store = trackers[0].store
    addressees = ["bureau:330600", "bureau:330602"]
    requests = [
        send(deployment, msg(Kind.ASSISTANCE_REQUEST, "bureau:330681", [addressees[n % 2]], case_id=f"P-{n}"))
        for n in range(20)
    ]
    assert wait_for(lambda: len(store.obligations()) == 40)
    obligations = store.obligations()
    # step the clock past the reminders of the receipts, their due times, then those of the replies,
    # letting both trackers scan at each step
    steps = sorted(
        max(getattr(o, at) for o in obligations if o.rule == rule)
        for rule in ("receipt", "assistance_reply")
        for at in ("reminder_at", "due_at")
    )
    for step in steps:
        clock.set(step + timedelta(seconds=1))
        for t in trackers:
            t.scans(2)
    assert wait_for(lambda: len(sent(store)) == 120)
    clock.advance(timedelta(days=30))
    for t in trackers:
        t.scans(2)
    notices = sent(store)
    for t in trackers:
        t.stop()

    assert len(published) == len(set(published)) == 120
    assert Counter(published) == Counter(n[5] for n in notices)
    assert Counter((n[0], n[1]) for n in notices) == {
        (o.id, k): 1 for o in obligations for k in ("reminder", "escalation", "overdue")
    }
    by_recipient: dict[str, list[str]] = {}
    for n in notices:
        by_recipient.setdefault(n[3], []).append(n[5])
    for address, ids in by_recipient.items():
        delivered = [i for i in inbox_ids(deployment, address) if i in set(ids)]
        assert Counter(delivered) == Counter(ids), address
    assert deployment.router.counters.duplicates == 0
    # the routed notices come back as records too; they create no obligation
    assert sum(t.tracker.counters.ingested for t in trackers) == len(requests) + 120
    assert len(store_obligations := TrackerStore(postgres_url).obligations()) == 40
    assert {o.state for o in store_obligations} == {State.OPEN}


def start_tracker(dep: Deployment, database: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "RB_AMQP_URL": dep.url_for("system:000000"),
        "RB_TRACKER_DATABASE_URL": f"sqlite:///{database}",
        "RB_TRACKER_SCAN_INTERVAL": "3600",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "broker.cli", "track", "--prefetch", "8", "--log-level", "WARNING"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def ingested(database: Path) -> int:
    try:
        with sqlite3.connect(database, timeout=5) as conn:
            return int(conn.execute("SELECT count(*) FROM tracker_messages").fetchone()[0])
    except sqlite3.OperationalError:
        return 0  # not created yet


def test_sigkill_mid_stream_loses_no_obligation_and_no_acknowledgement(
    deployment: Deployment, tmp_path: Path
) -> None:
    dep = deployment
    n = 150
    requests = [
        send(dep, msg(Kind.ASSISTANCE_REQUEST, "bureau:330681", ["bureau:330600"], case_id=f"K-{i}"))
        for i in range(n)
    ]
    assert wait_for(lambda: dep.router.counters.routed >= n, timeout=60)
    ack_client = dep.client("bureau:330600")
    from broker.domain.factory import new_message

    for request in requests:
        ack_client.publish(
            new_message(
                Kind.RECEIPT_ACK,
                "bureau:330600",
                [],
                request.envelope.case_id,
                {},
                in_reply_to=request.envelope.message_id,
            )
        )
    assert wait_for(lambda: dep.router.counters.routed >= 2 * n, timeout=60)
    admin = dep.settings.amqp_url
    assert wait_for(lambda: queue_depth(admin, topology.TRACKER_QUEUE) == 2 * n)

    database = tmp_path / "tracker.sqlite3"
    kills = 0
    for threshold in (n // 4, n):
        proc = start_tracker(dep, database)
        assert wait_for(lambda t=threshold: ingested(database) >= t, timeout=60, interval=0.005)
        if ingested(database) < 2 * n:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        else:
            proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    proc = start_tracker(dep, database)
    assert wait_for(
        lambda: ingested(database) == 2 * n and queue_depth(admin, topology.TRACKER_QUEUE) == 0, timeout=60
    )
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0, proc.stderr.read().decode() if proc.stderr else ""
    assert kills >= 1

    store = TrackerStore(f"sqlite:///{database}")
    obligations = store.obligations()
    assert Counter((o.rule, o.state) for o in obligations) == {
        ("receipt", State.CLOSED): n,
        ("assistance_reply", State.OPEN): n,
    }
    assert {o.regarding for o in obligations} == {str(r.envelope.message_id) for r in requests}
    with store.engine.connect() as conn:
        from sqlalchemy import text

        received = conn.execute(
            text("SELECT count(*), count(DISTINCT message_id) FROM tracker_audit WHERE event = 'received'")
        ).one()
    assert tuple(received) == (2 * n, 2 * n)  # every record once, none twice
    assert queue_depth(admin, topology.DEAD_LETTER_QUEUE) == 0
    store.close()


def test_a_record_that_is_not_a_decision_record_is_dead_lettered(
    provisioned: Deployment, sqlite_url: str
) -> None:
    with Connection(provisioned.settings.amqp_url) as conn:
        Producer(conn.channel()).publish(
            b'{"event": "routed", "secret": 1}', routing_key=topology.TRACKER_QUEUE
        )
    running = Running(provisioned, sqlite_url, ManualClock(datetime.now().astimezone()), [])
    admin = provisioned.settings.amqp_url
    assert wait_for(lambda: queue_depth(admin, topology.DEAD_LETTER_QUEUE) == 1)
    assert running.tracker.counters.rejected == 1 and queue_depth(admin, topology.TRACKER_QUEUE) == 0
    running.stop()
