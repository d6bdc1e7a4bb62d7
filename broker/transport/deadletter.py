"""Re-feed rb.dead-letter: `referral-broker dead-letter refeed [--limit N]`.

Inputs dead-lettered from the router's queue (a fault that was not theirs: a database outage that
returned them past the delivery limit) go back to rb.inbound, and decision records dead-lettered
from the tracker's queue back to rb.tracker.decisions. Each is published with a confirm before its
dead letter is acked, so a crash re-feeds at most a few twice, which the router and the tracker drop
as repeats (same message id). Properties and headers are kept as they are: the validated user_id of
the original sender too, which is why this runs as the router's user (the `impersonator` tag).
Dead letters of any other queue (an inbox's, whose consumer refused them) stay where they are.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pika
import pika.exceptions

from broker.transport import topology
from broker.transport.client import connection_parameters

HOME: dict[str, tuple[str, str]] = {
    topology.ROUTER_QUEUE: (topology.INBOUND_EXCHANGE, ""),
    topology.TRACKER_QUEUE: ("", topology.TRACKER_QUEUE),  # the default exchange, to that queue only
}
"""Where a dead letter of each queue is re-fed: (exchange, routing key)."""


def home(queue: str) -> tuple[str, str] | None:
    """Where a dead letter of `queue` is re-fed; a router shard's input goes back to that shard's
    queue (through the default exchange), so its case keeps its router."""
    if queue in HOME:
        return HOME[queue]
    return ("", queue) if topology.is_router_queue(queue) else None


class RefeedStopped(RuntimeError):
    """The broker refused a re-feed; what was re-fed so far is in `report`, the rest is untouched."""

    def __init__(self, message: str, report: RefeedReport) -> None:
        super().__init__(message)
        self.report = report


@dataclass
class RefeedReport:
    refed: Counter[str] = field(default_factory=Counter)
    """Dead letters re-fed, by the queue they died in."""
    left: int = 0
    """Dead letters of other queues, left in rb.dead-letter."""

    @property
    def total(self) -> int:
        return sum(self.refed.values())


def died_in(headers: dict[str, Any] | None) -> str | None:
    """The queue a dead letter first died in (RabbitMQ's x-first-death-queue, else x-death)."""
    headers = headers or {}
    queue = headers.get("x-first-death-queue")
    if queue is None and headers.get("x-death"):
        queue = headers["x-death"][-1].get("queue")  # x-death lists the latest death first
    return queue.decode() if isinstance(queue, bytes) else queue


def refeed(
    url: str, limit: int | None = None, progress: Callable[[RefeedReport], None] | None = None
) -> RefeedReport:
    """Re-feed up to `limit` dead letters (all that are there when it starts, by default)."""
    report = RefeedReport()
    connection = pika.BlockingConnection(connection_parameters(url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        waiting = channel.queue_declare(topology.DEAD_LETTER_QUEUE, passive=True).method.message_count
        # Each dead letter is looked at once: those left are held unacked until the channel closes
        # (then RabbitMQ puts them back), and later arrivals wait for the next run.
        for _ in range(waiting):
            if limit is not None and report.total >= limit:
                break
            method, properties, body = channel.basic_get(topology.DEAD_LETTER_QUEUE)
            if method is None:
                break
            origin = died_in(properties.headers)
            target = home(origin) if origin is not None else None
            if origin is None or target is None:
                report.left += 1
                continue
            exchange, routing_key = target
            try:
                channel.basic_publish(exchange, routing_key, body, properties, mandatory=True)
            except (pika.exceptions.NackError, pika.exceptions.UnroutableError) as exc:
                raise RefeedStopped(
                    f"the broker refused a re-feed to {exchange or routing_key} ({type(exc).__name__}); "
                    "it stays in rb.dead-letter",
                    report,
                ) from None
            channel.basic_ack(method.delivery_tag)
            report.refed[origin] += 1
            if progress is not None:
                progress(report)
    except pika.exceptions.ChannelClosedByBroker as exc:
        hint = " (run it as the router's user: it keeps each sender's user_id)"
        hint = hint if exc.reply_code == 406 else ""
        reason = f"{exc.reply_code} {exc.reply_text[:200]}"
        raise RefeedStopped(f"the broker closed the channel: {reason}{hint}", report) from None
    finally:
        if connection.is_open:
            connection.close()
    return report
