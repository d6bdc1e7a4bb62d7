"""`referral-broker bench --parts`: the CPU of each part of the router's work per message, alone.

cProfile inflates every Python call, and the whole router's CPU per message moves by a tenth from
one run to the next on a shared machine; a part timed alone, on the same messages as the bench's
mix, says what a change to it saved. Each part runs over the same N messages, timed by the
process's CPU clock (time.process_time):

- contract: the bytes to a checked message (broker/domain/validation.py `parse_message`);
- decide: the routing decision (broker/domain/routing.py `decide`, an in-memory index);
- record: the decision record built, serialized and read back for the log line, as
  broker/router/outputs.py does;
- log line: the router's count and routing-log line (broker/router/counting.py), rendered and
  checked for personal data (broker/logs.py), written to memory;
- memory: the router's SQLite memory for batches of the router's prefetch (seen, begin, confirmed),
  on a new database or, with `memory_rows`, on one that already remembers that many messages (a
  router's memory keeps 400 days of them, and its writes grow with it);
- publish: one ConfirmedPublisher publish of the message's bytes to a quorum queue, its confirm
  read (a scratch vhost on the broker in RB_AMQP_URL), per publish; the router makes 2.25 a message
  on this mix;
- read: one delivery of those messages read from that queue as the router reads its input (a
  consuming connection's frame handler and block reads, broker/transport/inbound.py; a window of
  the router's prefetch, acked a window at a time), per delivery.
"""

from __future__ import annotations

import gc
import io
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from kombu import Connection, Queue

from broker import logs
from broker.domain.address import Address
from broker.domain.decision_record import DecisionRecord
from broker.domain.jurisdictions import default_registry
from broker.domain.messages import Message
from broker.domain.routing import RoutingContext, RoutingDecision, decide
from broker.domain.routing_values import InMemoryRoutingMemory, RoutedRecord
from broker.domain.validation import parse_message
from broker.router.counting import Counters, count_and_log
from broker.router.outcomes import Route
from broker.router.service import DEFAULT_PREFETCH
from broker.settings import Settings
from broker.store.memory import SqlRoutingMemory
from broker.tools.bench.run import PARTICIPANTS, _progress, mix_message
from broker.tools.bench.sealed import PLAINTEXT
from broker.transport.confirms import ConfirmedPublisher
from broker.transport.inbound import TRANSPORT_OPTIONS, Delivery, consume, serve
from broker.transport.management import scratch_vhost

QUEUE = "rb.parts"
READ_TIMEOUT_S = 30.0
"""The longest wait for the next delivery while reading back what was published."""

PART_NAMES = ("contract", "decide", "record", "log line", "memory", "publish", "read")


def _cpu_us(work: Callable[[], object], count: int) -> float:
    """CPU µs per item of `work`, with what was made before it frozen, as `route` freezes what
    start-up made (the collector would otherwise walk the bench's own inputs on every pass)."""
    gc.collect()
    gc.freeze()
    try:
        started = time.process_time()
        work()
        return (time.process_time() - started) / count * 1e6
    finally:
        gc.unfreeze()


def _each(function: Callable[..., object], arguments: list[tuple[Any, ...]]) -> Callable[[], None]:
    """Calls `function` with each tuple of arguments, keeping no result, as the router keeps none."""

    def work() -> None:
        for each in arguments:
            function(*each)

    return work


def run_parts(settings: Settings, messages: int = 10_000, memory_rows: int = 0) -> dict[str, Any]:
    raws = [PLAINTEXT.wire(mix_message(n)[0]) for n in range(messages)]
    checked = [parse_message(raw) for raw in raws]
    participants = frozenset(Address.parse(a) for a in PARTICIPANTS)
    context = RoutingContext(default_registry(), participants, InMemoryRoutingMemory())
    decisions = [decide(m, context) for m in checked]
    now = datetime.now(UTC)
    pairs = list(zip(checked, decisions, strict=True))
    records = [_record(m, d, now) for m, d in pairs]
    routes = [
        Route(m, d, "digest", b"", frozenset(x.recipient for x in d.deliveries), True) for m, d in pairs
    ]
    figures = {
        "contract": _cpu_us(_each(parse_message, [(raw,) for raw in raws]), messages),
        "decide": _cpu_us(_each(decide, [(m, context) for m in checked]), messages),
        "record": _cpu_us(_each(_record, [(m, d, now) for m, d in pairs]), messages),
        "log line": _log_lines(routes, records),
    }
    figures["memory"], db_mb = _memory(pairs, memory_rows)
    figures.update(_publishes_and_reads(settings, raws))
    return {
        "parts_messages": messages,
        "memory_rows": memory_rows,
        "memory_db_mb": round(db_mb, 1),
        **{f"{k.replace(' ', '_')}_us_per_msg": round(v, 1) for k, v in figures.items()},
    }


def _record(message: Message, decision: RoutingDecision, now: datetime) -> dict[str, Any]:
    """As broker/router/outputs.py: built, serialized (what is published), read back (for the line)."""
    parsed: dict[str, Any] = orjson.loads(DecisionRecord.of(message, decision, now, 12.5).wire_bytes())
    return parsed


def _log_lines(routes: list[Route], records: list[dict[str, Any]]) -> float:
    counters = Counters()
    logs.configure("INFO", io.StringIO())
    try:
        lines = [(counters, o, r, 12.5, DEFAULT_PREFETCH) for o, r in zip(routes, records, strict=True)]
        return _cpu_us(_each(count_and_log, lines), len(lines))
    finally:
        logs.configure("INFO")


def _memory(pairs: list[Any], rows: int = 0) -> tuple[float, float]:
    """The memory part's CPU per message, and the database's size on disk once it is closed (its
    WAL checkpointed into its file), which says what each remembered message takes."""
    with tempfile.TemporaryDirectory() as tmp:
        memory = SqlRoutingMemory(f"sqlite:///{Path(tmp) / 'parts.sqlite3'}")
        _remember(memory, [RoutedRecord.of(m, d) for m, d in pairs], rows)
        batches = [pairs[i : i + DEFAULT_PREFETCH] for i in range(0, len(pairs), DEFAULT_PREFETCH)]

        def work() -> None:
            for batch in batches:
                kept = [(RoutedRecord.of(m, d), str(m.envelope.message_id)) for m, d in batch]
                ids = [r.message_id for r, _ in kept]
                memory.seen(ids)
                memory.begin(kept)
                memory.confirmed({r.message_id: [a for a, _ in r.deliveries] for r, _ in kept}, set(ids))

        try:
            cpu = _cpu_us(work, len(pairs))
        finally:
            memory.close()
        on_disk = sum(f.stat().st_size for f in Path(tmp).iterdir())
        return cpu, on_disk / 1e6


def _remember(memory: SqlRoutingMemory, like: list[RoutedRecord], rows: int) -> None:
    """Fill the memory with `rows` routed messages like `like` (new ids, case ids of their own), in
    batches of the router's prefetch, saying how far it got every tenth of the way."""
    done, report = 0, rows / 10
    while done < rows:
        batch = [
            (replace(r, message_id=uuid.uuid4(), case_id=f"{r.case_id[:50]}-{done + i}"), "prefill")
            for i, r in enumerate(
                like[(done + k) % len(like)] for k in range(min(DEFAULT_PREFETCH, rows - done))
            )
        ]
        memory.begin(batch)
        memory.confirmed({}, {r.message_id for r, _ in batch})
        done += len(batch)
        if done >= report:
            _progress(f"parts: the memory remembers {done:,} of {rows:,} messages …")
            report += rows / 10


def _publishes_and_reads(settings: Settings, raws: list[bytes]) -> dict[str, float]:
    with scratch_vhost(settings, "parts") as scratch, Connection(scratch.amqp_url) as conn:
        queue = Queue(QUEUE, durable=True, queue_arguments={"x-queue-type": "quorum"})
        queue.bind(conn.channel()).declare()
        publisher = ConfirmedPublisher(conn, conn.channel())
        headers = {"x-sender": "bureau:330681", "x-kind": "case_notice", "x-rule": "vertical.addressed"}

        def work() -> None:
            for i, raw in enumerate(raws):
                publisher.publish(
                    (i, ""),
                    raw,
                    "",
                    QUEUE,
                    delivery_mode=2,
                    content_type="application/json",
                    message_id=f"{i:08d}-0000-4000-8000-000000000000",
                    application_headers=headers,
                )
                if i % DEFAULT_PREFETCH == DEFAULT_PREFETCH - 1:
                    publisher.wait()
            publisher.wait()

        published = _cpu_us(work, len(raws))
        return {"publish": published, "read": _reads(scratch.amqp_url, len(raws))}


def _reads(url: str, count: int) -> float:
    """CPU µs per delivery of draining `count` deliveries from QUEUE as the router's input is read."""
    with Connection(url, transport_options=TRANSPORT_OPTIONS) as conn:
        conn.connect()
        channel = conn.channel()
        channel.basic_qos(0, DEFAULT_PREFETCH, False)
        got: list[Delivery] = []

        def on_delivery(delivery: Delivery) -> None:
            got.append(delivery)
            if len(got) % DEFAULT_PREFETCH == 0 or len(got) == count:
                delivery.ack(multiple=True)

        consume(channel, QUEUE, on_delivery)

        def work() -> None:
            while len(got) < count:
                if not serve(conn, READ_TIMEOUT_S):
                    raise RuntimeError(f"bench --parts: {count - len(got)} deliveries did not arrive")

        return _cpu_us(work, count)


def render_parts(result: dict[str, Any]) -> str:
    lines = [
        f"CPU per message of each part, alone, over {result['parts_messages']:,} messages of the bench's mix"
        + (f" (the memory already holding {result['memory_rows']:,})" if result.get("memory_rows") else "")
    ]
    for name in PART_NAMES:
        lines.append(f"  {name:<10} {result[name.replace(' ', '_') + '_us_per_msg']:>8.1f} µs")
    lines.append(f"  the memory's database: {result['memory_db_mb']:,.1f} MB on disk after its part")
    return "\n".join(lines)
