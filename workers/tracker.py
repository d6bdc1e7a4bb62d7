"""The tracker worker: consume rb.tracker.decisions, keep the obligations, send deadline notices.

Guarantees (broker/store/tracker/store.py says how):
- a decision record is acked only after the transaction that ingested it committed, so a tracker
  killed at any moment loses no obligation and no acknowledgement; a redelivered record is skipped;
- a record that is not a decision record is rejected to the dead-letter queue, with a log line;
- the scanner runs every scan interval while the consumer has caught up, and sends each notice once:
  claimed and recorded in one transaction, published with a confirm, then marked sent;
- lost connections are retried with backoff; SIGTERM finishes the batch in hand and exits.

Notices are published through ParticipantClient as system:000000, so the router authenticates them
and routes them like any message (rule tracker.deadline_notice).
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
from kombu import Connection, Consumer, Queue
from kombu.message import Message as AmqpMessage

from broker import metrics
from broker.participants import SYSTEM
from broker.settings import failover_url
from broker.store.tracker.store import DEFAULT_LEASE_S, TrackerStore
from broker.tracker.clock import Clock, SystemClock
from broker.tracker.record import RecordError, Routed, parse_record
from broker.transport import topology
from broker.transport.client import BrokerError, ParticipantClient
from broker.transport.inbound import serve
from broker.transport.reconnect import (
    INFRASTRUCTURE_ERRORS,
    is_database_outage,
    is_infrastructure_error,
    keep_running,
    ride_out_database,
)
from broker.transport.tls import kombu_options

log = structlog.get_logger("referral_broker.tracker")

DEFAULT_PREFETCH = 256
"""Unacked records the tracker holds; all return to the queue if it dies."""
DEFAULT_BATCH = 100
"""Records ingested in one transaction when a backlog is waiting."""


class NoticePublisher(Protocol):
    def publish(self, payload: bytes, message_id: str) -> None:
        """Publish and wait for the broker's confirm; raise when it is not confirmed."""

    def close(self) -> None: ...


class ClientPublisher:
    """Publishes notices as system:000000 through the participant client (confirms, user_id)."""

    def __init__(self, amqp_url: str) -> None:
        self.client = ParticipantClient(amqp_url, SYSTEM)

    def publish(self, payload: bytes, message_id: str) -> None:
        # The client reconnects (to any configured address) and resends by itself; the same bytes
        # under the same id are at most dropped by the router as a duplicate.
        self.client.publish(payload, message_id=message_id)

    def close(self) -> None:
        self.client.close()


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
        publisher: NoticePublisher | None = None,
        scan_interval_s: float = 30.0,
        prefetch: int = DEFAULT_PREFETCH,
        batch: int = DEFAULT_BATCH,
        lease_s: float = DEFAULT_LEASE_S,
        name: str | None = None,
    ) -> None:
        self.amqp_url = failover_url(amqp_url)  # one address or several, as RB_AMQP_URL
        self.store = store
        self.clock = clock or SystemClock()
        self.publisher = publisher or ClientPublisher(amqp_url)
        self.scan_interval_s = scan_interval_s
        self.prefetch = prefetch
        self.batch = batch
        self.lease_s = lease_s
        self.name = name or f"tracker-{uuid.uuid4().hex[:12]}"
        """Who claims notices: unique per process, so a restarted tracker never mistakes its
        predecessor's claims for its own."""
        self.counters = Counters()
        self.stopping = threading.Event()
        self._pending: deque[AmqpMessage] = deque()
        self._next_scan = 0.0

    def run(self) -> None:
        """Consume and scan until stop() is called, reconnecting with backoff."""
        try:
            keep_running(self._session, self.stopping, is_infrastructure_error)
        finally:
            self.publisher.close()

    def stop(self) -> None:
        self.stopping.set()

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop())

    def _session(self, connected: Callable[[], None]) -> None:
        self._pending.clear()
        with Connection(self.amqp_url, heartbeat=30, **kombu_options(self.amqp_url)) as conn:
            conn.connect()
            connected()
            self._conn = conn
            log.info("connected", queue=topology.TRACKER_QUEUE, name=self.name)
            channel = conn.channel()
            channel.basic_qos(0, self.prefetch, False)
            queue = Queue(topology.TRACKER_QUEUE, no_declare=True)
            with Consumer(channel, queues=[queue], on_message=self._pending.append, no_ack=False):
                while not self.stopping.is_set():
                    idle = False
                    if self._pending:
                        self._ingest_pending()
                        connected()  # a session that did work ends its outage's backoff
                    else:
                        idle = not serve(conn, min(0.2, self.scan_interval_s))
                    self._maybe_scan(idle)
            log.info("stopped", handed_back=len(self._pending))

    def _maybe_scan(self, idle: bool) -> None:
        now = time.monotonic()
        # Scan once caught up with the records (an answer waiting in the queue must not be chased),
        # but never let a steady stream of records hold the scan back for long.
        if now >= self._next_scan and (idle or now >= self._next_scan + 5 * self.scan_interval_s):
            try:
                self.scan_once()
            except Exception as error:
                if not is_database_outage(error):
                    raise
                # claims not marked sent lapse after their lease and are sent by the next scan
                log.warning(
                    "scan stopped: database unavailable; next scan as scheduled", error=repr(error)[:200]
                )
            self._next_scan = time.monotonic() + self.scan_interval_s

    def _keepalive(self, seconds: float) -> None:
        serve(self._conn, seconds)

    def _ingest_held(self, records: list[Routed]) -> None:
        """Ingest, holding the records unacked while the database is away (see ride_out_database)."""
        ride_out_database(lambda: self._ingest(records), self.stopping, self._keepalive, "ingesting records")

    def _ingest_pending(self) -> None:
        batch: list[tuple[AmqpMessage, Routed]] = []
        while self._pending and len(batch) < self.batch:
            delivery = self._pending.popleft()
            self.counters.received += 1
            try:
                batch.append((delivery, parse_record(delivery.body)))
            except RecordError as exc:
                self.counters.rejected += 1
                log.error("record rejected to the dead-letter queue", reason=str(exc))
                delivery.reject(requeue=False)
        if not batch:
            return
        try:
            self._ingest_held([record for _, record in batch])
        except INFRASTRUCTURE_ERRORS:
            raise  # reconnect; the unacked records come back
        except Exception:
            log.exception("batch failed; ingesting its records one by one")
            for delivery, record in batch:
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
            return
        for delivery, _ in batch:
            delivery.ack()

    def _ingest(self, records: list[Routed]) -> None:
        result = self.store.ingest(records, self.clock.now())
        self.counters.ingested += result.ingested
        self.counters.duplicates += result.duplicates
        self.counters.obligations += result.obligations
        self.counters.closed += result.closed

    def scan_once(self) -> int:
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
                try:
                    self.publisher.publish(notice.payload, notice.message_id)
                except BrokerError as exc:
                    log.warning("notice not confirmed; retried after its lease", error=repr(exc)[:200])
                    return sent
                self.store.mark_sent(notice, self.name, self.clock.now())
                sent += 1
                self.counters.notices += 1
                metrics.TRACKER_NOTICES.labels(notice.notice.value).inc()
                log.info(
                    "notice sent",
                    notice=notice.notice.value,
                    obligation_id=notice.obligation_id,
                    to=notice.recipient,
                )
