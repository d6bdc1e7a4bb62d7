"""Reading queues as an administrator, for assertions."""

from __future__ import annotations

import time
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
