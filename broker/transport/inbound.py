"""Consume a queue as raw deliveries: the exact bytes and the properties as decoded, nothing more.

kombu's `Consumer` wraps each delivery in a `kombu.Message`, which acts on what the publisher put in
the headers (a `compression` header makes it decompress the body, and a failed decompression is
raised inside `drain_events`); py-amqp's channels decode text bodies with the publisher's
`content_encoding` (`idna`, `utf-16`, ...). Workers that read participants' messages need neither:
they consume on the py-amqp channel directly, with `auto_decode` off, so the body is always the
bytes as published and no header or property the publisher chose can make the consumer raise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog

from broker.transport.frames import (
    PROBLEMS,
    TRANSPORT_FAULT_HEADER,
    Fault,
    parse_faults,
    tolerant_frame_handler,
)
from broker.transport.readahead import read_ahead

log = structlog.get_logger("referral_broker.inbound")


def inbound_frame_handler(connection: Any, callback: Callable[..., Any], **kwargs: Any) -> Callable[..., Any]:
    """py-amqp's frame handler for a connection that consumes what participants published: made
    tolerant of what they chose (frames.py), on a transport that reads in blocks (readahead.py).
    py-amqp makes it once per connection, just after the socket is connected, a failover's too."""
    read_ahead(connection.transport)
    return tolerant_frame_handler(connection, callback, **kwargs)


TRANSPORT_OPTIONS: dict[str, Any] = {"frame_handler": inbound_frame_handler}
"""kombu `transport_options` for every connection that consumes what participants published."""


@dataclass(frozen=True)
class Delivery:
    channel: Any
    delivery_tag: int
    body: bytes
    properties: dict[str, Any]
    redelivered: bool

    @classmethod
    def of(cls, message: Any) -> Delivery:
        """From py-amqp's message; its body is bytes, or '' when the message has none."""
        info = message.delivery_info
        return cls(
            channel=message.channel,
            delivery_tag=info["delivery_tag"],
            body=message.body.encode() if isinstance(message.body, str) else bytes(message.body),
            properties=dict(message.properties),
            redelivered=bool(info.get("redelivered")),
        )

    @property
    def headers(self) -> dict[str, Any]:
        headers = self.properties.get("application_headers")
        return headers if isinstance(headers, dict) else {}

    @property
    def transport_faults(self) -> list[Fault] | None:
        """What the frame handler had to drop from this delivery, or None when it arrived whole."""
        return parse_faults(self.headers.get(TRANSPORT_FAULT_HEADER))

    @property
    def transport_problems(self) -> list[tuple[str, str]] | None:
        """The transport faults in words (name, what was wrong), which hold none of the values."""
        faults = self.transport_faults
        return [(name, PROBLEMS[problem]) for name, problem in faults] if faults else None

    def ack(self, multiple: bool = False) -> None:
        self.channel.basic_ack(self.delivery_tag, multiple=multiple)

    def reject(self, requeue: bool = False) -> None:
        self.channel.basic_reject(self.delivery_tag, requeue=requeue)


def serve(connection: Any, timeout_s: float) -> bool:
    """Handle what the broker sends (deliveries, confirms, heartbeats) for up to `timeout_s`;
    when nothing came, send a heartbeat if one is due. Returns whether anything came."""
    try:
        connection.drain_events(timeout=timeout_s)
    except TimeoutError:
        connection.heartbeat_check()
        return False
    return True


def consume(channel: Any, queue: str, on_delivery: Callable[[Delivery], None]) -> str:
    """Start consuming `queue` (manual acks) on a py-amqp channel; returns the consumer tag.

    The callback runs inside `drain_events`, where an error would end the worker's session and
    hand back its whole prefetch window, with the same delivery first in line again: a delivery
    that cannot even be wrapped is dead-lettered on its own instead."""
    channel.auto_decode = False

    def on_message(message: Any) -> None:
        try:
            delivery = Delivery.of(message)
        except Exception:
            log.exception("delivery that cannot be read; dead-lettered", queue=queue)
            channel.basic_reject(message.delivery_info["delivery_tag"], requeue=False)
            return
        on_delivery(delivery)

    tag: str = channel.basic_consume(queue, callback=on_message)
    return tag
