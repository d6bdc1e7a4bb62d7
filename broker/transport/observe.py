"""What the operator console reads from the broker: the routing log, followed in a thread, and the
depth and consumers of the queues whose health it shows (pika).

The routing log is a topic exchange, not a stream: like `tail`, the console binds a server-named,
exclusive queue to it (the operator's user may declare only those), so it sees the records
published from the moment it is bound. Records are handed on as parsed JSON; a record that is not
JSON is skipped, since the console shows only what it can read.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pika
import pika.exceptions

from broker.transport import topology
from broker.transport.client import connection_parameters

BROKER_ERRORS: tuple[type[Exception], ...] = (pika.exceptions.AMQPError, OSError)
"""What a look at the broker raises when the broker is unreachable or closes on it."""

RETRY_S = 2.0
"""Pause between attempts to reach the broker again after the follower lost its connection."""

WATCHED_QUEUES = (
    topology.ROUTER_QUEUE,
    topology.TRACKER_QUEUE,
    topology.QUARANTINE,
    topology.DEAD_LETTER_QUEUE,
    topology.UNROUTABLE,
)
"""The queues the console's health page shows, in its order."""


def watched_queues(router_shards: int = 1) -> tuple[str, ...]:
    """WATCHED_QUEUES with each router shard's queue after rb.router.inbound."""
    return (*topology.router_queues(router_shards), *WATCHED_QUEUES[1:])


class RoutingLogFollower:
    """Calls `on_record` with every record on rb.routing-log, from a daemon thread, until stopped;
    reconnects by itself. `bound` is set once the queue is bound (and again after a reconnect)."""

    def __init__(self, url: str, on_record: Callable[[dict[str, Any]], None]) -> None:
        self.url = url
        self.on_record = on_record
        self.bound = threading.Event()
        self.last_error: str | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="routing-log", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._follow()
            except BROKER_ERRORS as exc:
                self.bound.clear()
                self.last_error = f"{type(exc).__name__}: {str(exc)[:200]}"
                self._stopping.wait(RETRY_S)

    def _follow(self) -> None:
        connection = pika.BlockingConnection(connection_parameters(self.url))
        try:
            channel = connection.channel()
            queue = channel.queue_declare("", exclusive=True, auto_delete=True).method.queue
            channel.queue_bind(queue, topology.ROUTING_LOG, routing_key="#")
            self.last_error = None
            self.bound.set()
            for method, _properties, body in channel.consume(queue, auto_ack=True, inactivity_timeout=0.5):
                if self._stopping.is_set():
                    break
                if method is None:
                    continue
                try:
                    record = json.loads(body)
                except ValueError:
                    continue
                if isinstance(record, dict):
                    self.on_record(record)
        finally:
            if connection.is_open:
                connection.close()


@dataclass(frozen=True)
class QueueState:
    name: str
    messages: int | None
    """None when the queue could not be looked at (`error` says why)."""
    consumers: int | None
    error: str | None = None


def queue_states(url: str, names: tuple[str, ...] = WATCHED_QUEUES) -> list[QueueState]:
    """Depth and consumer count of each queue, by passive declare (which needs no permission)."""
    out: list[QueueState] = []
    try:
        connection = pika.BlockingConnection(connection_parameters(url))
    except BROKER_ERRORS as exc:
        return [QueueState(n, None, None, f"broker unreachable ({type(exc).__name__})") for n in names]
    try:
        for name in names:
            channel = connection.channel()
            try:
                ok = channel.queue_declare(name, passive=True).method
                out.append(QueueState(name, int(ok.message_count), int(ok.consumer_count)))
                channel.close()
            except pika.exceptions.ChannelClosedByBroker as exc:
                out.append(QueueState(name, None, None, f"{exc.reply_code} {exc.reply_text[:120]}"))
    finally:
        if connection.is_open:
            connection.close()
    return out


def wait_bound(follower: RoutingLogFollower, timeout: float) -> bool:
    """True once the follower is bound; False after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if follower.bound.wait(0.1):
            return True
    return follower.bound.is_set()
