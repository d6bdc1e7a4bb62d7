"""The router's receive path, composed of the steps of this package:

    check (transport, contract, authentication) → look up the outbox → deduplicate → decide
    → record the decisions → publish the outputs → read the confirms → book them → park the
    refused → settle (ack / hold) → count and log

Decisions inside a batch see the earlier messages of the same batch (BatchMemory). Nothing here
imports a broker or database library: the publisher, the outbox and the routing index come in
behind the protocols of ports.py, and a guard around each memory operation rides out a database
that is away.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from broker import metrics
from broker.domain.routing import RoutedRecord
from broker.domain.sealed_view import is_sealed
from broker.participants import SYSTEM, Participants
from broker.router.authenticate import check, transport_check
from broker.router.batch_memory import BatchMemory
from broker.router.bodies import Bodies
from broker.router.counting import Counters, count_and_log, count_dead_lettered, count_folded, log
from broker.router.decide import Policy, route
from broker.router.deduplicate import deduplicate
from broker.router.outcomes import Attempt, Checked, Duplicate, Outcome, Quarantine, Route
from broker.router.outputs import (
    Destinations,
    Outputs,
    message_id_of,
    park_outputs,
    quarantine_outputs,
    route_outputs,
    send,
    user_id_of,
)
from broker.router.ports import Guard, Inbound, PipelineMemory, Publisher, Seen, Token, unguarded
from broker.router.rates import SenderRates
from broker.router.settle import Action, Confirms, Settlement, read_confirms, settle, settle_alone
from broker.router.shares import KEEP_WHOLE, WITHOUT_CLEAR_BODY, Admission, Keep, QuarantineShares

D = TypeVar("D", bound=Inbound)


def _never(_error: BaseException) -> bool:
    return False


@dataclass
class Pipeline:
    participants: Participants
    memory: PipelineMemory
    policy: Policy
    to: Destinations
    counters: Counters
    clock: Callable[[], datetime]
    """Stamps routed_at on decision records (the tracker's deadlines start there)."""
    guard: Guard = unguarded
    is_infrastructure: Callable[[BaseException], bool] = _never
    """An error of the broker or the database: it ends the batch (the session reconnects and the
    input comes back unacked) instead of costing one input."""
    shares: QuarantineShares = field(default_factory=QuarantineShares)
    """How much of each sender's refused input is kept (broker/router/shares.py)."""
    rates: SenderRates = field(default_factory=SenderRates)
    """Each sender's publish rate (broker/router/rates.py)."""
    bodies: Bodies = field(default_factory=Bodies)
    """Which bodies are taken, and the check of a sealed one (broker/router/bodies.py); by default
    plaintext only, as a library user builds it (`route` reads RB_BODIES)."""

    def handle_batch(self, batch: Sequence[D], publisher: Publisher, holding: bool) -> list[D]:
        """Route a batch and settle it; returns the inputs to hold and retry later. `holding`: some
        earlier input is held unacked on the same channel."""
        started = time.perf_counter()
        self.counters.received += len(batch)
        self.bodies.refresh()
        outcomes = self.decide_batch(batch)
        records = self.publish(batch, outcomes, publisher)
        confirms = self.book_confirms(outcomes, records, publisher.wait())
        elapsed = time.perf_counter() - started
        metrics.ROUTER_BATCH_SECONDS.observe(elapsed)
        parked = self.park(batch, confirms, publisher)
        settlement = settle(len(batch), confirms, parked, holding)
        return self.carry_out(
            settlement, batch, outcomes, records, confirms, parked, round(elapsed * 1000, 2)
        )

    # ---- the steps, one input at a time ----

    def check(self, delivery: Inbound) -> Checked | Quarantine:
        refused = transport_check(delivery)
        if refused is not None:
            return refused
        user_id = user_id_of(delivery)
        if not self._broker_user(user_id) and not self.rates.take(user_id):
            return Quarantine("rate", "$", self.rates.refusal())
        try:
            checked = check(delivery.body, user_id, self.participants)
            if isinstance(checked, Checked):
                return self.bodies.admit(checked.message) or checked
            return checked
        except Exception as exc:  # a bug must cost one message (quarantined), never the worker
            log.exception("internal error while checking a message")
            return Quarantine.internal(exc)

    def assess(self, checked: Checked, seen: Seen | None, memory: BatchMemory) -> Outcome:
        """Deduplicate and decide; a routed message is remembered in the batch memory."""
        attempt = deduplicate(checked, seen, memory.digests.get(checked.message.envelope.message_id))
        if not isinstance(attempt, Attempt):
            return attempt
        outcome = route(checked, attempt, memory, self.policy, self.clock())
        if isinstance(outcome, Route) and is_sealed(checked.message):
            outcome = self.bodies.check(checked.body, outcome.decision.recipients) or outcome
        if isinstance(outcome, Route):
            memory.remember(RoutedRecord.of(outcome.message, outcome.decision), checked.digest)
        return outcome

    def route_outputs(self, index: int, outcome: Route, user_id: str, now: datetime) -> Outputs:
        return route_outputs(index, outcome, user_id, self.participants, self.to, now, time.time())

    def quarantine_outputs(
        self,
        index: int,
        delivery: Inbound,
        user_id: str | None,
        outcome: Quarantine,
        share: Admission = KEEP_WHOLE,
    ) -> Outputs:
        return quarantine_outputs(
            index, delivery, user_id, outcome, self.participants, self.to, self.clock(), share
        )

    # ---- the steps, for a batch ----

    def decide_batch(self, batch: Sequence[Inbound]) -> list[Outcome]:
        """Check, deduplicate and decide each input; record the new decisions before publishing."""
        checked = [self.check(delivery) for delivery in batch]
        ids = [c.message.envelope.message_id for c in checked if isinstance(c, Checked)]
        seen = self.guard(lambda: self.memory.seen(ids), "reading routing memory")
        memory = BatchMemory(self.memory)
        outcomes = [
            c
            if isinstance(c, Quarantine)
            else self._assess_guarded(c, seen.get(c.message.envelope.message_id), memory)
            for c in checked
        ]
        return self.record_decisions(outcomes)

    def record_decisions(self, outcomes: list[Outcome]) -> list[Outcome]:
        """Record the new decisions in the outbox before anything is published. A decision another
        router replica recorded between our read and our write is its to route: a duplicate here."""
        new = [
            (RoutedRecord.of(o.message, o.decision), o.digest)
            for o in outcomes
            if isinstance(o, Route) and o.new
        ]
        recorded = self.guard(lambda: self.memory.begin(new), "recording decisions")
        return [
            Duplicate(str(o.decision.message_id))
            if isinstance(o, Route) and o.new and o.decision.message_id not in recorded
            else o
            for o in outcomes
        ]

    def _assess_guarded(self, checked: Checked, seen: Seen | None, memory: BatchMemory) -> Outcome:
        try:
            return self.assess(checked, seen, memory)
        except Exception as exc:
            if self.is_infrastructure(exc):
                raise  # the database is away: reconnect; the batch returns unacked
            log.exception("internal error while routing a message")
            return Quarantine.internal(exc)

    def publish(
        self, batch: Sequence[Inbound], outcomes: list[Outcome], publisher: Publisher
    ) -> dict[int, dict[str, Any]]:
        """Publish every output of the batch without waiting; returns the decision records by input."""
        now = self.clock()
        records: dict[int, dict[str, Any]] = {}
        for index, (delivery, outcome) in enumerate(zip(batch, outcomes, strict=True)):
            if isinstance(outcome, Duplicate):
                continue
            if isinstance(outcome, Route):
                out = self.route_outputs(index, outcome, user_id_of(delivery) or "", now)
            else:
                user_id = user_id_of(delivery)
                share = self._share(user_id, outcome, len(delivery.body))
                if share.keep is Keep.FOLDED:
                    count_folded(self.counters)  # acked with the batch, counted as quarantined
                    continue
                if share.keep not in (Keep.WHOLE, Keep.CLEAR):
                    metrics.ROUTER_QUARANTINE_SHARE.labels(share.keep.value).inc()
                if share.news:
                    log.warning("quarantine share used up", user_id=user_id, kept=share.keep.value)
                out = self.quarantine_outputs(index, delivery, user_id, outcome, share)
            send(publisher, out.messages)
            if out.refusal:
                self.counters.refusals += 1
            records[index] = out.record
        return records

    def _broker_user(self, user_id: str | None) -> bool:
        """The broker's own publisher (the tracker, as system:000000): neither a participant's rate
        nor its quarantine share applies to it."""
        return user_id is not None and user_id == self.participants.username(SYSTEM)

    def _share(self, user_id: str | None, outcome: Quarantine, size: int) -> Admission:
        """What the sender's quarantine share keeps of a refused input. Kept whole whatever the share:
        an `internal` refusal (the router's fault, replayable once fixed) and the broker's own input.
        Never folded: a `rate` refusal, a valid message its sender must be able to find and resend,
        so each keeps its entry and its notice."""
        if outcome.stage == "internal" or self._broker_user(user_id):
            return KEEP_WHOLE
        if outcome.clear_body:
            return WITHOUT_CLEAR_BODY
        return self.shares.admit(user_id, size, foldable=outcome.stage != "rate")

    def park(self, batch: Sequence[Inbound], confirms: Confirms, publisher: Publisher) -> set[int]:
        """Move inputs whose copies were refused to the retry queue, so they neither hold the
        prefetch window nor count against the input queue's delivery limit. Returns the batch
        indexes of those the broker confirmed there; the rest are held in-process."""
        if not confirms.failed:
            return set()
        send(publisher, park_outputs([batch[i] for i in confirms.failed], self.to))
        nacked = {index for index, _ in publisher.wait()}
        return {batch_index for i, batch_index in enumerate(confirms.failed) if i not in nacked}

    def book_confirms(
        self, outcomes: list[Outcome], records: dict[int, dict[str, Any]], nacked: set[Token]
    ) -> Confirms:
        """Read the broker's confirms and book them in the outbox."""
        confirms = read_confirms(outcomes, nacked)
        for index in confirms.missed_refusals:
            log.warning(
                "refusal notice not taken by the sender's inbox",
                quarantine_id=records[index]["quarantine_id"],
            )
        self.guard(lambda: self.memory.confirmed(confirms.done, confirms.finished), "recording confirms")
        return confirms

    def carry_out(
        self,
        settlement: Settlement,
        batch: Sequence[D],
        outcomes: list[Outcome],
        records: dict[int, dict[str, Any]],
        confirms: Confirms,
        parked: set[int],
        batch_ms: float,
    ) -> list[D]:
        """Ack as settled, then count and log each input; returns the inputs to hold."""
        if settlement.ack_all:
            max(batch, key=lambda d: d.delivery_tag).ack(multiple=True)
        held: list[D] = []
        for index, (delivery, outcome) in enumerate(zip(batch, outcomes, strict=True)):
            refused = index in confirms.failed
            if refused:
                self.counters.retried += 1
                log.warning(
                    "output refused by the broker (inbox full?), retrying later",
                    message_id=message_id_of(delivery),
                    parked=index in parked,
                )
            action = settlement.actions.get(index)
            if action is Action.HOLD:
                held.append(delivery)
            elif action is Action.ACK:
                delivery.ack()
            if not refused:
                count_and_log(self.counters, outcome, records.get(index), batch_ms, len(batch))
        return held

    def quarantine_alone(self, delivery: Inbound, publisher: Publisher, error: BaseException) -> None:
        """The input that made a batch of one fail: quarantine it (or, if even that fails,
        dead-letter it), so it cannot fail again."""
        log.error(
            "router error on one input; quarantining it",
            message_id=message_id_of(delivery),
            error=type(error).__name__,
        )
        outcome = Quarantine.internal(error)
        out: Outputs | None = None
        nacked = None
        try:
            out = self.quarantine_outputs(0, delivery, user_id_of(delivery), outcome)
            send(publisher, out.messages)
            if out.refusal:
                self.counters.refusals += 1
            nacked = publisher.wait()
        except Exception as exc:
            if self.is_infrastructure(exc):
                raise
            log.exception("could not quarantine it")
        if settle_alone(nacked) is Action.DEAD_LETTER or out is None:
            log.error("dead-lettering the input that the router fails on", message_id=message_id_of(delivery))
            delivery.reject(requeue=False)
            count_dead_lettered(self.counters)
            return
        delivery.ack()
        count_and_log(self.counters, outcome, out.record, 0.0, 1)
