"""Routing decisions: who gets a message, by which rule and why. Pure: no broker, no database.

A decision is a value. The router worker executes it (publishes one copy per delivery) and logs it;
tests check it without a broker; a replay recomputes it from the same memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol
from uuid import UUID

from broker.domain.address import SYSTEM_ADDRESS, Address, Party
from broker.domain.case import CaseFacts
from broker.domain.jurisdictions import NATIONAL, Registry
from broker.domain.kinds import ANSWERS, COPY_HOLDER_MAY_SEND, FROM_SYSTEM, GENERATED_ONLY
from broker.domain.messages import Handling, Kind, Message, Scope
from broker.domain.plausible_time import APPROVAL_MAX_AGE, CLOCK_SKEW, SENT_AT_MAX_AGE, implausible
from broker.domain.referrals import fingerprint, linked_notice, review_referral


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
    """Messages the broker itself sends because of this decision (referral_linked)."""
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


def case_subjects(facts: CaseFacts) -> frozenset[str]:
    """What a case is about: the company's credit code with each violation, one subject each.

    The no-retransfer rule matches these as well as the case id: every bureau numbers cases its own
    way and counts grow as an investigation goes on, so neither the id nor the exact facts identify
    a case that changes hands. A false match only sends a transfer to the common superior."""
    return frozenset(f"{facts.company_credit_code}/{v.value}" for v in facts.violations)


class RoutingMemory(Protocol):
    def original(self, message_id: UUID) -> RoutedRecord | None:
        """The routed message with this id, if the router has routed it."""

    def holds_by_transfer(self, case_id: str, bureau: Address) -> bool:
        """Whether this bureau received the case by transfer, forward or designation."""

    def holds_subject_by_transfer(self, subjects: frozenset[str], bureau: Address) -> bool:
        """Whether this bureau received, by transfer, forward or designation, a case with any of these
        subjects (the same company and violation), whatever its case id."""

    def referral(self, fingerprint: str) -> RoutedRecord | None:
        """The first police referral routed with this fingerprint."""


@dataclass
class InMemoryRoutingMemory:
    """A RoutingMemory in a dict, for tests and replays."""

    records: dict[UUID, RoutedRecord] = field(default_factory=dict)

    def original(self, message_id: UUID) -> RoutedRecord | None:
        return self.records.get(message_id)

    def holds_by_transfer(self, case_id: str, bureau: Address) -> bool:
        return any(
            r.case_id == case_id and (bureau, rule) in r.deliveries
            for r in self.records.values()
            for rule in RECEIVES_CASE
        )

    def holds_subject_by_transfer(self, subjects: frozenset[str], bureau: Address) -> bool:
        return any(
            r.subjects & subjects and any(a == bureau and rule in RECEIVES_CASE for a, rule in r.deliveries)
            for r in self.records.values()
        )

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
    copy_referrals_to_procuratorate: bool = True
    """Send a supervision copy of each police referral to the procuratorate at the same level. The
    copy is required (2006 opinions on timely transfer of suspected crimes, procuratorial supervision;
    Decree 310 Art. 14): only test desks turn it off, and no handling code suppresses it."""
    now: datetime | None = None
    """The router's clock, which sent_at and a referral's approved_at must lie near
    (broker/domain/plausible_time.py). None (replays of recorded traffic, test desks) skips those
    checks; the router always passes its clock."""
    clock_skew: timedelta = CLOCK_SKEW
    """How far ahead of `now` a sender's time may be. A simulation on a compressed clock widens it:
    a few real milliseconds between two threads are minutes of its time."""


def decide(message: Message, ctx: RoutingContext) -> RoutingDecision:
    """Compute who receives the message. Raises RoutingRefused when no rule allows it."""
    env = message.envelope
    sender = Address.parse(env.sender)
    kind = env.kind
    if kind in GENERATED_ONLY:
        raise RoutingRefused("envelope.kind", f"a {kind.value} is created by the broker only")
    if (kind in FROM_SYSTEM) != (sender == SYSTEM_ADDRESS):
        raise RoutingRefused(
            "envelope.sender", f"deadline notices come from {SYSTEM_ADDRESS}, and only they do"
        )
    if ctx.now is not None and (off := implausible(env.sent_at, ctx.now, SENT_AT_MAX_AGE, ctx.clock_skew)):
        raise RoutingRefused("envelope.sent_at", off)
    deliveries, extras = _deliveries(message, sender, ctx)
    unique = _unique(d for d in deliveries if d.recipient != sender)
    if not unique:
        raise RoutingRefused("envelope.to", "the message has no recipient other than its sender")
    for delivery in unique:
        if delivery.recipient not in ctx.participants:
            raise RoutingRefused(
                "envelope.to", f"{delivery.recipient} is not a provisioned participant ({delivery.reason})"
            )
    return RoutingDecision(env.message_id, kind, sender, env.case_id, tuple(unique), **extras)


def _deliveries(
    message: Message, sender: Address, ctx: RoutingContext
) -> tuple[list[Delivery], dict[str, Any]]:
    """The rule of the message's kind: replies go back, a referral is reviewed, a forward or a
    transfer moves the case, other kinds have their own rule or go to whom they name."""
    env = message.envelope
    if message.IS_REPLY:
        return _reply(message, sender, ctx)
    if env.kind is Kind.POLICE_REFERRAL:
        return _police_referral(message, sender, ctx)
    by_kind = _BY_KIND.get(env.kind)
    if by_kind is not None:
        return by_kind(message, sender, ctx), {}
    if env.forwards is not None:
        return _forward(message, sender, ctx), {}
    if env.kind is Kind.CASE_TRANSFER:
        return _transfer(message, sender, ctx), {}
    return _addressed(message, sender, ctx), {}


def _deadline_notice(message: Message, sender: Address, ctx: RoutingContext) -> list[Delivery]:
    return [
        Delivery(t, Rule.DEADLINE_NOTICE, f"{message.body.notice} about {message.body.regarding}")
        for t in _targets(message)
    ]


def _unique(deliveries: Iterable[Delivery]) -> list[Delivery]:
    """One delivery per recipient, the first; but a named addressee that would also get a copy (the
    sender's own hub, addressed too) gets it as an addressee, so it may answer."""
    out: dict[Address, Delivery] = {}
    for d in deliveries:
        kept = out.get(d.recipient)
        if kept is None or (kept.rule in COPY_RULES and d.rule not in COPY_RULES):
            out[d.recipient] = d
    return list(out.values())


def _bureau(code: str) -> Address:
    return Address(Party.BUREAU, code)


def _require_bureau(sender: Address, kind: Kind) -> None:
    if not sender.is_bureau:
        raise RoutingRefused("envelope.sender", f"only a market-regulation bureau may send a {kind.value}")


def _targets(message: Message) -> list[Address]:
    targets = [Address.parse(t) for t in message.envelope.to]
    if not targets:
        raise RoutingRefused("envelope.to", f"a {message.envelope.kind.value} needs at least one addressee")
    return targets


def _escalation(message: Message, sender: Address, ctx: RoutingContext) -> list[Delivery]:
    _require_bureau(sender, Kind.ESCALATION)
    superior = ctx.registry.superior_of(sender.code)
    if superior is None:
        raise RoutingRefused("envelope.sender", "the national bureau has no superior to escalate to")
    target = _bureau(superior)
    if message.envelope.to and [Address.parse(t) for t in message.envelope.to] != [target]:
        raise RoutingRefused(
            "envelope.to", f"an escalation goes to the sender's superior {target}; leave to empty"
        )
    return [Delivery(target, Rule.ESCALATION, f"{sender} reports to its superior {target}")]


def _directive(message: Message, sender: Address, ctx: RoutingContext) -> list[Delivery]:
    _require_bureau(sender, Kind.DIRECTIVE)
    if message.envelope.scope is Scope.ALL_SUBORDINATES:
        below = sorted(
            p for p in ctx.participants if p.is_bureau and _is_under(ctx.registry, p.code, sender.code)
        )
        if not below:
            raise RoutingRefused("envelope.scope", f"no provisioned bureau is under {sender}")
        return [
            Delivery(p, Rule.DIRECTIVE_ALL, f"directive from {sender} to all its subordinates") for p in below
        ]
    out = []
    for target in _targets(message):
        if not target.is_bureau or not _is_under(ctx.registry, target.code, sender.code):
            raise RoutingRefused(
                "envelope.to", f"{target} is not a bureau under {sender}; directives go down the hierarchy"
            )
        out.append(Delivery(target, Rule.DIRECTIVE, f"directive from {sender} to its subordinate {target}"))
    return out


def _police_referral(
    message: Message, sender: Address, ctx: RoutingContext
) -> tuple[list[Delivery], dict[str, Any]]:
    _require_bureau(sender, Kind.POLICE_REFERRAL)
    env = message.envelope
    assert env.case is not None  # the contract requires case facts on a referral
    police = Address(Party.POLICE, sender.code)
    if env.to and [Address.parse(t) for t in env.to] != [police]:
        raise RoutingRefused(
            "envelope.to", f"a police referral goes to the police office at the bureau's own level, {police}"
        )
    # The head decides (Decree 310 Art. 5); the evaluator advises, so a disagreement is recorded and
    # flagged, and only a referral under the threshold on Art. 5 alone stays refused.
    review = review_referral(env.case, message.body)
    if review.refusal is not None:
        raise RoutingRefused(*review.refusal)
    _plausible_approval(message, ctx)
    extras: dict[str, Any] = {"threshold": review.record()}
    first = ctx.memory.referral(fingerprint(env.case))
    if first is not None and first.message_id != env.message_id:
        # Decree 310 Art. 5: a transfer goes to the referring bureau's same-level police, a duplicate
        # too; it carries the link to the first referral, and the police offices coordinate.
        extras["linked_to"] = first.message_id
        extras["notices"] = (linked_notice(first, message, str(police)),)
        reason = f"same company and facts as referral {first.message_id} from {first.sender}: linked to it"
        out = [Delivery(police, Rule.REFERRAL_LINKED, reason)]
    else:
        reason = f"criminal referral from {sender} to same-level police"
        out = [Delivery(police, Rule.POLICE_REFERRAL, reason)]
    procuratorate = Address(Party.PROCURATORATE, sender.code)
    if ctx.copy_referrals_to_procuratorate and procuratorate in ctx.participants:
        # Required, so no_onward_dissemination does not suppress it: supervision is not dissemination.
        if review.disagreement is None:
            reason = "supervision copy of a police referral"
            out.append(Delivery(procuratorate, Rule.SUPERVISION_COPY, reason))
        else:
            field, why = review.disagreement
            out.append(
                Delivery(
                    procuratorate,
                    Rule.SUPERVISION_COPY_DISPUTED,
                    f"supervision copy of a police referral; the head's reading and the evaluator's differ "
                    f"({field}: {why})",
                )
            )
    return out, extras


def _plausible_approval(message: Message, ctx: RoutingContext) -> None:
    """The head approves before the referral is sent, and not in another era: the tracker counts the
    24-hour transfer deadline from this time."""
    if ctx.now is None:
        return
    approved_at = message.body.approved_at
    off = implausible(approved_at, ctx.now, APPROVAL_MAX_AGE, ctx.clock_skew)
    if off is None and approved_at > message.envelope.sent_at + ctx.clock_skew:
        off = "is after the referral's sent_at; the head approves before the transfer is sent"
    if off is not None:
        raise RoutingRefused("body.approved_at", off)


def _addressed(message: Message, sender: Address, ctx: RoutingContext) -> list[Delivery]:
    out: list[Delivery] = []
    for target in _targets(message):
        out.extend(_to_one(sender, target, ctx, Rule.VERTICAL))
    return out


def _to_one(
    sender: Address, target: Address, ctx: RoutingContext, same_province_rule: Rule
) -> list[Delivery]:
    """Deliveries that carry a message from sender to one named addressee."""
    reg = ctx.registry
    if not sender.is_bureau or not target.is_bureau:
        if sender.is_bureau == target.is_bureau:
            raise RoutingRefused("envelope.to", "departments talk to bureaus here, not to each other")
        if target.code != sender.code:
            office = Address(target.party, sender.code)
            raise RoutingRefused(
                "envelope.to",
                f"interdepartmental messages go to the office at the sender's own level ({office}), "
                f"not {target}",
            )
        return [Delivery(target, Rule.DEPARTMENT, f"interdepartmental: {sender} to {target}")]
    if NATIONAL in (sender.code, target.code) or reg.province_of(sender.code) == reg.province_of(target.code):
        related = _is_under(reg, target.code, sender.code) or _is_under(reg, sender.code, target.code)
        rule = (
            same_province_rule if related or same_province_rule is not Rule.VERTICAL else Rule.INTRA_PROVINCE
        )
        return [Delivery(target, rule, f"{sender} to {target} within one province")]
    hub = _bureau(reg.province_of(target.code))
    own = _bureau(reg.province_of(sender.code))
    out = [
        Delivery(
            hub,
            Rule.HUB_INBOUND,
            f"cross-province: {target} is reached through its provincial bureau {hub}, which forwards",
        )
    ]
    if own != sender:
        out.append(
            Delivery(own, Rule.HUB_OUTBOUND, f"cross-province: copy to the sender's provincial bureau {own}")
        )
    return out


def _transfer(message: Message, sender: Address, ctx: RoutingContext) -> list[Delivery]:
    _require_bureau(sender, Kind.CASE_TRANSFER)
    targets = _targets(message)
    if len(targets) != 1 or not targets[0].is_bureau:
        raise RoutingRefused("envelope.to", "a case transfer names exactly one competent bureau")
    target = targets[0]
    env = message.envelope
    assert env.case is not None  # the contract requires case facts on a transfer
    if ctx.memory.holds_by_transfer(env.case_id, sender):
        held = f"case {env.case_id}"
    elif ctx.memory.holds_subject_by_transfer(case_subjects(env.case), sender):
        held = "a case about the same company and violation"
    else:
        return _to_one(sender, target, ctx, Rule.TRANSFER)
    common = _bureau(ctx.registry.common_superior(sender.code, target.code))
    return [
        Delivery(
            common,
            Rule.NO_RETRANSFER,
            f"{sender} received {held} by transfer and may not transfer it on; "
            f"the common superior {common} designates jurisdiction (SAMR procedure rules, Art. 14)",
        )
    ]


def _forward(message: Message, sender: Address, ctx: RoutingContext) -> list[Delivery]:
    env = message.envelope
    assert env.forwards is not None
    original = ctx.memory.original(env.forwards)
    if original is None:
        raise RoutingRefused(
            "envelope.forwards", f"refers to message {env.forwards}, which this broker has not routed"
        )
    if (sender, Rule.HUB_INBOUND) not in original.deliveries:
        raise RoutingRefused(
            "envelope.forwards", f"{sender} did not receive message {env.forwards} as provincial hub"
        )
    if original.kind is not env.kind or original.case_id != env.case_id:
        raise RoutingRefused(
            "envelope.forwards", "a forward keeps the kind and case id of the message it forwards"
        )
    if not original.handling <= set(env.handling):
        raise RoutingRefused(
            "envelope.handling", "a forward keeps every handling restriction of the original"
        )
    out = []
    for target in _targets(message):
        if not target.is_bureau or not _is_under(ctx.registry, target.code, sender.code):
            raise RoutingRefused(
                "envelope.to", f"{sender} forwards only to bureaus in its own province, not {target}"
            )
        if Handling.NO_ONWARD_DISSEMINATION in original.handling and target not in original.to:
            raise RoutingRefused(
                "envelope.to",
                f"message {env.forwards} is marked no_onward_dissemination; it may reach only the addressees "
                f"its sender named, not {target}",
            )
        out.append(
            Delivery(target, Rule.FORWARD, f"provincial hub {sender} forwards to the competent bureau")
        )
    return out


def _reply(message: Message, sender: Address, ctx: RoutingContext) -> tuple[list[Delivery], dict[str, Any]]:
    env = message.envelope
    original, rule = _answered(message, sender, ctx)
    if env.kind is Kind.JURISDICTION_DESIGNATION:
        if rule not in (Rule.NO_RETRANSFER, Rule.DESIGNATION_REQUEST):
            raise RoutingRefused(
                "envelope.sender",
                f"only the common superior a disputed transfer or a request was reported to "
                f"({Rule.NO_RETRANSFER.value}, {Rule.DESIGNATION_REQUEST.value}) designates jurisdiction; "
                f"{sender} got message {original.message_id} by {rule.value}",
            )
        return _designation(message, sender, original, ctx), {"subjects": original.subjects}
    if env.kind is Kind.SUPERVISION_SUGGESTION:
        return _supervision_suggestion(message, sender, original, ctx), {}
    out = [Delivery(original.sender, Rule.REPLY, f"answer to {original.kind.value} {original.message_id}")]
    if original.forwards is not None:
        first = ctx.memory.original(original.forwards)
        if first is not None:
            out.append(
                Delivery(
                    first.sender, Rule.REPLY_REGIONAL, "answer to a cross-province message, to its origin"
                )
            )
    expected = {d.recipient for d in out}
    if env.to and not {Address.parse(t) for t in env.to} <= expected:
        raise RoutingRefused(
            "envelope.to", "replies go back to the sender of what they answer; leave to empty"
        )
    return out + _decision_copies(message, original, ctx), {}


def _answered(message: Message, sender: Address, ctx: RoutingContext) -> tuple[RoutedRecord, Rule]:
    """The message a reply answers and the rule its sender received that by; refused when the
    broker never routed it, it is not what this kind answers, or the sender may not answer it."""
    env = message.envelope
    assert env.in_reply_to is not None
    original = ctx.memory.original(env.in_reply_to)
    if original is None:
        raise RoutingRefused(
            "envelope.in_reply_to", f"refers to message {env.in_reply_to}, which this broker has not routed"
        )
    allowed = ANSWERS[env.kind]
    if original.kind not in allowed:
        raise RoutingRefused(
            "envelope.in_reply_to",
            f"a {env.kind.value} answers a {' or '.join(sorted(k.value for k in allowed))}, "
            f"not a {original.kind.value}",
        )
    rule = original.rule_for(sender)
    if rule is None:
        raise RoutingRefused(
            "envelope.sender", f"{sender} did not receive message {original.message_id} and cannot answer it"
        )
    if rule in COPY_RULES and env.kind not in COPY_HOLDER_MAY_SEND:
        raise RoutingRefused(
            "envelope.sender",
            f"{sender} holds only a copy of message {original.message_id} ({rule.value}); a copy holder "
            f"may answer with {' or '.join(sorted(k.value for k in COPY_HOLDER_MAY_SEND))}, "
            f"not a {env.kind.value}",
        )
    return original, rule


def _decision_copies(message: Message, original: RoutedRecord, ctx: RoutingContext) -> list[Delivery]:
    kind = message.envelope.kind
    if (
        kind not in (Kind.FILING_DECISION, Kind.RECONSIDERATION_DECISION)
        or not ctx.copy_referrals_to_procuratorate
    ):
        return []
    # Decree 310 Art. 8 (2020): the filing decision is copied to the procuratorate (抄送人民检察院);
    # the reconsideration decision too, so it can supervise (Art. 9).
    procuratorate = Address(Party.PROCURATORATE, original.sender.code)
    if procuratorate not in ctx.participants:
        return []
    return [Delivery(procuratorate, Rule.SUPERVISION_COPY, f"procuratorate's copy of a {kind.value}")]


def _record_report(message: Message, sender: Address, ctx: RoutingContext) -> list[Delivery]:
    """Records the campaign counted go up to the superior; a joint action also to its departments."""
    _require_bureau(sender, message.envelope.kind)
    if message.envelope.to:
        raise RoutingRefused(
            "envelope.to", f"a {message.envelope.kind.value} goes to the sender's superior; leave to empty"
        )
    out = []
    superior = ctx.registry.superior_of(sender.code)
    if superior is not None:
        out.append(
            Delivery(
                _bureau(superior), Rule.RECORD_REPORT, f"{message.envelope.kind.value} record to the superior"
            )
        )
    for i, text in enumerate(getattr(message.body, "departments", [])):
        office = Address.parse(text)
        if office.is_bureau or office.code != sender.code:
            raise RoutingRefused(
                f"body.departments.{i}",
                f"names a department office at the bureau's own level ({sender.code})",
            )
        out.append(Delivery(office, Rule.RECORD_REPORT, "joint action record to a department that took part"))
    return out


def _jurisdiction_request(message: Message, sender: Address, ctx: RoutingContext) -> list[Delivery]:
    """SAMR procedure rules (designation of jurisdiction; article not checked against a stored text):
    to the common superior of the two bureaus, which designates (jurisdiction_designation)."""
    _require_bureau(sender, Kind.JURISDICTION_REQUEST)
    targets = _targets(message)
    if len(targets) != 1 or not targets[0].is_bureau or targets[0] == sender:
        raise RoutingRefused("envelope.to", "a jurisdiction request names the one other bureau concerned")
    common = _bureau(ctx.registry.common_superior(sender.code, targets[0].code))
    reason = f"{sender} asks the common superior {common} of it and {targets[0]} to designate jurisdiction"
    return [Delivery(common, Rule.DESIGNATION_REQUEST, reason)]


def _transfer_declined(message: Message, sender: Address, ctx: RoutingContext) -> list[Delivery]:
    """Decree 310 Art. 5: a head who does not approve a transfer records the reasons; the record goes to
    the procuratorate at the bureau's level, which supervises transfers (Art. 14)."""
    _require_bureau(sender, Kind.TRANSFER_DECLINED)
    procuratorate = Address(Party.PROCURATORATE, sender.code)
    if message.envelope.to and [Address.parse(t) for t in message.envelope.to] != [procuratorate]:
        raise RoutingRefused(
            "envelope.to", f"the record of a decision not to transfer goes to {procuratorate}; leave to empty"
        )
    reason = "record of a decision not to transfer (不予移送), for supervision"
    return [Delivery(procuratorate, Rule.DECLINE_RECORD, reason)]


def _supervision_suggestion(
    message: Message, sender: Address, original: RoutedRecord, ctx: RoutingContext
) -> list[Delivery]:
    """Decree 310 Art. 9: the bureau that referred the case suggests 立案监督 to its own procuratorate."""
    _require_bureau(sender, Kind.SUPERVISION_SUGGESTION)
    if message.envelope.to and [Address.parse(t) for t in message.envelope.to] != [
        Address(Party.PROCURATORATE, sender.code)
    ]:
        raise RoutingRefused(
            "envelope.to", "a supervision suggestion goes to the procuratorate at the bureau's level"
        )
    procuratorate = Address(Party.PROCURATORATE, sender.code)
    reason = f"suggestion of 立案监督 about {original.kind.value} {original.message_id}"
    return [Delivery(procuratorate, Rule.SUPERVISION_SUGGESTION, reason)]


def _designation(
    message: Message, sender: Address, original: RoutedRecord, ctx: RoutingContext
) -> list[Delivery]:
    body = message.body
    designated = Address.parse(body.designated)
    if not designated.is_bureau or not _is_under(ctx.registry, designated.code, sender.code):
        raise RoutingRefused("body.designated", f"{designated} is not a bureau under {sender}")
    parties = [designated, original.sender, *original.to]
    reason = f"{sender} designates {designated} for case {original.case_id}"
    return [Delivery(designated, Rule.DESIGNATION, reason)] + [
        Delivery(p, Rule.REPLY, reason) for p in parties[1:]
    ]


def _is_under(registry: Registry, code: str, ancestor: str) -> bool:
    if ancestor == NATIONAL:
        return code != NATIONAL
    return registry.is_under(code, ancestor)


__all__ = [
    "ANSWERS",
    "COPY_HOLDER_MAY_SEND",
    "COPY_RULES",
    "GENERATED_ONLY",
    "Delivery",
    "InMemoryRoutingMemory",
    "RoutedRecord",
    "RoutingContext",
    "RoutingDecision",
    "RoutingMemory",
    "RoutingRefused",
    "Rule",
    "case_subjects",
    "decide",
]


_BY_KIND: dict[Kind, Callable[[Message, Address, RoutingContext], list[Delivery]]] = {
    Kind.DEADLINE_NOTICE: _deadline_notice,
    Kind.ESCALATION: _escalation,
    Kind.DIRECTIVE: _directive,
    Kind.ADMINISTRATIVE_INTERVIEW: _record_report,
    Kind.JOINT_ACTION: _record_report,
    Kind.JURISDICTION_REQUEST: _jurisdiction_request,
    Kind.TRANSFER_DECLINED: _transfer_declined,
}
"""Kinds with a rule of their own (after replies and referrals, before forwards and transfers)."""
