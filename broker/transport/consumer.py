"""The one consumer loop of the workers (the router and the tracker), after kombu's
`ConsumerMixin`: connect, consume raw deliveries, hand them to a handler in batches of whatever has
arrived (up to `batch`), and keep running through the broker going away (reconnect.keep_running)
and alarms (BlockedWatch). One connection consumes and publishes with confirms (a second channel),
so a worker has one set of errors: a lost connection ends the session, its unacked input comes
back, and the loop reconnects.

The handler's hooks: `on_session` (a session is up), `handle_batch`, `handle_alone` (the lone
delivery isolation ends on), and, given to the loop, `on_turn` (after every turn, with whether the
turn found nothing to do: the tracker's deadline scans).

Two states of its own, besides the connection:
- held inputs: ones the handler could not settle yet (the broker refused their outputs), kept
  unacked on the channel and put back in line after `hold_s`;
- isolation: after a batch failed with an error that is neither the broker's nor the database's (a
  bug some input triggers), the batch is handed back and deliveries are taken one at a time until
  `isolation_deliveries` have been handled, so the input that caused it fails alone (the handler
  settles it alone) and its innocent neighbours are redelivered once, never up to the delivery limit.
"""

from __future__ import annotations

import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

import structlog
from kombu import Connection

from broker.settings import failover_url
from broker.transport.blocking import BlockedWatch
from broker.transport.confirms import ConfirmedPublisher
from broker.transport.inbound import TRANSPORT_OPTIONS, Delivery, consume, serve
from broker.transport.reconnect import is_authentication_error, is_infrastructure_error, keep_running
from broker.transport.tls import kombu_options


class BatchHandler(Protocol):
    def on_session(self) -> None:
        """A broker session is up (the first, or one after a reconnect)."""

    def handle_batch(
        self, batch: list[Delivery], publisher: ConfirmedPublisher, holding: bool
    ) -> list[Delivery]:
        """Handle and settle a batch; returns the deliveries to hold and retry later. `holding`:
        earlier deliveries are held unacked on the same channel."""

    def handle_alone(self, delivery: Delivery, publisher: ConfirmedPublisher, error: BaseException) -> None:
        """Settle the lone delivery a batch of one failed on, so it cannot fail again."""


Turn = Callable[[ConfirmedPublisher, bool], None]
"""Called after every turn of the loop with the session's publisher and whether the turn found
nothing to do (no input in hand and none came while serving the connection)."""

HEARTBEAT_S = 30


def unless_login_refused(error: BaseException) -> bool:
    """The router's retry rule: every error that ends a session is retried, except a refused login
    or vhost (an error some input causes is isolated inside the session and never ends it)."""
    return not is_authentication_error(error)


class BatchConsumer:
    def __init__(
        self,
        amqp_url: str,
        queue: str,
        handler: BatchHandler,
        prefetch: int,
        hold_s: float,
        isolation_deliveries: int,
        log: Any = None,
        *,
        batch: int | None = None,
        poll_s: float = 0.5,
        on_turn: Turn | None = None,
        retryable: Callable[[BaseException], bool] = unless_login_refused,
    ) -> None:
        """`amqp_url`: one address or several (RB_AMQP_URL), tried in order at each connect;
        `batch`: the largest batch (the prefetch when not given); `poll_s`: the longest wait for
        input between two turns; `retryable`: which errors that end a session are reconnected
        after (any other is raised by run())."""
        self.amqp_url = amqp_url
        self.queue = queue
        self.handler = handler
        self.prefetch = prefetch
        self.batch = batch or prefetch
        self.poll_s = poll_s
        self.on_turn = on_turn
        self.retryable = retryable
        self.hold_s = hold_s
        self.isolation_deliveries = isolation_deliveries
        self.log = log or structlog.get_logger("referral_broker.consumer")
        self.stopping = threading.Event()
        self._conn: Any = None
        self._pending: deque[Delivery] = deque()
        self._held: list[tuple[float, Delivery]] = []
        """Held deliveries with the monotonic time they go back in line. Requeueing them would
        count against the input queue's delivery limit and dead-letter them, and would put them
        back in front of everyone else's messages."""
        self._isolating = 0
        """Deliveries still to take one at a time."""

    def run(self) -> None:
        """Consume until stop() is called, reconnecting with backoff when the broker goes away. No
        input ends it: an error that is not the broker's or the database's restarts the batch with
        the input isolated."""
        keep_running(self._session, self.stopping, self.retryable)

    def stop(self) -> None:
        self.stopping.set()

    def keepalive(self, seconds: float) -> None:
        """Serve the broker connection (heartbeats, confirms, deliveries) while waiting for
        something else, such as a database that is away."""
        serve(self._conn, seconds)

    def _session(self, connected: Callable[[], None]) -> None:
        self._pending.clear()
        self._held.clear()  # unacked on the old channel: the broker hands them back
        watch = BlockedWatch()  # an alarm is waited out on this connection, not reconnected around
        with Connection(
            failover_url(self.amqp_url),
            heartbeat=HEARTBEAT_S,
            transport_options=watch.transport_options(TRANSPORT_OPTIONS),
            **kombu_options(self.amqp_url),  # amqps: verified TLS, certificate or password login
        ) as conn:
            conn.connect()
            connected()
            self.handler.on_session()
            self._conn = conn
            consume_channel = conn.channel()
            consume_channel.basic_qos(0, 1 if self._isolating else self.prefetch, False)
            publisher = ConfirmedPublisher(conn, conn.channel(), watch)
            # Deliveries only queue up in the callback; they are handled here, outside it, since
            # waiting for confirms dispatches more deliveries.
            consume(consume_channel, self.queue, self._pending.append)
            while not self.stopping.is_set():
                self._release_held()
                if self._pending:
                    size = 1 if self._isolating else self.batch
                    batch = [self._pending.popleft() for _ in range(min(len(self._pending), size))]
                    self._handle_guarded(batch, publisher, consume_channel)
                    connected()  # a session that did work ends its outage's backoff
                    caught_up = False
                else:
                    caught_up = not serve(conn, 0.1 if self._held else self.poll_s)
                if self.on_turn is not None:
                    self.on_turn(publisher, caught_up)
            self.log.info("stopped", handed_back=len(self._pending) + len(self._held))

    def _handle_guarded(self, batch: list[Delivery], publisher: ConfirmedPublisher, channel: Any) -> None:
        """Handle a batch; a failure that is not the broker's or the database's costs one input."""
        try:
            held = self.handler.handle_batch(batch, publisher, holding=bool(self._held))
        except Exception as error:
            if is_infrastructure_error(error):
                raise  # reconnect: unacked input comes back by itself
            publisher.wait()  # settle what the failed attempt published, so no stale confirm remains
            if self._isolating and len(batch) == 1:
                self.handler.handle_alone(batch[0], publisher, error)
            else:
                self._isolate(batch, channel)
            return
        retry_at = time.monotonic() + self.hold_s
        self._held.extend((retry_at, delivery) for delivery in held)
        if self._isolating:
            self._isolating = max(0, self._isolating - len(batch))
            if not self._isolating:
                channel.basic_qos(0, self.prefetch, False)
                self.log.info("isolation over; full prefetch again", prefetch=self.prefetch)

    def _isolate(self, batch: list[Delivery], channel: Any) -> None:
        self.log.exception("router error on a batch; handing it back and isolating", batch=len(batch))
        for delivery in [*batch, *self._pending]:  # back in queue order
            delivery.reject(requeue=True)
        self._pending.clear()
        channel.basic_qos(0, 1, False)
        self._isolating = self.isolation_deliveries

    def _release_held(self) -> None:
        """Put held deliveries whose retry time has come back in line, oldest first."""
        if not self._held:
            return
        now = time.monotonic()
        due = [d for at, d in self._held if at <= now]
        if due:
            self._held = [(at, d) for at, d in self._held if at > now]
            self._pending.extendleft(reversed(due))


class Worker:
    """A worker process around its consumer loop: run it, stop it, and stop it on SIGTERM or SIGINT
    (the batch in hand is finished, the rest handed back unacked)."""

    consumer: BatchConsumer

    def run(self) -> None:
        self.consumer.run()

    def stop(self) -> None:
        self.consumer.stop()

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop())
