"""How simulated recipients meet what they owe: in time, after a reminder, late, or never.

Each routed message is read from the routing log as the tracker reads it; the tracker's own rule
table (broker/tracker/rules.py) says which obligations it creates, owed by whom and due when. Each
obligation gets a behaviour drawn from the configured shares, and that behaviour sets when (if
ever) the one who owes answers, relative to the same start and due times the tracker uses.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from broker.domain.messages import Kind
from broker.domain.routing import Rule
from broker.tools.demo.campaign import CasePlan
from broker.tools.demo.defaults import DEFAULT_LATE_SHARE, DEFAULT_SILENT_SHARE
from broker.tools.demo.steps import Answer, CaseAction, CaseStep, Forward, PoliceAnswer, Step
from broker.tracker.calendar import WorkCalendar
from broker.tracker.record import Routed
from broker.tracker.rules import NewObligation, Policy

RECONSIDERATION_SHARE = 0.5
"""Bureaus that ask the police to reconsider a decision not to file."""


class Behaviour(StrEnum):
    PROMPT = "prompt"
    """Answers in the first part of the time allowed."""
    REMINDED = "reminded"
    """Answers in time, but only after the reminder (80% of the way to due)."""
    LATE = "late"
    """Answers after the due time, once escalated."""
    SILENT = "silent"
    """Never answers."""


@dataclass(frozen=True)
class Shares:
    late: float = DEFAULT_LATE_SHARE
    silent: float = DEFAULT_SILENT_SHARE
    reminded: float = 0.10

    def __post_init__(self) -> None:
        if min(self.late, self.silent, self.reminded) < 0 or self.late + self.silent + self.reminded > 1:
            raise ValueError("shares of late, silent and reminded answers: each >= 0, together <= 1")


def answer_time(behaviour: Behaviour, start: datetime, due: datetime, rng: random.Random) -> datetime | None:
    span = max(due - start, timedelta(hours=1))
    if behaviour is Behaviour.PROMPT:
        return start + span * rng.uniform(0.05, 0.6)
    if behaviour is Behaviour.REMINDED:
        return start + span * rng.uniform(0.84, 0.92)
    if behaviour is Behaviour.LATE:
        return due + max(span * rng.uniform(0.1, 0.6), timedelta(hours=12))
    return None


class Responder:
    def __init__(
        self, policy: Policy, calendar: WorkCalendar, shares: Shares, plans: dict[str, CasePlan], seed: int
    ) -> None:
        self.policy = policy
        self.calendar = calendar
        self.shares = shares
        self.plans = plans
        self.rng = random.Random(seed)
        self._handled: set[str] = set()
        self._referred: set[str] = set()
        """Cases whose referral is planned: one per case, by the first bureau owing the decision."""

    def behaviour(self, may_be_silent: bool = True) -> Behaviour:
        s = self.shares
        roll = self.rng.random()
        if roll < s.silent:
            return Behaviour.SILENT if may_be_silent else Behaviour.LATE
        if roll < s.silent + s.late:
            return Behaviour.LATE
        if roll < s.silent + s.late + s.reminded:
            return Behaviour.REMINDED
        return Behaviour.PROMPT

    def on_routed(self, record: Routed) -> list[tuple[datetime, Step]]:
        """The answers this routed message calls for, each at its simulated time."""
        out: list[tuple[datetime, Step]] = []
        for obligation in self.policy.obligations_for(record, self.calendar):
            if obligation.id in self._handled:
                continue  # per-case obligations come up again with each message of the case
            self._handled.add(obligation.id)
            step = self._step(obligation, record)
            if step is None:
                continue
            if obligation.rule == "reconsideration_window":  # optional: asked, in time, or not at all
                asks = self.rng.random() < RECONSIDERATION_SHARE
                behaviour = Behaviour.PROMPT if asks else Behaviour.SILENT
            else:  # a bureau refers a case over the threshold in the end, if not in time
                behaviour = self.behaviour(may_be_silent=obligation.rule != "transfer_decision")
            when = answer_time(behaviour, obligation.start_at, obligation.due_at, self.rng)
            if when is not None:
                out.append((when, step))
        return out

    def _step(self, ob: NewObligation, record: Routed) -> Step | None:
        regarding = record.message_id
        if ob.rule == "receipt":
            if ob.owed_by in record.delivered_by(Rule.HUB_INBOUND):
                return Forward(ob.owed_by, regarding)  # the forward is the hub's receipt
            return Answer(ob.owed_by, regarding, Kind.RECEIPT_ACK)
        if ob.rule == "assistance_reply":
            if ob.owed_by in record.delivered_by(Rule.HUB_INBOUND):
                return None  # the answer of the bureau it forwarded to closes the hub's obligation
            return Answer(ob.owed_by, regarding, Kind.ASSISTANCE_REPLY)
        if ob.rule == "coordination_reply":
            return Answer(ob.owed_by, regarding, Kind.COORDINATION_REPLY)
        if ob.rule == "police_receipt":
            plan = self.plans.get(record.case_id)
            return PoliceAnswer(ob.owed_by, regarding, plan.filed if plan else True)
        if ob.rule == "transfer_decision":
            # the bureau the tracker holds to the decision (the one handling the case) refers it to
            # its own police, once; the referral closes the case's other transfer decisions
            plan = self.plans.get(record.case_id)
            if plan is None or record.case_id in self._referred:
                return None
            self._referred.add(record.case_id)
            return CaseStep(plan, CaseAction.REFER, by=ob.owed_by, to=ob.owed_to)
        if ob.rule == "exhibits_handover":
            return Answer(ob.owed_by, regarding, Kind.COMPLETION_ACK)
        if ob.rule == "reconsideration_window":
            return Answer(ob.owed_by, regarding, Kind.RECONSIDERATION_REQUEST)
        if ob.rule == "supervision_report":
            return Answer(ob.owed_by, regarding, Kind.SUPERVISION_REPORT)
        return None  # filing_decision comes with the police receipt; transfer_dispatch closes itself
