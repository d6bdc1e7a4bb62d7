"""The router worker: consume rb.router.inbound, validate, authenticate, decide, publish, then ack.

Guarantees (README "Reliability"):
- the input is acked only after the broker confirmed every output (copies, quarantine, log record);
- the decision is recorded before publishing, so a redelivered message is not routed twice;
- anything that cannot be routed goes to rb.quarantine with x-quarantine-* headers saying why;
- lost connections are retried with backoff; unacked input returns to the queue by itself;
- SIGTERM finishes the message in hand, hands back the rest (unacked) and exits.
"""

from __future__ import annotations

import hashlib
import json
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from amqp.exceptions import MessageNacked
from kombu import Connection, Consumer, Producer, Queue
from kombu.message import Message as AmqpMessage
from sqlalchemy.exc import OperationalError
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_never, wait_exponential

from broker.domain.address import Address
from broker.domain.decision_record import decision_record
from broker.domain.jurisdictions import Registry, default_registry
from broker.domain.messages import Message
from broker.domain.routing import RoutedRecord, RoutingContext, RoutingDecision, RoutingRefused, decide
from broker.domain.validation import ContractError, parse_message
from broker.logs import REDACTED, _scrub
from broker.memory import SqlRoutingMemory, State
from broker.participants import Participants
from broker.transport import topology

log = structlog.get_logger("referral_broker.router")

DEFAULT_PREFETCH = 64
"""Unacked deliveries the router holds; all return to the queue if it dies."""


@dataclass
class Counters:
    received: int = 0
    routed: int = 0
    quarantined: int = 0
    duplicates: int = 0
    deliveries: int = 0
    by_rule: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Quarantine:
    stage: str
    """contract, authentication, routing or duplicate"""
    field: str
    reason: str


@dataclass(frozen=True)
class Route:
    message: Message
    decision: RoutingDecision
    digest: str


@dataclass(frozen=True)
class Duplicate:
    message_id: str


Outcome = Quarantine | Route | Duplicate


class Router:
    def __init__(
        self,
        amqp_url: str,
        participants: Participants,
        memory: SqlRoutingMemory,
        registry: Registry | None = None,
        prefetch: int = DEFAULT_PREFETCH,
        copy_referrals_to_procuratorate: bool = True,
    ) -> None:
        self.amqp_url = amqp_url
        self.participants = participants
        self.memory = memory
        self.registry = registry or default_registry()
        self.prefetch = prefetch
        self.copy_referrals = copy_referrals_to_procuratorate
        self.counters = Counters()
        self.stopping = threading.Event()
        self._pending: deque[AmqpMessage] = deque()

    # ---- deciding: no broker I/O ----

    def assess(self, body: bytes, user_id: str | None) -> Outcome:
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
        digest = hashlib.sha256(body).hexdigest()
        seen = self.memory.seen(env.message_id)
        if seen is not None:
            if seen.digest != digest:
                return Quarantine(
                    "duplicate",
                    "envelope.message_id",
                    "this message id was already used for a different message",
                )
            if seen.state is State.ROUTED:
                return Duplicate(str(env.message_id))
        ctx = RoutingContext(self.registry, self.participants.addresses, self.memory, self.copy_referrals)
        try:
            decision = decide(message, ctx)
        except RoutingRefused as exc:
            return Quarantine("routing", exc.field, exc.reason)
        return Route(message, decision, digest)

    # ---- executing ----

    def run(self) -> None:
        """Consume until stop() is called, reconnecting with backoff when the broker goes away."""
        for attempt in Retrying(
            retry=retry_if_exception(lambda e: _is_connection_error(e) and not self.stopping.is_set()),
            wait=wait_exponential(multiplier=0.2, max=15),
            stop=stop_never,
            before_sleep=_log_retry,
            reraise=True,
        ):
            with attempt:
                self._session()

    def stop(self) -> None:
        self.stopping.set()

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop())

    def _session(self) -> None:
        self._pending.clear()
        with Connection(self.amqp_url, heartbeat=30, transport_options={"confirm_publish": True}) as conn:
            conn.connect()
            log.info("connected", queue=topology.ROUTER_QUEUE, participants=len(self.participants))
            consume_channel = conn.channel()
            consume_channel.basic_qos(0, self.prefetch, False)
            producer = Producer(conn.channel())
            queue = Queue(topology.ROUTER_QUEUE, no_declare=True)
            with Consumer(consume_channel, queues=[queue], on_message=self._pending.append, no_ack=False):
                while not self.stopping.is_set():
                    # Deliveries only queue up in the callback; handling them there would re-enter
                    # it while publishing waits for confirms.
                    while self._pending and not self.stopping.is_set():
                        self._handle(self._pending.popleft(), producer)
                    if not self._pending:
                        try:
                            conn.drain_events(timeout=0.5)
                        except TimeoutError:
                            conn.heartbeat_check()
            log.info("stopped", handed_back=len(self._pending))

    def _handle(self, delivery: AmqpMessage, producer: Producer) -> None:
        started = time.perf_counter()
        self.counters.received += 1
        props: dict[str, Any] = delivery.properties
        user_id = props.get("user_id")
        if isinstance(user_id, bytes):
            user_id = user_id.decode("utf-8", "replace")
        try:
            outcome = self.assess(_raw_body(delivery), user_id)
        except INFRASTRUCTURE_ERRORS:
            raise  # the database or broker is away: reconnect, the input returns unacked
        except Exception as exc:  # a bug must cost one message (quarantined), never the worker
            log.exception("internal error while assessing a message")
            outcome = Quarantine("internal", "$", f"router error {type(exc).__name__}; reported to operators")
        if isinstance(outcome, Duplicate):
            self.counters.duplicates += 1
            log.info(
                "duplicate",
                message_id=outcome.message_id,
                redelivered=delivery.delivery_info.get("redelivered"),
            )
        elif isinstance(outcome, Quarantine):
            self._quarantine(delivery, user_id, outcome, producer, started)
        else:
            try:
                self._route(outcome, user_id or "", producer, started)
            except MessageNacked:
                # An inbox refused (at its length limit): hand the input back and try again later.
                log.warning("output refused, retrying later", message_id=str(outcome.decision.message_id))
                delivery.requeue()
                time.sleep(0.5)
                return
        delivery.ack()

    def _route(self, route: Route, user_id: str, producer: Producer, started: float) -> None:
        decision = route.decision
        if not self.memory.begin(RoutedRecord.of(route.message, decision), route.digest):
            seen = self.memory.seen(decision.message_id)
            pending = seen.pending if seen else frozenset()
        else:
            pending = frozenset(decision.recipients)
        env = route.message.envelope
        body = route.message.model_dump_json(exclude_none=True).encode("utf-8")
        confirmed: list[Address] = []
        try:
            for delivery in decision.deliveries:
                if delivery.recipient not in pending:
                    continue
                producer.publish(
                    body,
                    exchange=topology.DELIVER_EXCHANGE,
                    routing_key=str(delivery.recipient),
                    content_type="application/json",
                    content_encoding="utf-8",
                    delivery_mode=2,
                    message_id=str(env.message_id),
                    user_id=user_id,
                    correlation_id=str(env.in_reply_to) if env.in_reply_to else None,
                    headers={
                        "x-sender": str(decision.sender),
                        "x-kind": env.kind.value,
                        "x-case-id": env.case_id,
                        "x-rule": delivery.rule.value,
                        "x-recipient": str(delivery.recipient),
                    },
                )
                confirmed.append(delivery.recipient)
        finally:
            self.memory.confirmed(decision.message_id, confirmed)
        # The decision record feeds the tracker: the message counts as routed only once it is confirmed.
        record = decision_record(route.message, decision, datetime.now(UTC))
        self._log(
            producer,
            "routed",
            started,
            record,
            age_ms=round((time.time() - env.sent_at.timestamp()) * 1000, 1),
        )
        self.memory.finished(decision.message_id)
        self.counters.routed += 1
        self.counters.deliveries += len(confirmed)
        for d in decision.deliveries:
            self.counters.by_rule[d.rule.value] = self.counters.by_rule.get(d.rule.value, 0) + 1

    def _quarantine(
        self,
        delivery: AmqpMessage,
        user_id: str | None,
        outcome: Quarantine,
        producer: Producer,
        started: float,
    ) -> None:
        reason = _scrub(outcome.reason)
        props = delivery.properties
        producer.publish(
            _raw_body(delivery),
            exchange=topology.QUARANTINE,
            routing_key="",
            content_type=props.get("content_type") or "application/octet-stream",
            content_encoding=props.get("content_encoding") or "binary",
            delivery_mode=2,
            message_id=props.get("message_id"),
            headers={
                "x-quarantine-stage": outcome.stage,
                "x-quarantine-field": outcome.field,
                "x-quarantine-reason": reason,
                "x-original-user-id": user_id or "",
            },
        )
        self.counters.quarantined += 1
        record = {
            "event": "quarantined",
            "message_id": _text(props.get("message_id")),
            "user_id": user_id or None,
            "stage": outcome.stage,
            "field": outcome.field,
            "reason": reason,
        }
        self._log(producer, "quarantined", started, record)

    def _log(
        self, producer: Producer, event: str, started: float, record: dict[str, Any], **extra: Any
    ) -> None:
        """One line on stdout and one record on rb.routing-log, confirmed like every output."""
        record = {**record, **extra, "latency_ms": round((time.perf_counter() - started) * 1000, 2)}
        log.info(event, **{k: v for k, v in record.items() if k not in ("event", "case") and v is not None})
        kind = record.get("kind", "invalid")
        sender = str(record.get("sender", "unknown")).replace(":", ".")
        producer.publish(
            json.dumps(record, ensure_ascii=False).encode("utf-8"),
            exchange=topology.ROUTING_LOG,
            routing_key=f"{event}.{kind}.{sender}",
            content_type="application/json",
            content_encoding="utf-8",
            delivery_mode=2,
        )


def _raw_body(delivery: AmqpMessage) -> bytes:
    """The body as published. py-amqp decodes text bodies using the declared content_encoding;
    encoding them back with the same codec restores the exact bytes."""
    body = delivery.body
    if isinstance(body, str):
        return body.encode(delivery.properties.get("content_encoding") or "utf-8", "surrogateescape")
    return bytes(body)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return text[:100] if REDACTED not in text else REDACTED


INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    *Connection().connection_errors,
    *Connection().channel_errors,
    OSError,
    OperationalError,
)
"""Errors of the broker or the database, after which the router reconnects and retries; any other
error while handling a message is a bug, which quarantines that message and is logged."""


def _is_connection_error(error: BaseException) -> bool:
    return isinstance(error, INFRASTRUCTURE_ERRORS)


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    log.warning("broker unreachable, reconnecting", attempt=state.attempt_number, error=repr(error)[:200])
