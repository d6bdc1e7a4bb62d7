"""`referral-broker bench`: the router's throughput against the raw limit, latency, peak memory.

Everything runs against the broker in RB_AMQP_URL, in a scratch vhost removed afterwards.

1. limit: N messages are queued, then the raw forwarder (broker/bench/forwarder.py, same client
   library and streamed confirms as the router) drains them into another queue;
2. router: the same N messages, published by provisioned participants with their validated
   user_id, are queued, then the router (a subprocess, SQLite memory, all checks on) drains them;
   each rate is N / (time from its consumer's start until the last output is in place);
3. latency: the router runs while participants publish at a fixed offered rate with the real
   client (a confirm per message); a consumer on the recipients' inboxes takes receive time minus
   the envelope's sent_at for every copy;
4. peak memory: VmHWM of each subprocess.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pika
from kombu import Connection, Queue

from broker.client import ParticipantClient, new_message
from broker.domain.address import Address
from broker.domain.messages import Kind, Message
from broker.examples import CASE_FACTS
from broker.participants import Participants
from broker.provision import ROUTER_USER, provision
from broker.settings import Settings
from broker.transport import topology
from broker.transport.confirms import ConfirmedPublisher
from broker.transport.management import scratch_vhost

FLOWS: list[tuple[str, list[str], Kind, list[str]]] = [
    ("bureau:330681", ["bureau:330600"], Kind.CASE_NOTICE, ["bureau:330600"]),
    ("bureau:330602", [], Kind.ESCALATION, ["bureau:330600"]),
    ("bureau:330681", ["bureau:440300"], Kind.ASSISTANCE_REQUEST, ["bureau:440000", "bureau:330000"]),
    ("bureau:110105", [], Kind.ESCALATION, ["bureau:110000"]),
]
"""The message mix: (sender, addressees, kind, who receives it). Vertical, intra-province and
cross-province traffic; a quarter of the messages make two copies."""

PARTICIPANTS = sorted({a for s, to, _, rec in FLOWS for a in [s, *to, *rec]})

BODIES: dict[Kind, dict[str, Any]] = {
    Kind.CASE_NOTICE: {"summary": "notice"},
    Kind.ESCALATION: {"reason": "spans several counties"},
    Kind.ASSISTANCE_REQUEST: {"questions": ["who bought the data?"]},
}


def mix_message(n: int) -> tuple[Message, list[str]]:
    """The n-th message of the mix and the addresses that must receive it."""
    sender, to, kind, recipients = FLOWS[n % len(FLOWS)]
    return new_message(kind, sender, to, f"BENCH-{n}", BODIES[kind], case=CASE_FACTS), recipients


@dataclass
class Deployment:
    settings: Settings
    participants: Participants
    passwords: dict[str, str]

    def url_for(self, address: str) -> str:
        user = self.participants.username(Address.parse(address))
        return self.settings.amqp_url_for(user, self.passwords[user])

    @property
    def router_url(self) -> str:
        user = f"{self.participants.user_prefix}{ROUTER_USER}"
        return self.settings.amqp_url_for(user, self.passwords[user])


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _depth(channel: Any, queue: str) -> tuple[int, int]:
    ok = channel.queue_declare(queue, passive=True)
    return int(ok.method.message_count), int(ok.method.consumer_count)


def _wait(predicate: Callable[[], bool], timeout_s: float, interval_s: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval_s)
    return False


def _peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _drain_rate(
    admin_url: str, process: subprocess.Popen[bytes], source: str, targets: dict[str, int], total: int
) -> tuple[float, float | None]:
    """Time from the consumer's start to the last output in place; messages/s and peak RSS."""
    connection = pika.BlockingConnection(pika.URLParameters(admin_url))
    channel = connection.channel()
    try:
        if not _wait(lambda: _depth(channel, source)[1] >= 1, 60):
            raise RuntimeError(f"no consumer appeared on {source}")
        started = time.perf_counter()

        def done() -> bool:
            return all(_depth(channel, q)[0] >= n for q, n in targets.items())

        if not _wait(done, 600, interval_s=0.02):
            raise RuntimeError("outputs did not arrive within 10 minutes")
        elapsed = time.perf_counter() - started
        return total / elapsed, _peak_rss_mb(process.pid)
    finally:
        connection.close()
        process.terminate()
        process.wait(timeout=30)


def measure_limit(dep: Deployment, bodies: list[bytes]) -> tuple[float, float | None]:
    source, target = "rb.bench.raw-in", "rb.bench.raw-out"
    with Connection(dep.settings.amqp_url) as conn:
        for name in (source, target):
            Queue(name, durable=True, queue_arguments={"x-queue-type": "quorum"}).bind(
                conn.channel()
            ).declare()
        publisher = ConfirmedPublisher(conn, conn.channel())
        for i, body in enumerate(bodies):
            publisher.publish((i, ""), body, "", source, delivery_mode=2, content_type="application/json")
            if i % 1000 == 999:
                publisher.wait()
        publisher.wait()
    process = subprocess.Popen(
        [sys.executable, "-m", "broker.bench.forwarder", dep.settings.amqp_url, source, target],
        stdout=subprocess.DEVNULL,
    )
    return _drain_rate(dep.settings.amqp_url, process, source, {target: len(bodies)}, len(bodies))


def publish_as_participants(dep: Deployment, messages: list[Message]) -> None:
    """Queue messages on rb.inbound as their senders, with streamed confirms (fast prefill)."""
    by_sender: dict[str, list[Message]] = defaultdict(list)
    for message in messages:
        by_sender[message.envelope.sender].append(message)
    for sender, batch in by_sender.items():
        user = dep.participants.username(Address.parse(sender))
        with Connection(dep.url_for(sender)) as conn:
            publisher = ConfirmedPublisher(conn, conn.channel())
            for i, message in enumerate(batch):
                publisher.publish(
                    (i, ""),
                    message.model_dump_json(exclude_none=True).encode(),
                    topology.INBOUND_EXCHANGE,
                    "",
                    delivery_mode=2,
                    content_type="application/json",
                    content_encoding="utf-8",
                    message_id=str(message.envelope.message_id),
                    user_id=user,
                )
                if i % 1000 == 999:
                    publisher.wait()
            publisher.wait()


def router_process(
    router_url: str, user_prefix: str, participants_file: Path, database_file: Path, stderr: Any = None
) -> subprocess.Popen[bytes]:
    """`referral-broker route` as a subprocess, as an operator would run it (SIGTERM stops it)."""
    env = {
        **os.environ,
        "RB_AMQP_URL": router_url,
        "RB_DATABASE_URL": f"sqlite:///{database_file}",
        "RB_USER_PREFIX": user_prefix,
    }
    command = ["route", "--participants", str(participants_file), "--log-level", "WARNING"]
    return subprocess.Popen(
        [sys.executable, "-m", "broker.cli", *command], env=env, stdout=subprocess.DEVNULL, stderr=stderr
    )


def start_router(dep: Deployment, workdir: Path) -> subprocess.Popen[bytes]:
    participants = workdir / "participants.txt"
    participants.write_text(dep.participants.dump())
    database = workdir / f"router-{time.monotonic_ns()}.sqlite3"
    return router_process(dep.router_url, dep.participants.user_prefix, participants, database)


def _inbox_totals(recipient_lists: list[list[str]], secret: str) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for recipients in recipient_lists:
        for r in recipients:
            totals[topology.inbox_name(Address.parse(r), secret)] += 1
    return dict(totals)


def purge(dep: Deployment, queues: list[str]) -> None:
    with Connection(dep.settings.amqp_url) as conn:
        channel = conn.channel()
        for q in queues:
            channel.queue_purge(q)


def measure_router(dep: Deployment, count: int, workdir: Path) -> tuple[float, float | None]:
    made = [mix_message(n) for n in range(count)]
    publish_as_participants(dep, [m for m, _ in made])
    totals = _inbox_totals([r for _, r in made], dep.settings.inbox_secret)
    totals[topology.TRACKER_QUEUE] = count
    process = start_router(dep, workdir)
    return _drain_rate(dep.settings.amqp_url, process, topology.ROUTER_QUEUE, totals, count)


def measure_latency(dep: Deployment, rate: float, seconds: float, workdir: Path) -> tuple[list[float], int]:
    """End-to-end latencies (ms) of every copy at a fixed offered rate, and how many were offered."""
    total = int(rate * seconds)
    made = [mix_message(n) for n in range(total)]
    expected = sum(len(r) for _, r in made)
    latencies: list[float] = []
    stop = threading.Event()
    inboxes = sorted(_inbox_totals([r for _, r in made], dep.settings.inbox_secret))

    def consume() -> None:
        connection = pika.BlockingConnection(pika.URLParameters(dep.settings.amqp_url))
        channel = connection.channel()
        channel.basic_qos(prefetch_count=500)

        def on_message(ch: Any, method: Any, props: Any, body: bytes) -> None:
            sent_at = datetime.fromisoformat(json.loads(body)["envelope"]["sent_at"])
            latencies.append((time.time() - sent_at.timestamp()) * 1000)
            ch.basic_ack(method.delivery_tag)

        for inbox in inboxes:
            channel.basic_consume(inbox, on_message)
        while not stop.is_set() and len(latencies) < expected:
            connection.process_data_events(time_limit=0.2)
        connection.close()

    router = start_router(dep, workdir)
    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    clients = {s: ParticipantClient(dep.url_for(s), s) for s, *_ in FLOWS}
    try:
        with pika.BlockingConnection(pika.URLParameters(dep.settings.amqp_url)) as admin:
            channel = admin.channel()
            _wait(lambda: _depth(channel, topology.ROUTER_QUEUE)[1] >= 1, 60)
        started = time.perf_counter()
        for n in range(total):
            target = started + n / rate
            delay = target - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            sender = FLOWS[n % len(FLOWS)][0]
            message, _ = mix_message(n)  # sent_at is now, at the offered instant
            clients[sender].publish(message)
        _wait(lambda: len(latencies) >= expected, 60)
    finally:
        stop.set()
        consumer.join(timeout=10)
        for client in clients.values():
            client.close()
        router.terminate()
        router.wait(timeout=30)
    return latencies, total


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def run(settings: Settings, messages: int, rate: float, seconds: float) -> dict[str, Any]:
    with scratch_vhost(settings, "bench") as scratch, tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        participants = Participants.of(PARTICIPANTS, scratch.user_prefix)
        report = provision(scratch, participants)
        dep = Deployment(scratch, participants, dict(report.created))
        sample = [mix_message(n)[0].model_dump_json(exclude_none=True).encode() for n in range(messages)]
        _progress(f"limit: raw forwarder draining {messages} queued messages …")
        limit, limit_rss = measure_limit(dep, sample)
        _progress(f"limit: {limit:,.0f} msg/s; router: routing the same {messages} messages …")
        router, router_rss = measure_router(dep, messages, workdir)
        _progress(f"router: {router:,.0f} msg/s; latency: {rate:.0f} msg/s offered for {seconds:.0f} s …")
        inboxes = _inbox_totals([r for *_, r in FLOWS], scratch.inbox_secret)
        purge(dep, [*sorted(inboxes), topology.TRACKER_QUEUE])
        latencies, offered = measure_latency(dep, rate, seconds, workdir)
    return {
        "messages": messages,
        "limit_msgs_per_s": round(limit, 1),
        "router_msgs_per_s": round(router, 1),
        "ratio": round(router / limit, 3),
        "offered_rate_msgs_per_s": rate,
        "latency_samples": len(latencies),
        "latency_offered": offered,
        "p50_ms": round(statistics.median(latencies), 2) if latencies else None,
        "p99_ms": round(percentile(latencies, 0.99), 2) if latencies else None,
        "max_ms": round(max(latencies), 2) if latencies else None,
        "peak_rss_mb": round(router_rss, 1) if router_rss else None,
        "limit_peak_rss_mb": round(limit_rss, 1) if limit_rss else None,
        "cores": os.cpu_count(),
    }


def render(result: dict[str, Any]) -> str:
    return "\n".join(
        [
            f"messages per run          {result['messages']:>10,}",
            f"raw forwarder (limit)     {result['limit_msgs_per_s']:>10,.0f} msg/s   "
            f"peak RSS {result['limit_peak_rss_mb']} MB",
            f"router, all checks on     {result['router_msgs_per_s']:>10,.0f} msg/s   "
            f"peak RSS {result['peak_rss_mb']} MB",
            f"ratio router / limit      {result['ratio']:>10.3f}",
            f"latency at {result['offered_rate_msgs_per_s']:.0f} msg/s offered: p50 {result['p50_ms']} ms, "
            f"p99 {result['p99_ms']} ms, max {result['max_ms']} ms ({result['latency_samples']} copies)",
        ]
    )
