"""The values of routing: rules, deliveries, decisions, refusals, the memory of what was routed,
and the context a decision is made in (routing.py decides). Pure: no broker, no database."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol
from uuid import UUID

from broker.domain.address import Address, Party
from broker.domain.case import CaseFacts
from broker.domain.jurisdictions import NATIONAL, Registry
from broker.domain.messages import Handling, Kind, Message
from broker.domain.plausible_time import CLOCK_SKEW
from broker.domain.referrals import fingerprint


class Rule(StrEnum):
    """The rule behind each delivery, as it appears in the routing log."""

    ESCALATION = "vertical.escalation"
    DIRECTIVE = "vertical.directive"
    DIRECTIVE_ALL = "vertical.directive_all_subordinates"
    VERTICAL = "vertical.addressed"
    INTRA_PROVINCE = "intra_province.addressed"
    HUB_INBOUND = "regional.hub_inbound"
    HUB_OUTBOUND = "regional.hub_outbound_copy"
    FORWARD = "regional.forward"
    DEPARTMENT = "interdepartmental.addressed"
    TRANSFER = "transfer.competent"
    NO_RETRANSFER = "transfer.no_retransfer"
    DESIGNATION = "transfer.designation"
    DESIGNATION_REQUEST = "transfer.designation_request"
    REPLY = "reply.correlation"
    REPLY_REGIONAL = "reply.regional_origin"
    POLICE_REFERRAL = "police.referral"
    SUPERVISION_COPY = "police.supervision_copy"
    SUPERVISION_COPY_DISPUTED = "police.supervision_copy_disputed"
    """The supervision copy of a referral whose head's basis and evaluator's assessment differ: the
    procuratorate sees the flag, and the deliveries metric counts it."""
    DEADLINE_NOTICE = "tracker.deadline_notice"
    REFERRAL_LINKED = "police.referral_linked"
    LINKED_NOTICE = "police.referral_linked_notice"
    DECLINE_RECORD = "police.transfer_declined_copy"
    RECORD_REPORT = "vertical.record_report"
    """A record of work done (约谈, 联合执法) to the superior and the departments that took part."""
    """The record of a decision not to transfer (不予移送), to the procuratorate at the bureau's level."""
    SUPERVISION_SUGGESTION = "police.supervision_suggestion"
    """A bureau's suggestion of 立案监督 to the procuratorate at its level (Decree 310 Art. 9)."""
    DELIVERY_REFUSED = "broker.delivery_refused"
    ASSESSMENT_RESULT = "broker.assessment_result"
    """The broker's answer to an assessment_request, to its publisher only."""


RECEIVES_CASE = frozenset({Rule.TRANSFER, Rule.FORWARD, Rule.DESIGNATION})
"""Deliveries after which the recipient holds a case by transfer (and may not transfer it on)."""

COPY_RULES = frozenset(
    {
        Rule.HUB_OUTBOUND,
        Rule.SUPERVISION_COPY,
        Rule.SUPERVISION_COPY_DISPUTED,
        Rule.DECLINE_RECORD,
        Rule.RECORD_REPORT,
    }
)
"""Deliveries that only keep the recipient informed: it owes no answer and may not give one in the
addressee's place (a procuratorate does not decide on filing, the sender's own hub does not answer
the other province's request)."""


@dataclass(frozen=True)
class Delivery:
    recipient: Address
    rule: Rule
    reason: str


@dataclass(frozen=True)
class RoutingDecision:
    message_id: UUID
    kind: Kind
    sender: Address
    case_id: str
    deliveries: tuple[Delivery, ...]
    threshold: dict[str, Any] | None = None
    """For a police referral: the router's own threshold assessment (Assessment.to_dict())."""
    linked_to: UUID | None = None
    """For a duplicate police referral: the referral it was joined to."""
    notices: tuple[Message, ...] = ()
    """Messages the broker itself sends because of this decision (referral_linked, and the
    assessment_result that is an assessment_request's only output)."""
    subjects: frozenset[str] = frozenset()
    """For a jurisdiction designation, which carries no case facts: what the disputed case is about,
    so the designated bureau is remembered as holding it."""

    @property
    def recipients(self) -> tuple[Address, ...]:
        return tuple(d.recipient for d in self.deliveries)


class RoutingRefused(ValueError):
    """The message is valid but cannot be routed; it goes to quarantine with this reason."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class NotAParticipant(RoutingRefused):
    """A recipient the rules chose is not among the participants the decision was given: for the
    router, not provisioned; for a sender computing whom to seal for, without keys in the directory."""

    def __init__(self, recipient: Address, reason: str) -> None:
        self.recipient = recipient
        super().__init__("envelope.to", f"{recipient} is not a provisioned participant ({reason})")


@dataclass(frozen=True)
class RoutedRecord:
    """What the router remembers of a message it routed, for replies, forwards and transfers."""

    message_id: UUID
    kind: Kind
    sender: Address
    case_id: str
    to: tuple[Address, ...]
    handling: frozenset[Handling]
    forwards: UUID | None
    deliveries: tuple[tuple[Address, Rule], ...]
    fingerprint: str | None = None
    """Police referrals: the company-and-facts fingerprint that finds duplicates."""
    subjects: frozenset[str] = frozenset()
    """What the case is about (case_subjects); for a designation, the subjects of the disputed case."""

    @property
    def recipients(self) -> frozenset[Address]:
        return frozenset(a for a, _ in self.deliveries)

    def rule_for(self, recipient: Address) -> Rule | None:
        """The rule by which this recipient got the message, or None when it did not."""
        return next((rule for a, rule in self.deliveries if a == recipient), None)

    @classmethod
    def of(cls, message: Message, decision: RoutingDecision) -> RoutedRecord:
        env = message.envelope
        return cls(
            message_id=env.message_id,
            kind=env.kind,
            sender=decision.sender,
            case_id=env.case_id,
            to=tuple(Address.parse(t) for t in env.to),
            handling=frozenset(env.handling),
            forwards=env.forwards,
            deliveries=tuple((d.recipient, d.rule) for d in decision.deliveries),
            fingerprint=fingerprint(env.case) if env.kind is Kind.POLICE_REFERRAL and env.case else None,
            subjects=case_subjects(env.case) if env.case else decision.subjects,
        )


def received_record(message: Message, recipient: Address, rule: Rule) -> RoutedRecord:
    """What a participant knows of a message delivered to it (its own delivery only): enough for the
    routing decision of its answers, computed on its side before sealing them (recipients_of)."""
    env = message.envelope
    return RoutedRecord(
        message_id=env.message_id,
        kind=env.kind,
        sender=Address.parse(env.sender),
        case_id=env.case_id,
        to=tuple(Address.parse(t) for t in env.to),
        handling=frozenset(env.handling),
        forwards=env.forwards,
        deliveries=((recipient, rule),),
        fingerprint=fingerprint(env.case) if env.kind is Kind.POLICE_REFERRAL and env.case else None,
        subjects=case_subjects(env.case) if env.case else frozenset(),
    )


def case_subjects(facts: CaseFacts) -> frozenset[str]:
    """What a case is about: the company's credit code with each violation, one subject each.

    The no-retransfer rule matches these as well as the case id: every bureau numbers cases its own
    way and counts grow as an investigation goes on, so neither the id nor the exact facts identify
    a case that changes hands. A false match only sends a transfer to the common superior."""
    return frozenset(f"{facts.company_credit_code}/{v.value}" for v in facts.violations)


class RoutingMemory(Protocol):
    def original(self, message_id: UUID) -> RoutedRecord | None:
        """The routed message with this id, if the router has routed it."""

    def received_by_transfer(self, case_id: str, bureau: Address) -> RoutedRecord | None:
        """The latest message by which this bureau received the case by transfer, forward or
        designation; None when it did not."""

    def subject_received_by_transfer(self, subjects: frozenset[str], bureau: Address) -> RoutedRecord | None:
        """The latest message by which this bureau received, by transfer, forward or designation, a
        case with any of these subjects (the same company and violation), whatever its case id."""

    def referral(self, fingerprint: str) -> RoutedRecord | None:
        """The first police referral routed with this fingerprint."""


@dataclass
class InMemoryRoutingMemory:
    """A RoutingMemory in a dict, for tests and replays."""

    records: dict[UUID, RoutedRecord] = field(default_factory=dict)

    def original(self, message_id: UUID) -> RoutedRecord | None:
        return self.records.get(message_id)

    def received_by_transfer(self, case_id: str, bureau: Address) -> RoutedRecord | None:
        return self._latest(lambda r: r.case_id == case_id, bureau)

    def subject_received_by_transfer(self, subjects: frozenset[str], bureau: Address) -> RoutedRecord | None:
        return self._latest(lambda r: bool(r.subjects & subjects), bureau)

    def _latest(self, about: Callable[[RoutedRecord], bool], bureau: Address) -> RoutedRecord | None:
        found = [
            r
            for r in self.records.values()
            if about(r) and any(a == bureau and rule in RECEIVES_CASE for a, rule in r.deliveries)
        ]
        return found[-1] if found else None  # records are kept in routing order

    def referral(self, fingerprint: str) -> RoutedRecord | None:
        return next(
            (
                r
                for r in self.records.values()
                if r.fingerprint == fingerprint and r.kind is Kind.POLICE_REFERRAL
            ),
            None,
        )

    def remember(self, record: RoutedRecord) -> None:
        self.records[record.message_id] = record


@dataclass(frozen=True)
class RoutingContext:
    registry: Registry
    participants: frozenset[Address]
    memory: RoutingMemory
    now: datetime | None = None
    """The router's clock, which sent_at and a referral's approved_at must lie near
    (broker/domain/plausible_time.py). None (replays of recorded traffic, test desks) skips those
    checks; the router always passes its clock."""
    clock_skew: timedelta = CLOCK_SKEW
    """How far ahead of `now` a sender's time may be. A simulation on a compressed clock widens it:
    a few real milliseconds between two threads are minutes of its time."""


def bureau_of(code: str) -> Address:
    return Address(Party.BUREAU, code)


def require_bureau(sender: Address, kind: Kind) -> None:
    if not sender.is_bureau:
        raise RoutingRefused("envelope.sender", f"only a market-regulation bureau may send a {kind.value}")


def targets_of(message: Message) -> list[Address]:
    targets = [Address.parse(t) for t in message.envelope.to]
    if not targets:
        raise RoutingRefused("envelope.to", f"a {message.envelope.kind.value} needs at least one addressee")
    return targets


def is_under(registry: Registry, code: str, ancestor: str) -> bool:
    if ancestor == NATIONAL:
        return code != NATIONAL
    return registry.is_under(code, ancestor)
