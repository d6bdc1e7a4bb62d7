"""The administrator's view of a vhost for the demo: the routing log, queue depths, inbox contents.

The demo connects as the admin user of RB_AMQP_URL here, never as a participant.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

import pika
import pika.exceptions

from broker.domain.address import Address
from broker.participants import SYSTEM
from broker.transport import topology
from broker.transport.client import connection_parameters

AUDIT_QUEUE = "rb.demo.audit"
"""A queue bound to rb.routing-log with key '#' before anything is routed: every decision record."""


def _connect(url: str) -> Any:
    return pika.BlockingConnection(connection_parameters(url))


def declare_audit_queue(url: str) -> None:
    connection = _connect(url)
    try:
        channel = connection.channel()
        channel.queue_declare(AUDIT_QUEUE, durable=True, arguments={"x-queue-type": "classic"})
        channel.queue_bind(AUDIT_QUEUE, topology.ROUTING_LOG, "#")
    finally:
        connection.close()


def depths(url: str, queues: Iterable[str]) -> dict[str, int]:
    """Ready messages in each queue."""
    connection = _connect(url)
    try:
        channel = connection.channel()
        return {q: int(channel.queue_declare(q, passive=True).method.message_count) for q in queues}
    finally:
        connection.close()


class LogTap:
    """Consumes the audit queue in a thread; poll() hands over the records received so far."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.received = 0
        self._records: queue.Queue[dict[str, Any]] = queue.Queue()
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="demo-log-tap", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def poll(self) -> list[dict[str, Any]]:
        if self._error is not None:
            raise RuntimeError("the routing-log tap failed") from self._error
        out = []
        while True:
            try:
                out.append(self._records.get_nowait())
            except queue.Empty:
                return out

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                self._consume()
                return
            except pika.exceptions.AMQPError as exc:  # the broker went away: reconnect, records wait
                failures += 1
                if failures > 30:
                    self._error = exc
                    return
                time.sleep(1.0)
            except BaseException as exc:  # handed to the main thread by poll()
                self._error = exc
                return

    def _consume(self) -> None:
        connection = _connect(self.url)
        try:
            channel = connection.channel()
            channel.basic_qos(prefetch_count=1000)
            for method, _, body in channel.consume(AUDIT_QUEUE, inactivity_timeout=0.1):
                if self._stop.is_set():
                    break
                if method is None:
                    continue
                self._records.put(json.loads(body))
                self.received += 1
                channel.basic_ack(method.delivery_tag)
            channel.cancel()
        finally:
            if connection.is_open:
                connection.close()


def read_inboxes(
    url: str, addresses: Iterable[Address], secret: str, bodies: Counter[str] | None = None
) -> Counter[tuple[str, str]]:
    """(message id, address) of every copy in these inboxes. Nothing is removed: each message is
    read without an ack and handed back when the channel closes (a kept vhost keeps its inboxes).
    `bodies`, when given, counts the copies by body: `sealed`, or `clear` (from a participant) and
    `broker` (a notice the broker itself wrote, never sealed)."""
    found: Counter[tuple[str, str]] = Counter()
    connection = _connect(url)
    try:
        for address in addresses:
            channel = connection.channel()
            name = topology.inbox_name(address, secret)
            count = int(channel.queue_declare(name, passive=True).method.message_count)
            got = 0
            if count:
                for method, props, body in channel.consume(name, inactivity_timeout=2.0):
                    if method is None:
                        break
                    found[(str(props.message_id), str(address))] += 1
                    if bodies is not None:
                        bodies[_body_form(body, props.headers or {})] += 1
                    got += 1
                    if got >= count:
                        break
                channel.cancel()
            channel.close()
    finally:
        connection.close()
    return found


def _body_form(body: bytes, headers: dict[str, object]) -> str:
    if headers.get("x-sender") == str(SYSTEM):
        return "broker"
    try:
        sealed = "sealed" in json.loads(body)
    except (ValueError, TypeError):
        sealed = False
    return "sealed" if sealed else "clear"
