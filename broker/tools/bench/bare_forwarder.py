"""A forwarder for the limit with the router's guarantees, on py-amqp directly (no kombu, none of
the project's layers); the bench takes the faster of it and the kombu one as the limit.

It consumes a quorum queue with a window of PREFETCH unacked inputs, publishes each body unchanged
to another queue (what has arrived, together) with streamed publisher confirms on a second
channel, and acknowledges inputs (one `multiple` ack) only up to the oldest publish not yet
confirmed: nothing is acked before its output is confirmed. A nack stops it (a benchmark must not
hide a loss). It reads frames in blocks, as the router's consuming connections do
(broker/transport/readahead.py, the one piece of the project it takes: a limit must be as fast as
what it measures against).
`referral-broker bench` runs it as a subprocess; SIGTERM stops it.
"""

from __future__ import annotations

import signal
import sys
from collections import deque
from urllib.parse import unquote, urlsplit

import amqp

from broker.transport.readahead import read_ahead

PREFETCH = 200
"""Unacked inputs in flight: it bounds the confirms outstanding, as the router's prefetch does."""


class Nacked(RuntimeError):
    pass


def connect(url: str) -> amqp.Connection:
    parts = urlsplit(url)
    connection = amqp.Connection(
        host=f"{parts.hostname or '127.0.0.1'}:{parts.port or 5672}",
        userid=unquote(parts.username or "guest"),
        password=unquote(parts.password or "guest"),
        virtual_host=unquote(parts.path[1:]) or "/",
        heartbeat=0,
    )
    # without connection.blocked, py-amqp's publish does not poll the socket before each frame
    connection.negotiate_capabilities = {
        **amqp.Connection.negotiate_capabilities,
        "connection.blocked": False,
    }
    connection.connect()
    read_ahead(connection.transport)
    return connection


class Forwarder:
    def __init__(self, connection: amqp.Connection, source: str, target: str) -> None:
        self.target = target
        self.consume = connection.channel()
        self.consume.basic_qos(0, PREFETCH, False)
        self.publish = connection.channel()
        self.publish.confirm_select()
        self.publish.events["basic_ack"].add(self._on_ack)
        self.publish.events["basic_nack"].add(self._on_nack)
        self._sequence = 0
        self._outstanding: dict[int, int] = {}  # publish sequence -> input delivery tag
        self._last_tag = 0
        self._acked_upto = 0
        self.forwarded = 0
        self.pending: deque[amqp.Message] = deque()
        self.consume.basic_consume(source, callback=self._on_message, no_ack=False)

    def _on_message(self, message: amqp.Message) -> None:
        self.pending.append(message)  # published from the loop: py-amqp's publish reads frames too

    def forward_pending(self) -> None:
        while self.pending:
            message = self.pending.popleft()
            out = amqp.Message(message.body, delivery_mode=2, content_type="application/json")
            self._sequence += 1
            self._last_tag = int(message.delivery_tag)
            self._outstanding[self._sequence] = self._last_tag
            self.publish.basic_publish(out, exchange="", routing_key=self.target)

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        if multiple:
            for sequence in [s for s in self._outstanding if s <= delivery_tag]:
                del self._outstanding[sequence]
        else:
            self._outstanding.pop(delivery_tag, None)
        # inputs and publishes are 1:1 and in order: every input before the oldest unconfirmed is done
        upto = self._outstanding[min(self._outstanding)] - 1 if self._outstanding else self._last_tag
        if upto > self._acked_upto:
            self.consume.basic_ack(upto, multiple=True)
            self.forwarded += upto - self._acked_upto
            self._acked_upto = upto

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        raise Nacked(f"publish {delivery_tag} nacked by the broker")


def main(argv: list[str] | None = None) -> int:
    url, source, target = (argv or sys.argv[1:])[:3]
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    connection = connect(url)
    forwarder = Forwarder(connection, source, target)
    while not stopping:
        try:
            connection.drain_events(timeout=0.2)
            while len(forwarder.pending) < PREFETCH:  # read what has arrived, then publish it together
                connection.drain_events(timeout=0)
        except TimeoutError:
            pass
        forwarder.forward_pending()
    connection.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
