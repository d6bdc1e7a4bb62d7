"""What the cluster test watches from outside the router and the tracker: every decision record on
rb.routing-log, and every copy in every inbox. Each observer is one thread on one connection that
moves to the next node when its node dies, and acks only what it recorded, so a kill can make it
see a message twice (counted apart) but never miss one."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

from broker.transport import topology

TAP_QUEUE = "test.decision-tap"
"""The decision tap's queue: a quorum queue bound to everything on rb.routing-log, so it outlives
the death of any one node and hands over whatever it holds when the tap reconnects."""


def _connect(urls: list[str], turn: int) -> pika.BlockingConnection:
    """A connection to the first live node, starting `turn` nodes along the list."""
    start = turn % len(urls)
    ordered = urls[start:] + urls[:start]
    return pika.BlockingConnection([pika.URLParameters(u) for u in ordered])


class _Observer(threading.Thread):
    """Runs `_session` on a connection until stopped; after any failure, reconnects to the next node."""

    def __init__(self, urls: list[str], name: str) -> None:
        super().__init__(daemon=True, name=name)
        self.urls = urls
        self.reconnects = 0
        self.errors: Counter[str] = Counter()
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self.lock = threading.Lock()

    def run(self) -> None:
        turn = 0
        while not self._stopping.is_set():
            try:
                connection = _connect(self.urls, turn)
                try:
                    self._session(connection.channel(), connection)
                finally:
                    if connection.is_open:
                        connection.close()
            except Exception as exc:  # a node died under us, or was not up yet: the next one
                self.errors[type(exc).__name__] += 1
                self.reconnects += 1
                turn += 1
                time.sleep(0.2)

    def _session(self, channel: BlockingChannel, connection: pika.BlockingConnection) -> None:
        raise NotImplementedError

    def _serve(self, connection: pika.BlockingConnection, tick: Callable[[], None] | None = None) -> None:
        self._ready.set()
        while not self._stopping.is_set():
            connection.process_data_events(time_limit=0.2)
            if tick is not None:
                tick()

    def begin(self, timeout: float = 30.0) -> None:
        self.start()
        if not self._ready.wait(timeout):
            raise RuntimeError(f"{self.name} did not start: {dict(self.errors)}")

    def close(self) -> None:
        self._stopping.set()
        self.join(timeout=15)


@dataclass(frozen=True)
class Decision:
    event: str
    """routed or quarantined"""
    message_id: str
    kind: str | None
    sent_at: datetime | None
    routed_at: datetime | None
    seen: float
    """When the tap got it (monotonic)."""


def _time(text: Any) -> datetime | None:
    return datetime.fromisoformat(text) if isinstance(text, str) else None


class DecisionTap(_Observer):
    """Every decision record the router publishes, from a durable tap queue."""

    def __init__(self, urls: list[str]) -> None:
        super().__init__(urls, "decision-tap")
        self.decisions: list[Decision] = []

    def _session(self, channel: BlockingChannel, connection: pika.BlockingConnection) -> None:
        channel.queue_declare(TAP_QUEUE, durable=True, arguments={"x-queue-type": "quorum"})
        channel.queue_bind(TAP_QUEUE, topology.ROUTING_LOG, "#")
        channel.basic_qos(prefetch_count=1000)
        channel.basic_consume(TAP_QUEUE, self._record)
        self._serve(connection)

    def _record(self, channel: BlockingChannel, method: Any, _: Any, body: bytes) -> None:
        record = json.loads(body)
        decision = Decision(
            event=str(record.get("event")),
            message_id=str(record.get("message_id")),
            kind=record.get("kind"),
            sent_at=_time(record.get("sent_at")),
            routed_at=_time(record.get("routed_at")),
            seen=time.monotonic(),
        )
        with self.lock:
            self.decisions.append(decision)
        channel.basic_ack(method.delivery_tag)

    def snapshot(self) -> list[Decision]:
        with self.lock:
            return list(self.decisions)

    def routed_ids(self) -> set[str]:
        return {d.message_id for d in self.snapshot() if d.event == "routed"}

    def first_routed(self, *, routed_after: datetime, sent_after: datetime | None = None) -> datetime | None:
        """The router's time of its first decision made after `routed_after` (of an input sent
        after `sent_after`, when given)."""
        times = [
            d.routed_at
            for d in self.snapshot()
            if d.event == "routed"
            and d.routed_at is not None
            and d.routed_at > routed_after
            and (sent_after is None or (d.sent_at is not None and d.sent_at > sent_after))
        ]
        return min(times, default=None)


class InboxCollector(_Observer):
    """Consumes every participant's inbox as the administrator and records each copy; one inbox
    can be paused (its recipient away) so that it fills up to its length limit."""

    def __init__(self, urls: list[str], inboxes: dict[str, str]) -> None:
        super().__init__(urls, "inbox-collector")
        self.inboxes = inboxes
        """address -> inbox queue name"""
        self.copies: dict[str, Counter[str]] = {a: Counter() for a in inboxes}
        """address -> message id -> copies the router delivered (redeliveries to us not counted)"""
        self.paused: set[str] = set()
        self._tags: dict[str, str] = {}

    def _session(self, channel: BlockingChannel, connection: pika.BlockingConnection) -> None:
        self._tags.clear()
        channel.basic_qos(prefetch_count=500)

        def follow_pauses() -> None:
            with self.lock:
                paused = set(self.paused)
            for address, queue in self.inboxes.items():
                if address in paused and address in self._tags:
                    channel.basic_cancel(self._tags.pop(address))  # unacked ones go back to the queue
                elif address not in paused and address not in self._tags:
                    self._tags[address] = channel.basic_consume(
                        queue, lambda ch, m, p, b, a=address: self._record(ch, m, p, a)
                    )

        follow_pauses()
        self._serve(connection, follow_pauses)

    def _record(self, channel: BlockingChannel, method: Any, properties: Any, address: str) -> None:
        message_id = str(properties.message_id)
        with self.lock:
            copies = self.copies[address]
            if not (method.redelivered and copies[message_id]):  # our own redelivery after a reconnect
                copies[message_id] += 1
        channel.basic_ack(method.delivery_tag)

    def pause(self, address: str) -> None:
        with self.lock:
            self.paused.add(address)

    def resume(self, address: str) -> None:
        with self.lock:
            self.paused.discard(address)

    def seen(self, address: str) -> set[str]:
        with self.lock:
            return set(self.copies[address])

    def duplicates(self) -> int:
        with self.lock:
            return sum(n - 1 for copies in self.copies.values() for n in copies.values())


def queue_depth(urls: list[str], queue: str) -> int:
    """Ready messages in a queue, asked of the first live node (passive declare: no statistics lag)."""
    for turn in range(len(urls)):
        try:
            connection = _connect(urls, turn)
        except pika.exceptions.AMQPError:
            continue
        try:
            return int(connection.channel().queue_declare(queue, passive=True).method.message_count)
        except pika.exceptions.AMQPError:
            continue
        finally:
            if connection.is_open:
                connection.close()
    raise RuntimeError(f"no node answered for {queue}")
