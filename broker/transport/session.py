"""One broker session of a worker that consumes a queue and publishes with confirms on the same
connection: connect (TLS and login from the URL), consume raw deliveries (inbound.py) with a
prefetch window, and a ConfirmedPublisher on a second channel that waits out alarms (BlockedWatch).

One connection means one set of errors: a lost connection ends the session, its unacked input comes
back, and the caller reconnects (reconnect.keep_running).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from kombu import Connection

from broker.settings import failover_url
from broker.transport.blocking import BlockedWatch
from broker.transport.confirms import ConfirmedPublisher
from broker.transport.inbound import TRANSPORT_OPTIONS, Delivery, consume, serve
from broker.transport.tls import kombu_options, login_user

HEARTBEAT_S = 30


@dataclass(frozen=True)
class Session:
    connection: Any
    publisher: ConfirmedPublisher
    user: str
    """The user the session logged in as: what every publish must name in user_id."""

    def serve(self, timeout_s: float) -> bool:
        """Handle what the broker sends for up to `timeout_s`; returns whether anything came."""
        return serve(self.connection, timeout_s)


@contextmanager
def session(
    amqp_url: str, queue: str, prefetch: int, on_delivery: Callable[[Delivery], None]
) -> Iterator[Session]:
    """Connect to the first live address of `amqp_url` and consume `queue` (manual acks, at most
    `prefetch` unacked), calling `on_delivery` from inside `serve`; closed on leaving."""
    user = login_user(amqp_url)
    watch = BlockedWatch()  # an alarm is waited out on this connection, not reconnected around
    with Connection(
        failover_url(amqp_url),
        heartbeat=HEARTBEAT_S,
        transport_options=watch.transport_options(TRANSPORT_OPTIONS),
        **kombu_options(amqp_url),  # amqps: verified TLS, certificate or password login
    ) as conn:
        conn.connect()
        consume_channel = conn.channel()
        consume_channel.basic_qos(0, prefetch, False)
        publisher = ConfirmedPublisher(conn, conn.channel(), watch)
        consume(consume_channel, queue, on_delivery)
        yield Session(conn, publisher, user)
