"""`referral-broker bench`: the router's throughput and CPU against the limit, latency, peak memory.

Everything runs against the broker in RB_AMQP_URL, in a scratch vhost removed afterwards.

1. limit: N messages are queued, then a forwarder drains them into another queue: the bare py-amqp
   one (broker/tools/bench/bare_forwarder.py) and the one built on kombu and the project's
   ConfirmedPublisher (broker/tools/bench/forwarder.py), each with the router's guarantees (quorum
   queues, streamed confirms, ack after confirm, the same bodies). The limit is the faster of the
   two in this run, and the CPU per message of the cheaper;
2. router: the same N messages, published by provisioned participants with their validated
   user_id, are queued, then the router (a subprocess, SQLite memory, all checks on) drains them;
   each rate is N / (time from its consumer's start until the last output is in place), and its
   CPU per message is the process's own utime + stime over that time, divided by N;
3. latency: the router runs while participants publish at a fixed offered rate with the real
   client (a confirm per message); a consumer on the recipients' inboxes takes receive time minus
   the envelope's sent_at for every copy. The bare forwarder is offered the same rate, the same
   bodies and a confirm per publish, so the router's latency can be read against the limit's;
4. peak memory: VmHWM of each subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pika
from kombu import Connection, Queue

from broker.domain.address import Address
from broker.domain.factory import new_message
from broker.domain.messages import Kind, Message
from broker.participants import Participants
from broker.settings import Settings
from broker.tools.bench.procstat import cpu_seconds, peak_rss_mb
from broker.tools.bench.sealed import PLAINTEXT, PLAINTEXT_ENV, BenchBodies, sealed_bodies
from broker.tools.contract.examples import CASE_FACTS
from broker.transport import shard_key, topology
from broker.transport.client import ParticipantClient
from broker.transport.confirms import ConfirmedPublisher
from broker.transport.management import scratch_vhost
from broker.transport.provision import ROUTER_USER, provision

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


@dataclass(frozen=True)
class Drain:
    """One drain run: messages/s by wall time, CPU µs per message by the process's own accounting."""

    msgs_per_s: float
    cpu_us_per_msg: float | None
    peak_rss_mb: float | None


def _drain_rate(
    admin_url: str, process: subprocess.Popen[bytes], source: str, targets: dict[str, int], total: int
) -> Drain:
    """Time and the process's CPU from its consumer's start to the last output in place."""
    connection = pika.BlockingConnection(pika.URLParameters(admin_url))
    channel = connection.channel()
    try:
        if not _wait(lambda: _depth(channel, source)[1] >= 1, 60):
            raise RuntimeError(f"no consumer appeared on {source}")
        started, cpu_before = time.perf_counter(), cpu_seconds(process.pid)

        def done() -> bool:
            return all(_depth(channel, q)[0] >= n for q, n in targets.items())

        if not _wait(done, 600, interval_s=0.02):
            raise RuntimeError("outputs did not arrive within 10 minutes")
        elapsed, cpu_after = time.perf_counter() - started, cpu_seconds(process.pid)
        cpu = None if cpu_before is None or cpu_after is None else (cpu_after - cpu_before) / total * 1e6
        return Drain(total / elapsed, cpu, peak_rss_mb(process.pid))
    finally:
        connection.close()
        process.terminate()
        process.wait(timeout=30)


CONNECT_TIMEOUT_S = 60.0
"""The bench's own connections wait this long for the broker's handshake: a node just given tens of
thousands of quorum queues (bench --scale) answers a login slowly for a while."""

RAW_SOURCE, RAW_TARGET = "rb.bench.raw-in", "rb.bench.raw-out"
BARE = "broker.tools.bench.bare_forwarder"
KOMBU = "broker.tools.bench.forwarder"


def _forwarder(dep: Deployment, module: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", module, dep.settings.amqp_url, RAW_SOURCE, RAW_TARGET],
        stdout=subprocess.DEVNULL,
    )


def measure_limit(dep: Deployment, bodies: list[bytes], module: str = BARE) -> Drain:
    with Connection(dep.settings.amqp_url, connect_timeout=CONNECT_TIMEOUT_S) as conn:
        for name in (RAW_SOURCE, RAW_TARGET):
            queue = Queue(name, durable=True, queue_arguments={"x-queue-type": "quorum"}).bind(conn.channel())
            queue.declare()
            queue.purge()
        publisher = ConfirmedPublisher(conn, conn.channel())
        for i, body in enumerate(bodies):
            publisher.publish((i, ""), body, "", RAW_SOURCE, delivery_mode=2, content_type="application/json")
            if i % 1000 == 999:
                publisher.wait()
        publisher.wait()
    process = _forwarder(dep, module)
    return _drain_rate(dep.settings.amqp_url, process, RAW_SOURCE, {RAW_TARGET: len(bodies)}, len(bodies))


def publish_as_participants(
    dep: Deployment, messages: list[Message], bodies: BenchBodies = PLAINTEXT
) -> None:
    """Queue messages on rb.inbound as their senders, with streamed confirms (fast prefill)."""
    by_sender: dict[str, list[Message]] = defaultdict(list)
    for message in messages:
        by_sender[message.envelope.sender].append(message)
    for sender, batch in by_sender.items():
        user = dep.participants.username(Address.parse(sender))
        with Connection(dep.url_for(sender), connect_timeout=CONNECT_TIMEOUT_S) as conn:
            publisher = ConfirmedPublisher(conn, conn.channel())
            for i, message in enumerate(batch):
                publisher.publish(
                    (i, ""),
                    bodies.wire(message),
                    topology.INBOUND_EXCHANGE,
                    shard_key.of_case(message.envelope.case_id),
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
    router_url: str,
    user_prefix: str,
    participants_file: Path,
    database_file: Path,
    stderr: Any = None,
    extra: Sequence[str] = (),
    profile_to: Path | None = None,
    bodies_env: dict[str, str] | None = None,
    database_url: str | None = None,
) -> subprocess.Popen[bytes]:
    """`referral-broker route` as a subprocess, as an operator would run it (SIGTERM stops it), at
    the default log level, so each decision's routing-log line is part of the cost measured; with
    `profile_to`, under cProfile (broker/tools/bench/profiled.py), which writes its
    statistics there when the router exits."""
    env = {
        **os.environ,
        "RB_AMQP_URL": router_url,
        "RB_DATABASE_URL": database_url or f"sqlite:///{database_file}",
        "RB_USER_PREFIX": user_prefix,
        **(PLAINTEXT_ENV if bodies_env is None else bodies_env),
    }
    command = ["route", "--participants", str(participants_file), "--log-level", "INFO", *extra]
    entry = ["broker.cli"] if profile_to is None else ["broker.tools.bench.profiled", str(profile_to)]
    return subprocess.Popen(
        [sys.executable, "-m", *entry, *command],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )


def start_router(dep: Deployment, workdir: Path, bodies: BenchBodies = PLAINTEXT) -> subprocess.Popen[bytes]:
    participants = workdir / "participants.txt"
    participants.write_text(dep.participants.dump())
    database = workdir / f"router-{time.monotonic_ns()}.sqlite3"
    return router_process(
        dep.router_url, dep.participants.user_prefix, participants, database, bodies_env=bodies.router_env
    )


def _inbox_totals(recipient_lists: list[list[str]], secret: str) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for recipients in recipient_lists:
        for r in recipients:
            totals[topology.inbox_name(Address.parse(r), secret)] += 1
    return dict(totals)


def purge(dep: Deployment, queues: list[str]) -> None:
    with Connection(dep.settings.amqp_url, connect_timeout=CONNECT_TIMEOUT_S) as conn:
        channel = conn.channel()
        for q in queues:
            channel.queue_purge(q)


def measure_router(dep: Deployment, count: int, workdir: Path, bodies: BenchBodies = PLAINTEXT) -> Drain:
    made = [mix_message(n) for n in range(count)]
    publish_as_participants(dep, [m for m, _ in made], bodies)
    totals = _inbox_totals([r for _, r in made], dep.settings.inbox_secret)
    totals[topology.TRACKER_QUEUE] = count
    process = start_router(dep, workdir, bodies)
    return _drain_rate(dep.settings.amqp_url, process, topology.ROUTER_QUEUE, totals, count)


def _offered(
    dep: Deployment,
    consumer_queue: str,
    outputs: list[str],
    expected: int,
    total: int,
    rate: float,
    publish: Callable[[int], None],
) -> list[float]:
    """Publish message n at started + n / rate with `publish(n)` while a consumer on `outputs`
    takes receive time minus the envelope's sent_at of every copy (ms), once `consumer_queue` has
    its consumer."""
    latencies: list[float] = []
    stop = threading.Event()

    def consume() -> None:
        connection = pika.BlockingConnection(pika.URLParameters(dep.settings.amqp_url))
        channel = connection.channel()
        channel.basic_qos(prefetch_count=500)

        def on_message(ch: Any, method: Any, props: Any, body: bytes) -> None:
            sent_at = datetime.fromisoformat(json.loads(body)["envelope"]["sent_at"])
            latencies.append((time.time() - sent_at.timestamp()) * 1000)
            ch.basic_ack(method.delivery_tag)

        for queue in outputs:
            channel.basic_consume(queue, on_message)
        while not stop.is_set() and len(latencies) < expected:
            connection.process_data_events(time_limit=0.2)
        connection.close()

    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    try:
        with pika.BlockingConnection(pika.URLParameters(dep.settings.amqp_url)) as admin:
            channel = admin.channel()
            _wait(lambda: _depth(channel, consumer_queue)[1] >= 1, 60)
        started = time.perf_counter()
        for n in range(total):
            delay = started + n / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            publish(n)
        _wait(lambda: len(latencies) >= expected, 60)
    finally:
        stop.set()
        consumer.join(timeout=10)
    return latencies


def measure_latency(
    dep: Deployment, rate: float, seconds: float, workdir: Path, bodies: BenchBodies = PLAINTEXT
) -> tuple[list[float], int]:
    """End-to-end latencies (ms) of every copy at a fixed offered rate, and how many were offered;
    the participants' clients seal each message as they publish it when `bodies` are sealed."""
    total = int(rate * seconds)
    recipients = [mix_message(n)[1] for n in range(total)]
    inboxes = sorted(_inbox_totals(recipients, dep.settings.inbox_secret))
    clients = {s: ParticipantClient(dep.url_for(s), s, sealing=bodies.sealing_for(s)) for s, *_ in FLOWS}

    def publish(n: int) -> None:
        message, _ = mix_message(n)  # sent_at is now, at the offered instant
        clients[FLOWS[n % len(FLOWS)][0]].publish(message)

    router = start_router(dep, workdir, bodies)
    try:
        expected = sum(len(r) for r in recipients)
        latencies = _offered(dep, topology.ROUTER_QUEUE, inboxes, expected, total, rate, publish)
    finally:
        for client in clients.values():
            client.close()
        router.terminate()
        router.wait(timeout=30)
    return latencies, total


def measure_limit_latency(
    dep: Deployment, rate: float, seconds: float, bodies: BenchBodies = PLAINTEXT
) -> list[float]:
    """The bare forwarder's latencies (ms) at the same offered rate, with the same bodies, each
    published with a confirm as the participants' client does."""
    total = int(rate * seconds)
    purge(dep, [RAW_SOURCE, RAW_TARGET])
    connection = pika.BlockingConnection(pika.URLParameters(dep.settings.amqp_url))
    channel = connection.channel()
    channel.confirm_delivery()
    properties = pika.BasicProperties(content_type="application/json", delivery_mode=2)

    def publish(n: int) -> None:
        channel.basic_publish("", RAW_SOURCE, bodies.wire(mix_message(n)[0]), properties, mandatory=True)

    forwarder = _forwarder(dep, BARE)
    try:
        return _offered(dep, RAW_SOURCE, [RAW_TARGET], total, total, rate, publish)
    finally:
        connection.close()
        forwarder.terminate()
        forwarder.wait(timeout=30)
        purge(dep, [RAW_TARGET])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _ms(values: list[float], q: float) -> float | None:
    return round(percentile(values, q), 2) if values else None


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def run(
    settings: Settings, messages: int, rate: float, seconds: float, sealed: bool = True
) -> dict[str, Any]:
    """`sealed`: every body sealed for its recipients and the router taking sealed bodies only (the
    production setting); then a second router run on the same messages in clear says what the
    router's sealing check costs. False: plaintext only, the router in its transitional mode."""
    began = time.perf_counter()
    with scratch_vhost(settings, "bench") as scratch, tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        participants = Participants.of(PARTICIPANTS, scratch.user_prefix)
        report = provision(scratch, participants)
        dep = Deployment(scratch, participants, dict(report.created))
        bodies = sealed_bodies(PARTICIPANTS, workdir) if sealed else PLAINTEXT
        sealing_started = time.process_time()
        sample = [bodies.wire(mix_message(n)[0]) for n in range(messages)]
        seal_us = (time.process_time() - sealing_started) / messages * 1e6 if sealed else None
        _progress(f"limit: bare py-amqp forwarder draining {messages} queued messages …")
        limit = measure_limit(dep, sample, BARE)
        _progress(f"limit: {limit.msgs_per_s:,.0f} msg/s; kombu forwarder, same messages …")
        kombu = measure_limit(dep, sample, KOMBU)
        purge(dep, [RAW_SOURCE, RAW_TARGET])
        what = "sealed" if sealed else "plaintext"
        _progress(
            f"kombu forwarder: {kombu.msgs_per_s:,.0f} msg/s; router: the same {messages} {what} messages …"
        )
        router = measure_router(dep, messages, workdir, bodies)
        inboxes = _inbox_totals([r for *_, r in FLOWS], scratch.inbox_secret)
        purge(dep, [*sorted(inboxes), topology.TRACKER_QUEUE])
        plaintext = None
        if sealed:
            _progress(f"router: {router.msgs_per_s:,.0f} msg/s; again with the bodies in clear …")
            plaintext = measure_router(dep, messages, workdir)
            purge(dep, [*sorted(inboxes), topology.TRACKER_QUEUE])
        last = plaintext or router
        _progress(
            f"router: {last.msgs_per_s:,.0f} msg/s; latency: {rate:.0f} msg/s offered for {seconds:.0f} s …"
        )
        latencies, offered = measure_latency(dep, rate, seconds, workdir, bodies)
        _progress("latency of the bare forwarder at the same offered rate …")
        limit_latencies = measure_limit_latency(dep, rate, seconds, bodies)
    # the limit is the faster forwarder of this run (on a loaded machine either may win) and the
    # cheaper one's CPU, so the router is never measured against a slowed forwarder
    fastest = max(limit, kombu, key=lambda d: d.msgs_per_s)
    cpus = [d.cpu_us_per_msg for d in (limit, kombu) if d.cpu_us_per_msg is not None]
    return {
        "messages": messages,
        "sealed": sealed,
        "suite": "rb-intl-1" if sealed else None,
        "router_msgs_per_s": round(router.msgs_per_s, 1),
        "limit_msgs_per_s": round(fastest.msgs_per_s, 1),
        "limit_forwarder": "bare py-amqp" if fastest is limit else "kombu",
        "ratio": round(router.msgs_per_s / fastest.msgs_per_s, 3),
        "bare_forwarder_msgs_per_s": round(limit.msgs_per_s, 1),
        "bare_forwarder_cpu_us_per_msg": _round(limit.cpu_us_per_msg),
        "kombu_forwarder_msgs_per_s": round(kombu.msgs_per_s, 1),
        "ratio_to_kombu_forwarder": round(router.msgs_per_s / kombu.msgs_per_s, 3),
        "router_cpu_us_per_msg": _round(router.cpu_us_per_msg),
        "limit_cpu_us_per_msg": _round(min(cpus)) if cpus else None,
        "kombu_forwarder_cpu_us_per_msg": _round(kombu.cpu_us_per_msg),
        "offered_rate_msgs_per_s": rate,
        "latency_samples": len(latencies),
        "latency_offered": offered,
        "p50_ms": _ms(latencies, 0.5),
        "p99_ms": _ms(latencies, 0.99),
        "max_ms": round(max(latencies), 2) if latencies else None,
        "limit_p50_ms": _ms(limit_latencies, 0.5),
        "limit_p99_ms": _ms(limit_latencies, 0.99),
        "limit_latency_samples": len(limit_latencies),
        "seal_us_per_msg": _round(seal_us),
        "router_plaintext_msgs_per_s": None if plaintext is None else round(plaintext.msgs_per_s, 1),
        "router_plaintext_cpu_us_per_msg": None if plaintext is None else _round(plaintext.cpu_us_per_msg),
        "router_sealing_cpu_us_per_msg": _difference(router, plaintext),
        "peak_rss_mb": _round(router.peak_rss_mb),
        "limit_peak_rss_mb": _round(limit.peak_rss_mb),
        "cores": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "elapsed_s": round(time.perf_counter() - began, 1),
    }


def _difference(sealed: Drain, plaintext: Drain | None) -> float | None:
    """The router's CPU per message for sealed bodies beyond what the same messages in clear cost."""
    if plaintext is None or sealed.cpu_us_per_msg is None or plaintext.cpu_us_per_msg is None:
        return None
    return round(round(sealed.cpu_us_per_msg, 1) - round(plaintext.cpu_us_per_msg, 1), 1)  # as printed


def render(result: dict[str, Any]) -> str:
    r = result
    return "\n".join(
        [
            f"messages per run            {r['messages']:>8,}",
            f"bare py-amqp forwarder      {r['bare_forwarder_msgs_per_s']:>8,.0f} msg/s  "
            f"{r['bare_forwarder_cpu_us_per_msg']} µs CPU/msg  peak RSS {r['limit_peak_rss_mb']} MB",
            f"kombu + ConfirmedPublisher  {r['kombu_forwarder_msgs_per_s']:>8,.0f} msg/s  "
            f"{r['kombu_forwarder_cpu_us_per_msg']} µs CPU/msg",
            f"limit (faster forwarder)    {r['limit_msgs_per_s']:>8,.0f} msg/s  "
            f"{r['limit_cpu_us_per_msg']} µs CPU/msg (the cheaper)   {r['limit_forwarder']}",
            f"router, all checks on       {r['router_msgs_per_s']:>8,.0f} msg/s  "
            f"{r['router_cpu_us_per_msg']} µs CPU/msg  peak RSS {r['peak_rss_mb']} MB  "
            f"({'sealed bodies, ' + str(r['suite']) if r['sealed'] else 'bodies in clear'})",
            *_sealing_lines(r),
            f"ratio router / limit        {r['ratio']:>8.3f}   "
            f"(router / kombu forwarder {r['ratio_to_kombu_forwarder']:.3f})",
            f"latency at {r['offered_rate_msgs_per_s']:.0f} msg/s offered: router p50 {r['p50_ms']} ms, "
            f"p99 {r['p99_ms']} ms, max {r['max_ms']} ms ({r['latency_samples']} copies); "
            f"bare forwarder p50 {r['limit_p50_ms']} ms, p99 {r['limit_p99_ms']} ms",
            f"load average (1 min) at the end {r['load_average_1m']} on {r['cores']} cores; "
            f"{r['elapsed_s']:.0f} s in all",
        ]
    )


def _sealing_lines(r: dict[str, Any]) -> list[str]:
    if not r["sealed"]:
        return []
    return [
        f"router, same bodies in clear {r['router_plaintext_msgs_per_s']:>7,.0f} msg/s  "
        f"{r['router_plaintext_cpu_us_per_msg']} µs CPU/msg: the router's sealing check costs "
        f"{r['router_sealing_cpu_us_per_msg']} µs CPU/msg",
        f"sealing, the senders' side  {r['seal_us_per_msg']:>8} µs CPU/msg (seal for the recipients, sign)",
    ]
