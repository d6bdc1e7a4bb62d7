"""Reading queues as an administrator, for assertions."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from kombu import Connection, Queue

from broker.settings import Settings


def drain(settings: Settings, queue: str, expect: int | None = None, timeout: float = 10.0) -> list[Any]:
    """Take every message from a queue (acking them); wait until `expect` arrived or timeout."""
    got: list[Any] = []
    deadline = time.monotonic() + timeout
    with Connection(settings.amqp_url) as conn, conn.channel() as channel:
        bound = Queue(queue, no_declare=True).bind(channel)
        while True:
            message = bound.get(no_ack=True)
            if message is not None:
                got.append(message)
                continue
            if expect is None or len(got) >= expect or time.monotonic() > deadline:
                return got
            time.sleep(0.05)


def drain_ids(url: str, queue: str, idle_s: float = 2.0) -> list[str]:
    """Every message id in a queue, consumed quickly (prefetch) and acked; duplicates kept."""
    import pika

    ids: list[str] = []
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.basic_qos(prefetch_count=500)
    for method, props, _ in channel.consume(queue, inactivity_timeout=idle_s):
        if method is None:
            break
        ids.append(props.message_id)
        channel.basic_ack(method.delivery_tag)
    channel.cancel()
    connection.close()
    return ids


def queue_depth(url: str, queue: str) -> int:
    return _queue_counts(url, queue)[0]


def queue_consumers(url: str, queue: str) -> int:
    return _queue_counts(url, queue)[1]


def _queue_counts(url: str, queue: str) -> tuple[int, int]:
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        ok = connection.channel().queue_declare(queue, passive=True).method
        return int(ok.message_count), int(ok.consumer_count)
    finally:
        connection.close()


@contextmanager
def routing_log_tap(settings: Settings, pattern: str) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """A server-named queue bound to rb.routing-log by `pattern`, for as long as the block runs.
    Yields `take`: each call adds the records that arrived since to one list and returns it."""
    import pika

    from broker.transport import topology

    connection = pika.BlockingConnection(pika.URLParameters(settings.amqp_url))
    try:
        channel = connection.channel()
        tap = channel.queue_declare("", exclusive=True).method.queue
        channel.queue_bind(tap, topology.ROUTING_LOG, pattern)
        records: list[dict[str, Any]] = []

        def take() -> list[dict[str, Any]]:
            while True:
                method, _, body = channel.basic_get(tap, auto_ack=True)
                if method is None:
                    return records
                records.append(json.loads(body))

        yield take
    finally:
        connection.close()
