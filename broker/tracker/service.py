"""The tracker worker: consume rb.tracker.decisions, keep the obligations, send deadline notices.

Guarantees (broker/store/tracker/store.py says how):
- a decision record is acked only after the transaction that ingested it committed, so a tracker
  killed at any moment loses no obligation and no acknowledgement; a redelivered record is skipped;
- a record that is not a decision record is rejected to the dead-letter queue, with a log line;
- the scanner runs every scan interval while the consumer has caught up, and sends each notice once:
  claimed and recorded in one transaction, published with a confirm, then marked sent;
- lost connections are retried with backoff; SIGTERM finishes the batch in hand and exits.

The workers' one consumer loop (broker/transport/consumer.py) consumes the records and, on the same
connection, publishes the notices to rb.inbound as system:000000, so the router authenticates them
and routes them like any message (rule tracker.deadline_notice). The tracker is its handler, and
scans on its turns (`on_turn`).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import structlog

from broker import metrics
from broker.store.outage import is_database_outage, ride_out_database
from broker.store.tracker.model import ClaimedNotice
from broker.store.tracker.store import DEFAULT_LEASE_S, TrackerStore
from broker.tracker.clock import Clock, SystemClock
from broker.tracker.record import Record, RecordError, parse_event
from broker.transport import shard_key, topology
from broker.transport.confirms import ConfirmedPublisher
from broker.transport.consumer import BatchConsumer, Worker
from broker.transport.inbound import Delivery
from broker.transport.reconnect import INFRASTRUCTURE_ERRORS, is_infrastructure_error
from broker.transport.tls import login_user

log = structlog.get_logger("referral_broker.tracker")

DEFAULT_PREFETCH = 256
"""Unacked records the tracker holds; all return to the queue if it dies."""
DEFAULT_BATCH = 100
"""Records ingested in one transaction when a backlog is waiting."""
ISOLATION_DELIVERIES = 2 * DEFAULT_PREFETCH
"""Records taken one at a time after a batch failed with an error that is neither the broker's nor
the database's (a bug some record triggers; a statement the database refused is retried record by
record inside the batch): the record that causes it is then dead-lettered alone."""
MAX_POLL_S = 0.2
"""Longest wait for records between two turns, so a scan starts at most this late."""
SCAN_CATCH_UP_INTERVALS = 5
"""Scan intervals a scan waits for the consumer to catch up with the records before it runs
anyway, under a steady stream of records."""


def scan_due(now: float, next_scan: float, interval_s: float, caught_up: bool) -> bool:
    """Whether to scan now (monotonic seconds). A scan waits until the consumer has caught up with
    the records (an answer waiting in the queue must not be chased), but a steady stream of records
    holds it back for SCAN_CATCH_UP_INTERVALS intervals at most."""
    return now >= next_scan and (caught_up or now >= next_scan + SCAN_CATCH_UP_INTERVALS * interval_s)


class Input(Protocol):
    """A delivered record: its bytes, settled once (inbound.Delivery)."""

    @property
    def body(self) -> bytes: ...

    def ack(self) -> None: ...

    def reject(self, requeue: bool = False) -> None: ...


class NoticePublisher(Protocol):
    def publish(self, notices: Sequence[tuple[bytes, str]]) -> set[str]:
        """Publish each (payload, message_id) and wait for the broker's confirms; returns the message
        ids it refused (nacked, or taken by no queue)."""


class ConfirmedNotices:
    """Publishes the notices of a claim to rb.inbound as the session's user, streamed, and waits
    once for their confirms (one round trip for a claim, not one per notice)."""

    def __init__(self, confirms: ConfirmedPublisher, user: str) -> None:
        self.confirms = confirms
        self.user = user

    def publish(self, notices: Sequence[tuple[bytes, str]]) -> set[str]:
        for index, (payload, message_id) in enumerate(notices):
            self.confirms.publish(
                (index, message_id),
                payload,
                topology.INBOUND_EXCHANGE,
                shard_key.of_body(payload),
                mandatory=True,  # a notice no queue took is not sent
                content_type="application/json",
                content_encoding="utf-8",
                delivery_mode=2,
                message_id=message_id,
                user_id=self.user,
            )
        return {message_id for _, message_id in self.confirms.wait()}


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


class Tracker(Worker):
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
        self.user = login_user(amqp_url)
        """What every notice names in user_id; a URL notices could not be published with is refused
        now, not later."""
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
        self._next_scan = 0.0
        self.consumer = BatchConsumer(
            amqp_url,  # one address or several, as RB_AMQP_URL
            topology.TRACKER_QUEUE,
            self,
            prefetch,
            hold_s=0.0,  # never used: the tracker holds no record
            isolation_deliveries=ISOLATION_DELIVERIES,
            log=log,
            batch=batch,
            poll_s=min(MAX_POLL_S, scan_interval_s),
            on_turn=self._maybe_scan,
            # an error that is not the broker's or the database's (a scan's bug) ends the tracker
            retryable=is_infrastructure_error,
        )

    @property
    def stopping(self) -> threading.Event:
        return self.consumer.stopping

    # ---- the consumer loop's handler ----

    def on_session(self) -> None:
        log.info("connected", queue=topology.TRACKER_QUEUE, name=self.name)

    def handle_batch(
        self, batch: list[Delivery], publisher: ConfirmedPublisher, holding: bool
    ) -> list[Delivery]:
        self.ingest(batch)
        return []  # acked or dead-lettered: nothing is held

    def handle_alone(self, delivery: Delivery, publisher: ConfirmedPublisher, error: BaseException) -> None:
        self.counters.rejected += 1
        log.error("record rejected to the dead-letter queue", error=type(error).__name__)
        delivery.reject(requeue=False)

    def _maybe_scan(self, confirms: ConfirmedPublisher, caught_up: bool) -> None:
        if not scan_due(time.monotonic(), self._next_scan, self.scan_interval_s, caught_up):
            return
        try:
            self.scan_once(self.make_publisher(confirms, self.user))
        except Exception as error:
            if not is_database_outage(error):
                raise
            # claims not marked sent lapse after their lease and are sent by the next scan
            log.warning("scan stopped: database unavailable; next scan as scheduled", error=repr(error)[:200])
        self._next_scan = time.monotonic() + self.scan_interval_s

    def _ingest_held(self, records: list[Record]) -> None:
        """Ingest, holding the records unacked while the database is away (see ride_out_database)."""
        ride_out_database(
            lambda: self._ingest(records), self.stopping, self.consumer.keepalive, "ingesting records"
        )

    def _parsed(self, deliveries: Sequence[Input]) -> list[tuple[Input, Record]]:
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

    def ingest(self, deliveries: Sequence[Input]) -> None:
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
        """Claim the notices due now, publish each claim's notices with streamed confirms and mark the
        confirmed ones sent. Returns how many were sent."""
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
            if self.stopping.is_set():
                return sent  # the claims lapse after the lease; any tracker sends them then
            marked, refused = self._send(claimed, publisher)
            sent += marked
            if refused:
                return sent

    def _send(self, claimed: list[ClaimedNotice], publisher: NoticePublisher) -> tuple[int, set[str]]:
        """Publish the claimed notices and mark the confirmed ones sent; returns how many were marked
        and the refused ones' ids (this tracker claims them again at its next scan; another tracker
        once their lease lapsed)."""
        refused = publisher.publish([(n.payload, n.message_id) for n in claimed])
        if refused:
            log.warning("notices not confirmed; retried at the next scan", refused=len(refused))
        confirmed = [n for n in claimed if n.message_id not in refused]
        marked = self.store.mark_all_sent(confirmed, self.name, self.clock.now())
        for notice in marked:
            self.counters.notices += 1
            metrics.TRACKER_NOTICES.labels(notice.notice.value).inc()
            log.info(
                "notice sent",
                notice=notice.notice.value,
                obligation_id=notice.obligation_id,
                to=notice.recipient,
            )
        return len(marked), refused
