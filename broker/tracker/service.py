"""The tracker worker: consume rb.tracker.decisions, keep the obligations, send deadline notices.

Guarantees (broker/store/tracker/store.py says how):
- a decision record is acked only after the transaction that ingested it committed, so a tracker
  killed at any moment loses no obligation and no acknowledgement; a redelivered record is skipped;
- a record that is not a decision record is rejected to the dead-letter queue, with a log line;
- the scanner runs every scan interval while the consumer has caught up, and sends each notice once:
  claimed and recorded in one transaction, published with a confirm, then marked sent;
- lost connections are retried with backoff; SIGTERM finishes the batch in hand and exits.

One connection (broker/transport/session.py) consumes the records and publishes the notices to
rb.inbound as system:000000, so the router authenticates them and routes them like any message
(rule tracker.deadline_notice).
"""

from __future__ import annotations

import signal
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import structlog

from broker import metrics
from broker.store.outage import is_database_outage, ride_out_database
from broker.store.tracker.model import ClaimedNotice
from broker.store.tracker.store import DEFAULT_LEASE_S, TrackerStore
from broker.tracker.clock import Clock, SystemClock
from broker.tracker.record import Record, RecordError, parse_event
from broker.transport import topology
from broker.transport.confirms import ConfirmedPublisher
from broker.transport.reconnect import INFRASTRUCTURE_ERRORS, is_infrastructure_error, keep_running
from broker.transport.session import Session, session
from broker.transport.tls import login_user

log = structlog.get_logger("referral_broker.tracker")

DEFAULT_PREFETCH = 256
"""Unacked records the tracker holds; all return to the queue if it dies."""
DEFAULT_BATCH = 100
"""Records ingested in one transaction when a backlog is waiting."""


class Input(Protocol):
    """A delivered record: its bytes, settled once (inbound.Delivery)."""

    @property
    def body(self) -> bytes: ...

    def ack(self) -> None: ...

    def reject(self, requeue: bool = False) -> None: ...


class NoticeNotConfirmed(Exception):
    """The broker nacked a notice, or no queue took it; its claim lapses and it is sent again."""


class NoticePublisher(Protocol):
    def publish(self, payload: bytes, message_id: str) -> None:
        """Publish and wait for the broker's confirm; raise NoticeNotConfirmed when it is refused."""


class ConfirmedNotices:
    """Publishes each notice to rb.inbound as the session's user and waits for its confirm."""

    def __init__(self, confirms: ConfirmedPublisher, user: str) -> None:
        self.confirms = confirms
        self.user = user

    def publish(self, payload: bytes, message_id: str) -> None:
        self.confirms.publish(
            (0, message_id),
            payload,
            topology.INBOUND_EXCHANGE,
            "",
            mandatory=True,  # a notice no queue took is not sent
            content_type="application/json",
            content_encoding="utf-8",
            delivery_mode=2,
            message_id=message_id,
            user_id=self.user,
        )
        if self.confirms.wait():
            raise NoticeNotConfirmed(f"notice {message_id}: nacked or not routed by the broker")


PublisherFactory = Callable[[ConfirmedPublisher, str], NoticePublisher]
"""Makes the notice publisher of a session from its confirmed publisher and its user."""


@dataclass
class Counters:
    received: int = 0
    ingested: int = 0
    duplicates: int = 0
    rejected: int = 0
    obligations: int = 0
    closed: int = 0
    scans: int = 0
    notices: int = 0


class Tracker:
    def __init__(
        self,
        amqp_url: str,
        store: TrackerStore,
        clock: Clock | None = None,
        publisher: PublisherFactory = ConfirmedNotices,
        scan_interval_s: float = 30.0,
        prefetch: int = DEFAULT_PREFETCH,
        batch: int = DEFAULT_BATCH,
        lease_s: float = DEFAULT_LEASE_S,
        name: str | None = None,
    ) -> None:
        login_user(amqp_url)  # a URL notices could not be published with is refused now, not later
        self.amqp_url = amqp_url  # one address or several, as RB_AMQP_URL
        self.store = store
        self.clock = clock or SystemClock()
        self.make_publisher = publisher
        self.scan_interval_s = scan_interval_s
        self.prefetch = prefetch
        self.batch = batch
        self.lease_s = lease_s
        self.name = name or f"tracker-{uuid.uuid4().hex[:12]}"
        """Who claims notices: unique per process, so a restarted tracker never mistakes its
        predecessor's claims for its own."""
        self.counters = Counters()
        self.stopping = threading.Event()
        self._pending: deque[Input] = deque()
        self._next_scan = 0.0
        self._session: Session | None = None
        self._publisher: NoticePublisher | None = None

    def run(self) -> None:
        """Consume and scan until stop() is called, reconnecting with backoff."""
        keep_running(self._run_session, self.stopping, is_infrastructure_error)

    def stop(self) -> None:
        self.stopping.set()

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop())

    def _run_session(self, connected: Callable[[], None]) -> None:
        self._pending.clear()
        with session(self.amqp_url, topology.TRACKER_QUEUE, self.prefetch, self._pending.append) as s:
            connected()
            self._session = s
            self._publisher = self.make_publisher(s.publisher, s.user)
            log.info("connected", queue=topology.TRACKER_QUEUE, name=self.name)
            while not self.stopping.is_set():
                idle = False
                if self._pending:
                    batch = min(self.batch, len(self._pending))
                    self.ingest([self._pending.popleft() for _ in range(batch)])
                    connected()  # a session that did work ends its outage's backoff
                else:
                    idle = not s.serve(min(0.2, self.scan_interval_s))
                self._maybe_scan(idle)
            log.info("stopped", handed_back=len(self._pending))

    def _maybe_scan(self, idle: bool) -> None:
        now = time.monotonic()
        # Scan once caught up with the records (an answer waiting in the queue must not be chased),
        # but never let a steady stream of records hold the scan back for long.
        if now >= self._next_scan and (idle or now >= self._next_scan + 5 * self.scan_interval_s):
            try:
                assert self._publisher is not None
                self.scan_once(self._publisher)
            except Exception as error:
                if not is_database_outage(error):
                    raise
                # claims not marked sent lapse after their lease and are sent by the next scan
                log.warning(
                    "scan stopped: database unavailable; next scan as scheduled", error=repr(error)[:200]
                )
            self._next_scan = time.monotonic() + self.scan_interval_s

    def _keepalive(self, seconds: float) -> None:
        assert self._session is not None
        self._session.serve(seconds)

    def _ingest_held(self, records: list[Record]) -> None:
        """Ingest, holding the records unacked while the database is away (see ride_out_database)."""
        ride_out_database(lambda: self._ingest(records), self.stopping, self._keepalive, "ingesting records")

    def _parsed(self, deliveries: list[Input]) -> list[tuple[Input, Record]]:
        """The records parsed; one that is not a record is dead-lettered."""
        batch: list[tuple[Input, Record]] = []
        for delivery in deliveries:
            self.counters.received += 1
            try:
                batch.append((delivery, parse_event(delivery.body)))
            except RecordError as exc:
                self.counters.rejected += 1
                log.error("record rejected to the dead-letter queue", reason=str(exc))
                delivery.reject(requeue=False)
        return batch

    def ingest(self, deliveries: list[Input]) -> None:
        """Ingest a batch of records in one transaction and ack them once it committed; when the
        transaction fails, one by one, dead-lettering only the records that fail alone."""
        batch = self._parsed(deliveries)
        if not batch:
            return
        try:
            self._ingest_held([record for _, record in batch])
        except INFRASTRUCTURE_ERRORS:
            raise  # reconnect; the unacked records come back
        except Exception:
            log.exception("batch failed; ingesting its records one by one")
            for delivery, record in batch:
                self._ingest_alone(delivery, record)
            return
        for delivery, _ in batch:
            delivery.ack()

    def _ingest_alone(self, delivery: Input, record: Record) -> None:
        try:
            self._ingest_held([record])
        except INFRASTRUCTURE_ERRORS:
            raise
        except Exception:
            self.counters.rejected += 1
            log.exception("record rejected to the dead-letter queue", message_id=record.message_id)
            delivery.reject(requeue=False)
        else:
            delivery.ack()

    def _ingest(self, records: list[Record]) -> None:
        result = self.store.ingest(records, self.clock.now())
        self.counters.ingested += result.ingested
        self.counters.duplicates += result.duplicates
        self.counters.obligations += result.obligations
        self.counters.closed += result.closed

    def scan_once(self, publisher: NoticePublisher) -> int:
        """Claim the notices due now, publish each with a confirm and mark it sent. Returns how many
        were sent."""
        self.counters.scans += 1
        self.store.refresh_calendar()
        sent = 0
        while True:
            claimed = self.store.claim_notices(self.clock.now(), self.name, self.lease_s)
            if not claimed:
                open_, overdue = self.store.open_and_overdue(self.clock.now())
                metrics.TRACKER_OBLIGATIONS.labels("open").set(open_)
                metrics.TRACKER_OBLIGATIONS.labels("overdue").set(overdue)
                return sent
            for notice in claimed:
                if self.stopping.is_set():
                    return sent  # the claim lapses after the lease; any tracker sends it then
                if not self._send(notice, publisher):
                    return sent
                sent += 1

    def _send(self, notice: ClaimedNotice, publisher: NoticePublisher) -> bool:
        """Publish one claimed notice and mark it sent; False when the broker refused it."""
        try:
            publisher.publish(notice.payload, notice.message_id)
        except NoticeNotConfirmed as exc:
            log.warning("notice not confirmed; retried after its lease", error=str(exc)[:200])
            return False
        self.store.mark_sent(notice, self.name, self.clock.now())
        self.counters.notices += 1
        metrics.TRACKER_NOTICES.labels(notice.notice.value).inc()
        log.info(
            "notice sent", notice=notice.notice.value, obligation_id=notice.obligation_id, to=notice.recipient
        )
        return True
