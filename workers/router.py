"""The router worker: consume rb.router.inbound, validate, authenticate, decide, publish, then ack.

Guarantees (README "Reliability"):
- an input is acked only after the broker confirmed every output it caused (copies, quarantine,
  decision record);
- decisions are recorded before publishing, so a redelivered message is not routed twice;
- anything that cannot be routed goes to rb.quarantine with x-quarantine-* headers saying why;
- lost connections (broker or database) are retried with backoff; unacked input returns by itself;
- SIGTERM finishes the batch in hand, hands back the rest (unacked) and exits.

Messages are handled in batches of whatever has arrived (up to the prefetch): one database read,
one write before publishing, streamed confirms, one write after. Decisions inside a batch see the
earlier messages of the same batch, so a reply may follow its original closely.
"""

from __future__ import annotations

import hashlib
import json
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import structlog
from kombu import Connection

from broker import metrics
from broker.domain import quarantine_ids
from broker.domain.address import Address
from broker.domain.decision_record import decision_record
from broker.domain.jurisdictions import Registry, default_registry
from broker.domain.messages import Message
from broker.domain.plausible_time import CLOCK_SKEW
from broker.domain.refusals import refusal_notice
from broker.domain.routing import (
    InMemoryRoutingMemory,
    RoutedRecord,
    RoutingContext,
    RoutingDecision,
    RoutingRefused,
    Rule,
    decide,
)
from broker.domain.validation import ContractError, parse_message
from broker.logs import REDACTED, _scrub
from broker.participants import SYSTEM, Participants
from broker.store.memory import Seen, SqlRoutingMemory, State
from broker.store.outage import ride_out_database
from broker.transport import topology
from broker.transport.blocking import BlockedWatch
from broker.transport.confirms import ConfirmedPublisher
from broker.transport.frames import PROBLEMS
from broker.transport.inbound import TRANSPORT_OPTIONS, Delivery, consume, serve
from broker.transport.reconnect import (
    INFRASTRUCTURE_ERRORS,
    is_authentication_error,
    is_infrastructure_error,
    keep_running,
)
from broker.transport.tls import kombu_options

log = structlog.get_logger("referral_broker.router")

MAX_HEADER_TEXT = 500
"""Longest text put in a quarantine header: headers share one frame (frame_max, 128 KiB)."""

REFUSAL_TOKEN = "refusal"
"""Confirm token of an input's refusal notice."""

HOLD_S = 1.0
"""How long an input whose copy the broker refused waits before the refused copies are retried."""

DEFAULT_PREFETCH = 256
"""Unacked deliveries the router holds, and the largest batch; all return to the queue if it dies."""

ISOLATION_DELIVERIES = 2 * DEFAULT_PREFETCH
"""After a batch failed with an error that was neither the broker's nor the database's (a bug some
input triggers), the router hands the batch back and takes deliveries one at a time until this many
have been handled: the input that caused it then fails alone and is quarantined alone (stage
`internal`), and its innocent neighbours were redelivered once, never up to the delivery limit."""


@dataclass
class Counters:
    received: int = 0
    routed: int = 0
    quarantined: int = 0
    duplicates: int = 0
    deliveries: int = 0
    retried: int = 0
    dead_lettered: int = 0
    refusals: int = 0
    """delivery_refused notices published (broker/domain/refusals.py)."""
    sessions: int = 0
    """Broker sessions opened: 1 plus one per reconnect."""
    by_rule: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Quarantine:
    stage: str
    """transport, contract, authentication, routing, duplicate or internal"""
    field: str
    reason: str


@dataclass(frozen=True)
class Route:
    message: Message
    decision: RoutingDecision
    digest: str
    body: bytes
    pending: frozenset[Address]
    """Recipients still to publish to (all of them, unless this is a redelivery)."""
    new: bool
    """False when an earlier attempt already recorded the decision."""


@dataclass(frozen=True)
class Duplicate:
    message_id: str


Outcome = Quarantine | Route | Duplicate


@dataclass(frozen=True)
class Checked:
    """A message that passed the contract and authentication, before routing."""

    message: Message
    digest: str
    body: bytes
    """The bytes as the sender published them; recipients get exactly these."""


class BatchMemory:
    """The database's memory plus the decisions of the batch in hand."""

    def __init__(self, base: SqlRoutingMemory) -> None:
        self.base = base
        self.batch = InMemoryRoutingMemory()
        self.digests: dict[UUID, str] = {}

    def original(self, message_id: UUID) -> RoutedRecord | None:
        return self.batch.original(message_id) or self.base.original(message_id)

    def referral(self, fingerprint: str) -> RoutedRecord | None:
        return self.batch.referral(fingerprint) or self.base.referral(fingerprint)

    def holds_by_transfer(self, case_id: str, bureau: Address) -> bool:
        return self.batch.holds_by_transfer(case_id, bureau) or self.base.holds_by_transfer(case_id, bureau)

    def holds_subject_by_transfer(self, subjects: frozenset[str], bureau: Address) -> bool:
        return self.batch.holds_subject_by_transfer(subjects, bureau) or self.base.holds_subject_by_transfer(
            subjects, bureau
        )


class Router:
    def __init__(
        self,
        amqp_url: str,
        participants: Participants,
        memory: SqlRoutingMemory,
        registry: Registry | None = None,
        prefetch: int = DEFAULT_PREFETCH,
        copy_referrals_to_procuratorate: bool = True,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        clock_skew: timedelta = CLOCK_SKEW,
    ) -> None:
        self.amqp_url = amqp_url
        self.clock_skew = clock_skew
        """How far ahead of `clock` a sender's sent_at may be (broker/domain/plausible_time.py)."""
        self.clock = clock
        """Stamps routed_at on decision records (the tracker's deadlines start there); the demo
        passes a compressed clock."""
        self.participants = participants
        self.memory = memory
        self.registry = registry or default_registry()
        self.prefetch = prefetch
        self.copy_referrals = copy_referrals_to_procuratorate
        self.counters = Counters()
        self.stopping = threading.Event()
        self._pending: deque[Delivery] = deque()
        self._held: list[tuple[float, Delivery]] = []
        self._isolating = 0
        """Deliveries still to take one at a time (see ISOLATION_DELIVERIES)."""
        """Inputs whose copies the broker refused (a full inbox), kept unacked until retry time.
        Requeueing them would count against the input queue's delivery limit and dead-letter
        them, and would put them back in front of everyone else's messages."""

    # ---- deciding: no broker I/O ----

    @staticmethod
    def transport_check(delivery: Delivery) -> Quarantine | None:
        """A delivery whose AMQP properties or routing key could not be decoded is quarantined."""
        faults = delivery.transport_faults
        if not faults:
            return None
        name, problem = faults[0]
        more = f" (and {len(faults) - 1} more)" if len(faults) > 1 else ""
        return Quarantine(
            "transport",
            f"properties.{name}",
            f"AMQP property {name} {PROBLEMS[problem]}{more}; the router dropped the undecodable "
            "properties: publish valid UTF-8 short strings and in-range values",
        )

    def check(self, body: bytes, user_id: str | None) -> Checked | Quarantine:
        """Contract and sender authentication."""
        try:
            message = parse_message(body)
        except ContractError as exc:
            return Quarantine("contract", exc.field, str(exc))
        env = message.envelope
        if not user_id:
            return Quarantine(
                "authentication", "user_id", "no validated user_id: publish with user_id set to your user"
            )
        claimed = self.participants.address_of(user_id)
        if claimed is None:
            return Quarantine(
                "authentication", "user_id", f"user {user_id!r} is not a provisioned participant"
            )
        if str(claimed) != env.sender:
            return Quarantine(
                "authentication",
                "envelope.sender",
                f"user {user_id!r} may send as {claimed} only, not {env.sender}",
            )
        return Checked(message, hashlib.sha256(body).hexdigest(), body)

    def assess(self, checked: Checked, seen: Seen | None, memory: BatchMemory) -> Outcome:
        """Deduplicate and decide; a routed message is remembered in the batch memory."""
        message = checked.message
        env = message.envelope
        earlier = memory.batch.original(env.message_id)
        if seen is not None or earlier is not None:
            digest = seen.digest if seen is not None else memory.digests.get(env.message_id, "")
            if digest != checked.digest:
                return Quarantine(
                    "duplicate",
                    "envelope.message_id",
                    "this message id was already used for a different message",
                )
            if earlier is not None or (seen is not None and seen.state is State.ROUTED):
                return Duplicate(str(env.message_id))
        ctx = RoutingContext(
            self.registry,
            self.participants.addresses,
            memory,
            self.copy_referrals,
            self.clock(),
            self.clock_skew,
        )
        try:
            decision = decide(message, ctx)
        except RoutingRefused as exc:
            return Quarantine("routing", exc.field, exc.reason)
        record = RoutedRecord.of(message, decision)
        memory.batch.remember(record)
        memory.digests[env.message_id] = checked.digest
        if seen is not None:  # recorded by an earlier attempt: publish only what was not confirmed
            return Route(message, decision, checked.digest, checked.body, seen.pending, new=False)
        return Route(
            message, decision, checked.digest, checked.body, frozenset(decision.recipients), new=True
        )

    # ---- executing ----

    def run(self) -> None:
        """Consume until stop() is called, reconnecting with backoff when the broker goes away.
        No input ends it: an error that is not the broker's or the database's restarts the
        session with the input isolated (ISOLATION_DELIVERIES)."""
        keep_running(self._session, self.stopping, lambda error: not is_authentication_error(error))

    def stop(self) -> None:
        self.stopping.set()

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop())

    def _session(self, connected: Callable[[], None]) -> None:
        self._pending.clear()
        self._held.clear()  # unacked on the old channel: the broker hands them back
        watch = BlockedWatch()  # an alarm is waited out on this connection, not reconnected around
        with Connection(
            self.amqp_url,
            heartbeat=30,
            transport_options=watch.transport_options(TRANSPORT_OPTIONS),
            **kombu_options(self.amqp_url),  # amqps: verified TLS, certificate or password login
        ) as conn:
            conn.connect()
            connected()
            self.counters.sessions += 1
            log.info("connected", queue=topology.ROUTER_QUEUE, participants=len(self.participants))
            self._conn = conn
            consume_channel = conn.channel()
            consume_channel.basic_qos(0, 1 if self._isolating else self.prefetch, False)
            publisher = ConfirmedPublisher(conn, conn.channel(), watch)
            # Deliveries only queue up in the callback; they are handled here, outside it, since
            # waiting for confirms dispatches more deliveries.
            consume(consume_channel, topology.ROUTER_QUEUE, self._pending.append)
            while not self.stopping.is_set():
                self._release_held()
                if self._pending:
                    size = 1 if self._isolating else self.prefetch
                    batch = [self._pending.popleft() for _ in range(min(len(self._pending), size))]
                    self._handle_guarded(batch, publisher, consume_channel)
                    connected()  # a session that did work ends its outage's backoff
                    continue
                serve(conn, 0.1 if self._held else 0.5)
            log.info("stopped", handed_back=len(self._pending) + len(self._held))

    def _handle_guarded(self, batch: list[Delivery], publisher: ConfirmedPublisher, channel: Any) -> None:
        """Handle a batch; a failure that is not the broker's or the database's costs one input."""
        try:
            self._handle_batch(batch, publisher)
        except Exception as error:
            if is_infrastructure_error(error):
                raise  # reconnect: unacked input comes back by itself
            publisher.wait()  # settle what the failed attempt published, so no stale confirm remains
            if self._isolating and len(batch) == 1:
                self._quarantine_alone(batch[0], publisher, error)
            else:
                log.exception("router error on a batch; handing it back and isolating", batch=len(batch))
                for delivery in [*batch, *self._pending]:  # back in queue order
                    delivery.reject(requeue=True)
                self._pending.clear()
                channel.basic_qos(0, 1, False)
                self._isolating = ISOLATION_DELIVERIES
            return
        if self._isolating:
            self._isolating = max(0, self._isolating - len(batch))
            if not self._isolating:
                channel.basic_qos(0, self.prefetch, False)
                log.info("isolation over; full prefetch again", prefetch=self.prefetch)

    def _quarantine_alone(self, delivery: Delivery, publisher: ConfirmedPublisher, error: Exception) -> None:
        """The input that made a batch of one fail: quarantine it (or, if even that fails,
        dead-letter it), so it cannot fail again."""
        log.error(
            "router error on one input; quarantining it",
            message_id=_message_id(delivery),
            error=type(error).__name__,
        )
        outcome = Quarantine("internal", "$", f"router error {type(error).__name__}; reported to operators")
        record: dict[str, Any] | None = None
        try:
            record = self._publish_quarantine(publisher, 0, delivery, _user_id(delivery), outcome)
            refused = any(what != REFUSAL_TOKEN for _, what in publisher.wait())
        except INFRASTRUCTURE_ERRORS:
            raise
        except Exception:
            log.exception("could not quarantine it")
            refused = True
        if refused:
            log.error("dead-lettering the input that the router fails on", message_id=_message_id(delivery))
            delivery.reject(requeue=False)
            self.counters.dead_lettered += 1
            metrics.ROUTER_MESSAGES.labels("dead_lettered", "unknown").inc()
            return
        delivery.ack()
        self._count_and_log(outcome, record, 0.0, 1)

    def _keepalive(self, seconds: float) -> None:
        """Serve the broker connection (heartbeats, confirms, deliveries) while the database is away."""
        serve(self._conn, seconds)

    def _database(self, operation: Callable[[], Any], what: str) -> Any:
        return ride_out_database(operation, self.stopping, self._keepalive, what)

    def _release_held(self) -> None:
        """Put refused inputs whose retry time has come back in line, oldest first."""
        if not self._held:
            return
        now = time.monotonic()
        due = [d for at, d in self._held if at <= now]
        if due:
            self._held = [(at, d) for at, d in self._held if at > now]
            self._pending.extendleft(reversed(due))

    def _handle_batch(self, batch: list[Delivery], publisher: ConfirmedPublisher) -> None:
        started = time.perf_counter()
        self.counters.received += len(batch)
        users = [_user_id(d) for d in batch]
        checked: list[Checked | Quarantine] = []
        for delivery, user_id in zip(batch, users, strict=True):
            refused = self.transport_check(delivery)
            if refused is not None:
                checked.append(refused)
                continue
            try:
                checked.append(self.check(delivery.body, user_id))
            except Exception as exc:  # a bug must cost one message (quarantined), never the worker
                log.exception("internal error while checking a message")
                checked.append(
                    Quarantine("internal", "$", f"router error {type(exc).__name__}; reported to operators")
                )
        ids = [c.message.envelope.message_id for c in checked if isinstance(c, Checked)]
        seen = self._database(lambda: self.memory.seen(ids), "reading routing memory")
        memory = BatchMemory(self.memory)
        outcomes: list[Outcome] = []
        for item in checked:
            if isinstance(item, Quarantine):
                outcomes.append(item)
                continue
            try:
                outcomes.append(self.assess(item, seen.get(item.message.envelope.message_id), memory))
            except INFRASTRUCTURE_ERRORS:
                raise  # the database is away: reconnect; the batch returns unacked
            except Exception as exc:
                log.exception("internal error while routing a message")
                outcomes.append(
                    Quarantine("internal", "$", f"router error {type(exc).__name__}; reported to operators")
                )
        new = [
            (RoutedRecord.of(o.message, o.decision), o.digest)
            for o in outcomes
            if isinstance(o, Route) and o.new
        ]
        recorded = self._database(lambda: self.memory.begin(new), "recording decisions")
        for index, outcome in enumerate(outcomes):
            if isinstance(outcome, Route) and outcome.new and outcome.decision.message_id not in recorded:
                # another router replica recorded it between our read and our write: it routes it
                outcomes[index] = Duplicate(str(outcome.decision.message_id))

        now = self.clock()
        records: dict[int, dict[str, Any]] = {}
        for index, (delivery, user_id, outcome) in enumerate(zip(batch, users, outcomes, strict=True)):
            if isinstance(outcome, Route):
                records[index] = self._publish_route(publisher, index, outcome, user_id or "", now)
            elif isinstance(outcome, Quarantine):
                records[index] = self._publish_quarantine(publisher, index, delivery, user_id, outcome)
        nacked = publisher.wait()

        # a refusal notice the sender's inbox did not take does not hold its input back: the
        # quarantine copy is what must not be lost, and a full inbox is not being read anyway
        failed = {index for index, what in nacked if what != REFUSAL_TOKEN}
        for index in sorted(index for index, what in nacked if what == REFUSAL_TOKEN):
            log.warning(
                "refusal notice not taken by the sender's inbox",
                quarantine_id=records[index]["quarantine_id"],
            )
        done: dict[UUID, list[Address]] = {}
        finished: set[UUID] = set()
        for index, outcome in enumerate(outcomes):
            if isinstance(outcome, Route):
                message_id = outcome.decision.message_id
                done[message_id] = [r for r in outcome.pending if (index, str(r)) not in nacked]
                if index not in failed:
                    finished.add(message_id)
        self._database(lambda: self.memory.confirmed(done, finished), "recording confirms")

        elapsed = time.perf_counter() - started
        metrics.ROUTER_BATCH_SECONDS.observe(elapsed)
        elapsed_ms = round(elapsed * 1000, 2)
        one_ack = not failed and not self._held
        if one_ack:
            # every unacked input is in this batch and settled: one ack with `multiple` on the
            # highest delivery tag covers them all
            max(batch, key=lambda d: d.delivery_tag).ack(multiple=True)
        parked = self._park(
            publisher, [batch[i] for i in sorted(failed)], users=[users[i] for i in sorted(failed)]
        )
        retry_at = time.monotonic() + HOLD_S
        for index, (delivery, outcome) in enumerate(zip(batch, outcomes, strict=True)):
            if index in failed:
                self.counters.retried += 1
                log.warning(
                    "output refused by the broker (inbox full?), retrying later",
                    message_id=_message_id(delivery),
                    parked=delivery in parked,
                )
                if delivery in parked:
                    delivery.ack()
                else:
                    self._held.append((retry_at, delivery))
                continue
            if not one_ack:
                delivery.ack()
            self._count_and_log(outcome, records.get(index), elapsed_ms, len(batch))

    def _park(
        self, publisher: ConfirmedPublisher, refused: list[Delivery], users: list[str | None]
    ) -> list[Delivery]:
        """Move inputs whose copies were refused to the retry queue, so they neither hold the
        prefetch window nor count against the input queue's delivery limit. Returns those the
        broker confirmed there; the rest are held here, unacked, and retried in-process."""
        if not refused:
            return []
        for index, (delivery, user_id) in enumerate(zip(refused, users, strict=True)):
            props = delivery.properties
            publisher.publish(
                (index, "park"),
                delivery.body,
                "",  # the default exchange: if the queue is not there, the publish comes back
                topology.RETRY_QUEUE,
                mandatory=True,
                content_type=props.get("content_type"),
                content_encoding=props.get("content_encoding"),
                delivery_mode=2,
                message_id=_message_id(delivery),
                user_id=user_id,  # the router may impersonate: the retry keeps the sender's proof
            )
        nacked = {index for index, _ in publisher.wait()}
        return [d for i, d in enumerate(refused) if i not in nacked]

    def _publish_route(
        self, publisher: ConfirmedPublisher, index: int, route: Route, user_id: str, now: datetime
    ) -> dict[str, Any]:
        decision = route.decision
        env = route.message.envelope
        body = route.body
        extra_headers: dict[str, Any] = {}
        if decision.threshold is not None:
            extra_headers["x-threshold-level"] = decision.threshold["level"]
            extra_headers["x-threshold-version"] = decision.threshold["rules_version"]
        if decision.linked_to is not None:
            extra_headers["x-linked-to"] = str(decision.linked_to)
        for delivery in decision.deliveries:
            if delivery.recipient not in route.pending:
                continue
            publisher.publish(
                (index, str(delivery.recipient)),
                body,
                topology.DELIVER_EXCHANGE,
                str(delivery.recipient),
                content_type="application/json",
                content_encoding="utf-8",
                delivery_mode=2,
                message_id=str(env.message_id),
                user_id=user_id,
                correlation_id=str(env.in_reply_to) if env.in_reply_to else None,
                application_headers={
                    "x-sender": str(decision.sender),
                    "x-kind": env.kind.value,
                    "x-case-id": env.case_id,
                    "x-rule": delivery.rule.value,
                    "x-recipient": str(delivery.recipient),
                    **extra_headers,
                },
            )
        for notice in decision.notices:
            self._publish_notice(publisher, index, notice, decision)
        record = decision_record(route.message, decision, now)
        record["age_ms"] = round((time.time() - env.sent_at.timestamp()) * 1000, 1)
        self._publish_record(publisher, index, "routed", record)
        return record

    def _publish_notice(
        self, publisher: ConfirmedPublisher, index: int, notice: Message, cause: RoutingDecision
    ) -> None:
        """A message the broker itself sends (as system:000000, which the router may impersonate)."""
        body = notice.model_dump_json(exclude_none=True).encode("utf-8")
        system_user = self.participants.username(SYSTEM)
        for recipient in notice.envelope.to:
            publisher.publish(
                (index, f"notice:{recipient}"),
                body,
                topology.DELIVER_EXCHANGE,
                recipient,
                content_type="application/json",
                content_encoding="utf-8",
                delivery_mode=2,
                message_id=str(notice.envelope.message_id),
                user_id=system_user,
                application_headers={
                    "x-sender": str(SYSTEM),
                    "x-kind": notice.envelope.kind.value,
                    "x-case-id": notice.envelope.case_id,
                    "x-rule": Rule.LINKED_NOTICE.value,
                    "x-recipient": recipient,
                    "x-caused-by": str(cause.message_id),
                },
            )

    def _publish_quarantine(
        self,
        publisher: ConfirmedPublisher,
        index: int,
        delivery: Delivery,
        user_id: str | None,
        outcome: Quarantine,
    ) -> dict[str, Any]:
        reason = _scrub(outcome.reason[:MAX_HEADER_TEXT])
        field = _scrub(outcome.field[:MAX_HEADER_TEXT])
        props = delivery.properties
        message_id = _message_id(delivery)
        # what an operator needs to find it (domain/quarantine_ids.py): never a value that failed its check
        body_digest = quarantine_ids.digest(delivery.body)
        facts = quarantine_ids.envelope_facts(delivery.body)
        sender = self.participants.address_of(user_id) if user_id else None
        at = self.clock().isoformat()
        publisher.publish(
            (index, "quarantine"),
            delivery.body,
            topology.QUARANTINE,
            "",
            content_type=_text(props.get("content_type")) or "application/octet-stream",
            content_encoding=_text(props.get("content_encoding")) or "binary",
            delivery_mode=2,
            message_id=message_id,
            application_headers={
                "x-quarantine-stage": outcome.stage,
                "x-quarantine-field": field,
                "x-quarantine-reason": reason,
                "x-original-user-id": user_id or "",
                "x-quarantine-digest": body_digest,
                "x-quarantined-at": at,
            },
        )
        record = {
            "event": "quarantined",
            "message_id": facts.message_id or message_id,
            "quarantine_id": quarantine_ids.quarantine_id(facts, message_id, body_digest),
            "user_id": user_id or None,
            "kind": facts.kind,
            # the authenticated sender; the envelope's claim only beside it, when it differs
            "sender": str(sender) if sender else None,
            "claimed_sender": facts.sender if facts.sender != (str(sender) if sender else None) else None,
            "case_id": facts.case_id,
            "stage": outcome.stage,
            "field": field,
            "reason": reason,
            "quarantined_at": at,
        }
        for unread in [k for k in ("kind", "sender", "claimed_sender", "case_id") if record[k] is None]:
            del record[unread]  # the routing key says `invalid.unknown` for what could not be read
        self._publish_refusal(publisher, index, user_id, record)
        self._publish_record(publisher, index, "quarantined", record)
        return record

    def _publish_refusal(
        self, publisher: ConfirmedPublisher, index: int, user_id: str | None, record: dict[str, Any]
    ) -> None:
        """Tell the authenticated publisher of a quarantined input why (broker/domain/refusals.py).
        Input with no validated user_id, or the broker's own, gets none: nobody to answer."""
        publisher_address = self.participants.address_of(user_id) if user_id else None
        if publisher_address is None or publisher_address == SYSTEM:
            return
        notice = refusal_notice(
            publisher_address,
            stage=record["stage"],
            field=record["field"],
            reason=record["reason"],
            quarantine_id=record["quarantine_id"],
            refused_message_id=record.get("message_id"),
            case_id=record.get("case_id"),
            sent_at=self.clock(),
        )
        publisher.publish(
            (index, REFUSAL_TOKEN),
            notice.model_dump_json(exclude_none=True).encode("utf-8"),
            topology.DELIVER_EXCHANGE,
            str(publisher_address),
            content_type="application/json",
            content_encoding="utf-8",
            delivery_mode=2,
            message_id=str(notice.envelope.message_id),
            user_id=self.participants.username(SYSTEM),
            application_headers={
                "x-sender": str(SYSTEM),
                "x-kind": notice.envelope.kind.value,
                "x-case-id": notice.envelope.case_id,
                "x-rule": Rule.DELIVERY_REFUSED.value,
                "x-recipient": str(publisher_address),
            },
        )
        record["refusal_notice"] = {
            "message_id": str(notice.envelope.message_id),
            "to": str(publisher_address),
        }
        self.counters.refusals += 1

    def _publish_record(
        self, publisher: ConfirmedPublisher, index: int, event: str, record: dict[str, Any]
    ) -> None:
        """The decision record on rb.routing-log, confirmed like every output (the tracker reads it)."""
        kind = record.get("kind", "invalid")
        sender = str(record.get("sender", "unknown")).replace(":", ".")
        publisher.publish(
            (index, "record"),
            json.dumps(record, ensure_ascii=False).encode("utf-8"),
            topology.ROUTING_LOG,
            f"{event}.{kind}.{sender}",
            content_type="application/json",
            content_encoding="utf-8",
            delivery_mode=2,
        )

    def _count_and_log(
        self, outcome: Outcome, record: dict[str, Any] | None, batch_ms: float, batch: int
    ) -> None:
        """Count the outcome (counters and Prometheus) and write its routing-log line, after the ack."""
        if isinstance(outcome, Duplicate):
            self.counters.duplicates += 1
            metrics.ROUTER_MESSAGES.labels("duplicate", "any").inc()
            log.info("duplicate", message_id=outcome.message_id)
            return
        if isinstance(outcome, Quarantine):
            self.counters.quarantined += 1
            metrics.ROUTER_MESSAGES.labels("quarantined", "unknown").inc()
            metrics.ROUTER_QUARANTINED.labels(outcome.stage).inc()
        else:
            self.counters.routed += 1
            self.counters.deliveries += len(outcome.pending)
            metrics.ROUTER_MESSAGES.labels("routed", outcome.decision.kind.value).inc()
            metrics.ROUTER_AGE_SECONDS.observe(
                max(0.0, time.time() - outcome.message.envelope.sent_at.timestamp())
            )
            for d in outcome.decision.deliveries:
                self.counters.by_rule[d.rule.value] = self.counters.by_rule.get(d.rule.value, 0) + 1
                metrics.ROUTER_DELIVERIES.labels(d.rule.value).inc()
        if record is not None:
            fields = {
                k: v
                for k, v in record.items()
                if k not in ("event", "case", "record_version") and v is not None
            }
            log.info(record["event"], latency_ms=batch_ms, batch=batch, **fields)


def _user_id(delivery: Delivery) -> str | None:
    """The user_id RabbitMQ validated against the publisher's login (it refuses any other)."""
    user_id = delivery.properties.get("user_id")
    return user_id if isinstance(user_id, str) and user_id else None


def _message_id(delivery: Delivery) -> str | None:
    """The AMQP message_id, only when it is a UUID (as the contract's ids are): any other text is a
    value a participant chose and may hold personal data, so it is never copied."""
    return quarantine_ids.canonical_uuid(delivery.properties.get("message_id"))


def _text(value: Any) -> str | None:
    """A short property value copied onto a quarantined message, scrubbed, or None."""
    if not isinstance(value, str) or not value:
        return None
    text = _scrub(value[:100])
    return text if REDACTED not in text else None
