"""Faults on a real three-node RabbitMQ cluster and a PostgreSQL, both started by the test itself
(tests/support; never the shared broker or database), under the router and the tracker running as
subprocesses with every node's address, while participants stream messages throughout:

1. kill -9 the node holding the leader of the router's input queue (rb.router.inbound);
2. kill -9 the node holding rb.router.retry while inputs are parked in it (one recipient stopped
   consuming, so its inbox is at its length limit and refuses copies);
3. kill -9 the node the router is connected to;
4. stop the router's and the tracker's PostgreSQL for 3 s, then for 10 s, twice.

Each killed node is restarted and back in the cluster before the next fault. Then: 0 copies lost,
0 inputs dead-lettered, every input decided, every due notice sent once. Every assistance request
falls due at once (a 0-hour deadline), so notices flow through the faults too. The time until
routing resumed after each fault is printed (README "Reliability"); run with -s to see it.

Marker `cluster`, excluded from the default run: `pytest -m cluster -s tests/cluster` (a few
minutes; RB_CLUSTER_RATE sets the messages per second, default 40).
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from broker.domain.address import Address
from broker.domain.jurisdictions import default_registry
from broker.participants import Participants
from broker.store.tracker.store import TrackerStore
from broker.tracker.notices import Notice, recipient
from broker.transport import topology
from broker.transport.management import scratch_vhost
from broker.transport.provision import ROUTER_USER, provision
from tests.support import postgres_instance, rabbitmq_nodes, worker_processes
from tests.support.deployment import DEFAULT_PARTICIPANTS, Deployment
from tests.support.observers import DecisionTap, InboxCollector, queue_depth
from tests.support.postgres_instance import PostgresInstance
from tests.support.rabbitmq_nodes import RabbitCluster, RabbitNode
from tests.support.streams import RetryingPublisher
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.timeout(1500)]

RATE = float(os.environ.get("RB_CLUSTER_RATE", "40"))
"""Messages per second the participants publish, from before the first fault to after the last."""
INBOX_LENGTH = 100
"""Every inbox's length limit (reject-publish): small, so that an inbox whose recipient is away
fills within seconds and the router parks what it refuses."""
AWAY = "bureau:330600"
"""The recipient that stops consuming during fault 2; half the stream is addressed to it."""
RULES = {"rules": {"receipt": {"enabled": False}, "assistance_reply": {"unit": "hours", "amount": 0}}}
"""The tracker's deadline rules here: an assistance request's reply is due the moment it is routed,
so each one makes an escalation and an overdue notice at the tracker's next scan (the reminder is
skipped, as for anything already due when first scanned); no receipt deadlines."""
DUE_NOTICES = (Notice.ESCALATION, Notice.OVERDUE)
PG_OUTAGES_S = (3.0, 10.0, 10.0)
SETTLE_S = 8.0
"""Steady streaming between two faults."""
RESUME_TIMEOUT_S = 120.0
CONVERGE_TIMEOUT_S = 300.0


@pytest.fixture(autouse=True)
def quiet_pika() -> Iterator[None]:
    """pika logs every refused connection to a dead node at ERROR; the observers expect them."""
    logger = logging.getLogger("pika")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    yield
    logger.setLevel(level)


@pytest.fixture(scope="module")
def cluster() -> Iterator[RabbitCluster]:
    if not rabbitmq_nodes.available():
        pytest.skip("needs rabbitmq-server and rabbitmqctl to start a cluster of the test's own")
    with rabbitmq_nodes.rabbitmq_cluster(3, "cluster") as started:
        yield started


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresInstance]:
    if not postgres_instance.available():
        pytest.skip("needs the PostgreSQL server binaries (initdb, pg_ctl) to start one of the test's own")
    with postgres_instance.postgres_instance("cluster") as started:
        yield started


def short(node: RabbitNode) -> str:
    """`node 2` for rb-cluster-<tag>-2@localhost."""
    return f"node {node.name.split('@')[0].rsplit('-', 1)[-1]}"


class Run:
    """The system under faults and what is measured of it."""

    def __init__(self, cluster: RabbitCluster, dep: Deployment, tap: DecisionTap) -> None:
        self.cluster = cluster
        self.dep = dep
        self.tap = tap
        self.vhost = dep.settings.vhost
        self.admin_urls = cluster.amqp_urls(vhost=self.vhost)
        self.figures: list[str] = []
        self.failures: list[str] = []
        self.workers: list[worker_processes.Worker] = []
        self.publisher: RetryingPublisher | None = None

    def report(self, line: str) -> None:
        self.figures.append(line)
        print(f"[cluster] {line}", flush=True)

    def fail(self, problem: str) -> None:
        self.failures.append(problem)
        print(f"[cluster] FAILED: {problem}", flush=True)

    def check_workers(self, during: str) -> None:
        """A worker that exited is a failure; it is started again so the later faults still run."""
        for worker in self.workers:
            if worker.exited():
                self.fail(
                    f"the {worker.label} exited ({worker.exits[-1]}) during {during}:\n{worker.log_tail()}"
                )
                worker.start()

    def resumed_after(self, since: datetime, label: str, sent_after: bool = True) -> float | None:
        """Seconds from `since` until the router decided an input (sent after `since`)."""
        deadline = time.monotonic() + RESUME_TIMEOUT_S
        while time.monotonic() < deadline:
            first = self.tap.first_routed(routed_after=since, sent_after=since if sent_after else None)
            if first is not None:
                return (first - since).total_seconds()
            time.sleep(0.05)
        self.fail(
            f"routing did not resume within {RESUME_TIMEOUT_S:.0f} s after {label}: {self._stalled(since)}"
        )
        return None

    def _stalled(self, since: datetime) -> str:
        """What each part did since `since`, so that a stall says which part stalled: the
        participants' publisher, the router (or the tap that watches it), or a worker."""
        decided = [d for d in self.tap.snapshot() if d.routed_at is not None and d.routed_at > since]
        sent = max((d.sent_at for d in decided if d.sent_at is not None), default=None)
        parts = [
            f"{len(decided)} decisions made since, of inputs sent up to {sent.isoformat() if sent else '-'}",
            self.publisher.state() if self.publisher is not None else "publisher not started",
            f"tap reconnects {self.tap.reconnects} {dict(self.tap.errors)}",
            f"depths {[self.depth(q) for q in (topology.ROUTER_QUEUE, topology.RETRY_QUEUE)]} (input, retry)",
        ]
        parts += [f"{w.label} log:\n{w.log_tail(30)}" for w in self.workers]
        return "; ".join(parts)

    def restart(self, node: RabbitNode) -> float:
        started = time.monotonic()
        node.start()
        node.wait_running()
        self.cluster.wait_clustered()
        return time.monotonic() - started

    def kill(self, node: RabbitNode, what: str) -> None:
        reconnects = self._reconnects()
        since = datetime.now(UTC)
        node.kill()
        resumed = self.resumed_after(since, f"killing {short(node)}")
        back = self.restart(node)
        self.report(
            f"kill -9 {short(node)} ({what}): routing resumed after {_seconds(resumed)}; node back in "
            f"the cluster {back:.1f} s after its restart; reconnects {self._reconnects_since(reconnects)}"
        )
        self.check_workers(f"the kill of {short(node)}")

    def _reconnects(self) -> dict[str, int]:
        return {w.label: w.reconnects() for w in self.workers}

    def _reconnects_since(self, before: dict[str, int]) -> str:
        return ", ".join(f"{w.label} {w.reconnects() - before[w.label]}" for w in self.workers)

    def depth(self, queue: str) -> int:
        return queue_depth(self.admin_urls, queue)


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.2f} s"


def test_node_kills_and_database_outages_lose_nothing(
    cluster: RabbitCluster, postgres: PostgresInstance, tmp_path: Path
) -> None:
    with scratch_vhost(cluster.settings(), "cluster") as scratch:
        participants = Participants.of(DEFAULT_PARTICIPANTS, scratch.user_prefix)
        report = provision(scratch, participants, inbox_length=INBOX_LENGTH)
        # participants, router and tracker are all given every node's address
        everywhere = replace(scratch, amqp_url=cluster.failover_url(vhost=scratch.vhost))
        dep = Deployment(everywhere, participants, dict(report.created))
        tap = DecisionTap(cluster.amqp_urls(vhost=scratch.vhost))
        tap.begin()
        inboxes = InboxCollector(
            cluster.amqp_urls(vhost=scratch.vhost), {str(a): dep.inbox(str(a)) for a in participants}
        )
        inboxes.begin()
        run = Run(cluster, dep, tap)
        try:
            _scenario(run, postgres, inboxes, participants, tmp_path)
        finally:
            for worker in run.workers:
                worker.stop()
            inboxes.close()
            tap.close()


def _scenario(
    run: Run, postgres: PostgresInstance, inboxes: InboxCollector, participants: Participants, tmp_path: Path
) -> None:
    dep, cluster = run.dep, run.cluster
    router_user = f"{participants.user_prefix}{ROUTER_USER}"
    system_user = participants.username(Address.parse("system:000000"))
    vhost = run.vhost

    def urls(user: str, first: int) -> str:
        """Every node's address for this user; the router and the tracker start on different nodes."""
        return cluster.failover_url(user, dep.passwords[user], vhost, first)

    participants_file = tmp_path / "participants.txt"
    participants_file.write_text(participants.dump())
    router_db = postgres.create_database("router")
    tracker_db = postgres.create_database("tracker")
    router = worker_processes.router(
        urls(router_user, 1),
        router_db,
        participants.user_prefix,
        participants_file,
        tmp_path,
    )
    tracker = worker_processes.tracker(urls(system_user, 2), tracker_db, RULES, 1.0, tmp_path)
    run.workers += [router, tracker]
    router.start()
    tracker.start()

    publisher = RetryingPublisher(dep, total=10**7, per_second=RATE, give_up_s=180)
    run.publisher = publisher
    started = datetime.now(UTC)
    publisher.start()
    assert run.resumed_after(started, "the start", sent_after=False) is not None, router.log_tail()
    time.sleep(SETTLE_S)

    # 1. the node holding the router's input queue
    run.kill(cluster.queue_node(vhost, topology.ROUTER_QUEUE), f"leader of {topology.ROUTER_QUEUE}")
    time.sleep(SETTLE_S)

    # 2. the node holding the retry queue, while inputs are parked in it
    inboxes.pause(AWAY)
    if wait_for(lambda: run.depth(topology.RETRY_QUEUE) > 0, timeout=60, interval=0.05):
        time.sleep(3.0)  # more inputs park
        parked = run.depth(topology.RETRY_QUEUE)
        holder = cluster.queue_node(vhost, topology.RETRY_QUEUE)
        away_since = time.monotonic()
        run.kill(holder, f"{topology.RETRY_QUEUE}, {parked} inputs parked in it; {AWAY} away")
        time.sleep(max(0.0, 5.0 - (time.monotonic() - away_since)))  # parked through the outage
    else:
        run.fail(f"nothing was parked in {topology.RETRY_QUEUE} within 60 s of {AWAY}'s inbox filling")
    inboxes.resume(AWAY)
    back = time.monotonic()
    drained = wait_for(lambda: run.depth(topology.RETRY_QUEUE) == 0, timeout=120, interval=0.2)
    run.report(
        f"{AWAY} back: rb.router.retry empty after {time.monotonic() - back:.1f} s"
        if drained
        else f"{AWAY} back: rb.router.retry still holds {run.depth(topology.RETRY_QUEUE)} after 120 s"
    )
    time.sleep(SETTLE_S)

    # 3. the node the router is connected to
    assert wait_for(lambda: bool(cluster.connection_nodes(router_user)), timeout=30), (
        "no router connection listed"
    )
    run.kill(cluster.connection_nodes(router_user)[0], "the router's connection")
    time.sleep(SETTLE_S)

    # 4. the database of the router and the tracker
    for seconds in PG_OUTAGES_S:
        before = {w.label: w.reconnects() for w in run.workers}
        postgres.outage(seconds)
        back_at = datetime.now(UTC)
        resumed = run.resumed_after(back_at, f"PostgreSQL's {seconds:.0f} s outage", sent_after=False)
        time.sleep(SETTLE_S)
        reconnects = ", ".join(f"{w.label} {w.reconnects() - before[w.label]}" for w in run.workers)
        run.report(
            f"PostgreSQL stopped for {seconds:.0f} s: routing resumed {_seconds(resumed)} after it was "
            f"back; reconnects during the outage and after: {reconnects}"
        )
        run.check_workers(f"PostgreSQL's {seconds:.0f} s outage")

    publisher.stopping.set()
    publisher.join(timeout=60)
    assert not publisher.is_alive(), "the publisher did not stop"
    if publisher.failure is not None:
        run.fail(f"the publisher gave up: {publisher.failure!r}")
    _check_outcome(run, publisher, inboxes, tracker_db)


def _check_outcome(run: Run, publisher: RetryingPublisher, inboxes: InboxCollector, tracker_db: str) -> None:
    """Wait until everything published was decided and delivered (or the time is up), then count."""
    expected = publisher.expected
    published = set().union(*expected.values())
    requests = expected.get("bureau:440000", set())  # every assistance request goes to that hub
    registry = default_registry()

    def notices() -> tuple[dict[tuple[str, str], str], list[tuple[str, str, int, str, str, str]], int]:
        store = TrackerStore(tracker_db)
        try:
            obligations = store.obligations()
            rows = store.sent_notices()
        finally:
            store.close()
        due: dict[tuple[str, str], str] = {}
        for ob in obligations:
            for notice in DUE_NOTICES:
                to = recipient(notice, Address.parse(ob.owed_by), Address.parse(ob.owed_to), registry)
                if to is not None:
                    due[(ob.id, notice.value)] = str(to)
        return due, rows, len(obligations)

    def outstanding() -> list[str]:
        problems: list[str] = []
        routed = run.tap.routed_ids()
        if undecided := published - routed:
            problems.append(f"{len(undecided)} of {len(published)} published inputs never decided")
        lost = {r: ids - inboxes.seen(r) for r, ids in expected.items()}
        if any(lost.values()):
            problems.append(
                f"{sum(map(len, lost.values()))} copies lost: "
                + ", ".join(f"{r} {len(ids)}" for r, ids in sorted(lost.items()) if ids)
            )
        due, rows, obligations = notices()
        if obligations != len(requests):
            problems.append(f"{obligations} obligations for {len(requests)} assistance requests")
        sent = Counter((r[0], r[1]) for r in rows if r[4] == "sent")
        if unsent := [k for k in due if sent[k] == 0]:
            problems.append(f"{len(unsent)} of {len(due)} due notices never sent")
        if twice := [k for k, n in sent.items() if n > 1]:
            problems.append(f"{len(twice)} notices sent more than once")
        if undue := [r for r in rows if (r[0], r[1]) not in due]:
            problems.append(f"{len(undue)} notices that were not due: {Counter(r[1] for r in undue)}")
        if wrong := [r for r in rows if due.get((r[0], r[1])) not in (None, r[3])]:
            problems.append(f"{len(wrong)} notices sent to the wrong party")
        if other := Counter(r[4] for r in rows if r[4] != "sent"):
            problems.append(f"notices not marked sent: {dict(other)}")
        notice_ids = {r[5]: r[3] for r in rows if r[4] == "sent"}
        if undelivered := [i for i, to in notice_ids.items() if i not in inboxes.seen(to)]:
            problems.append(f"{len(undelivered)} of {len(notice_ids)} sent notices never reached their inbox")
        if notice_ids.keys() - routed:
            problems.append(f"{len(notice_ids.keys() - routed)} sent notices never decided")
        for queue in (topology.ROUTER_QUEUE, topology.RETRY_QUEUE, topology.TRACKER_QUEUE):
            if depth := run.depth(queue):
                problems.append(f"{depth} still in {queue}")
        return problems

    ended = time.monotonic()
    shown = ended
    while (problems := outstanding()) and time.monotonic() - ended < CONVERGE_TIMEOUT_S:
        if run.depth(topology.DEAD_LETTER_QUEUE):
            break  # what is dead-lettered does not come back by itself
        run.check_workers("the final drain")
        if time.monotonic() - shown > 20:
            shown = time.monotonic()
            print(f"[cluster] {shown - ended:.0f} s after the stream: {'; '.join(problems)}", flush=True)
        time.sleep(2.0)
    settled = time.monotonic() - ended
    run.failures += problems
    set_aside = {
        q: run.depth(q) for q in (topology.DEAD_LETTER_QUEUE, topology.UNROUTABLE, topology.QUARANTINE)
    }
    if set_aside[topology.DEAD_LETTER_QUEUE]:
        run.fail(f"{set_aside[topology.DEAD_LETTER_QUEUE]} inputs or records dead-lettered")
    if set_aside[topology.UNROUTABLE] or set_aside[topology.QUARANTINE]:
        run.fail(f"valid input set aside: {set_aside}")
    due, rows, _ = notices()
    copies = sum(map(len, expected.values()))
    run.report(
        f"{len(published)} inputs published at {RATE:.0f}/s ({copies} copies, {len(requests)} assistance "
        f"requests making {len(due)} due notices, {len(rows)} sent); settled {settled:.1f} s after the "
        f"stream ended; {inboxes.duplicates()} duplicate copies; dead-lettered "
        f"{set_aside[topology.DEAD_LETTER_QUEUE]}; publisher retries {publisher.retries} "
        f"{dict(publisher.errors)}; tap reconnects {run.tap.reconnects}, collector {inboxes.reconnects}"
    )
    summary = "\n".join(run.figures)
    assert not run.failures, "\n".join(run.failures) + f"\n--- figures\n{summary}"
