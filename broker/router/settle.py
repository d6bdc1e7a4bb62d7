"""The settle step: what becomes of each input once the broker has confirmed or refused its outputs,
as action values the pipeline carries out (like NServiceBus's recoverability actions). An input is
acked only when every output it caused was confirmed, or when it was moved to the retry queue."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from broker.domain.address import Address
from broker.router.outcomes import Outcome, Route
from broker.router.outputs import REFUSAL_TOKEN
from broker.router.ports import Token


class Action(StrEnum):
    ACK = "ack"
    HOLD = "hold"
    """Keep it unacked in the process and retry it later: requeueing would count against the input
    queue's delivery limit and put it back in front of everyone else's messages."""
    DEAD_LETTER = "dead_letter"
    """Reject without requeue: the input queue dead-letters it."""


@dataclass(frozen=True)
class Confirms:
    """What the broker's confirms of one batch mean for its inputs and for the outbox."""

    failed: tuple[int, ...]
    """Inputs an output of which the broker refused (an inbox full), in batch order: to park."""
    missed_refusals: tuple[int, ...]
    """Inputs whose refusal notice the sender's inbox did not take. They are not held back: the
    quarantine copy is what must not be lost, and a full inbox is not being read anyway."""
    done: dict[UUID, list[Address]]
    """Recipients whose copy was confirmed, per routed message."""
    finished: set[UUID]
    """Routed messages every output of which was confirmed."""


def read_confirms(outcomes: Sequence[Outcome], nacked: set[Token]) -> Confirms:
    failed = {index for index, what in nacked if what != REFUSAL_TOKEN}
    done: dict[UUID, list[Address]] = {}
    finished: set[UUID] = set()
    for index, outcome in enumerate(outcomes):
        if isinstance(outcome, Route):
            message_id = outcome.decision.message_id
            done[message_id] = [r for r in outcome.pending if (index, str(r)) not in nacked]
            if index not in failed:
                finished.add(message_id)
    return Confirms(
        failed=tuple(sorted(failed)),
        missed_refusals=tuple(sorted(index for index, what in nacked if what == REFUSAL_TOKEN)),
        done=done,
        finished=finished,
    )


@dataclass(frozen=True)
class Settlement:
    ack_all: bool
    """Every unacked input is in this batch and settled: one ack with `multiple` on the highest
    delivery tag covers them all."""
    actions: dict[int, Action]
    """For each input not covered by `ack_all`: ACK, or HOLD when its outputs were refused and the
    retry queue did not take it either."""


def ack_all(confirms: Confirms, holding: bool) -> bool:
    """Whether one multiple-ack settles the batch: nothing failed, and no earlier input is held
    unacked on the channel (the multiple-ack would settle it too)."""
    return not confirms.failed and not holding


def settle(size: int, confirms: Confirms, parked: set[int], holding: bool) -> Settlement:
    """`parked`: the inputs of `confirms.failed` the retry queue confirmed, by batch index."""
    if ack_all(confirms, holding):
        return Settlement(ack_all=True, actions={})
    failed = set(confirms.failed)
    actions = {
        index: Action.HOLD if index in failed and index not in parked else Action.ACK for index in range(size)
    }
    return Settlement(ack_all=False, actions=actions)


def settle_alone(nacked: set[Token] | None) -> Action:
    """A lone input the router failed on, quarantined: acked once the quarantine copy and its
    record are confirmed (its refusal notice need not be); dead-lettered if they were refused or
    could not be published (`nacked` None), so it cannot fail again."""
    if nacked is None or any(what != REFUSAL_TOKEN for _, what in nacked):
        return Action.DEAD_LETTER
    return Action.ACK
