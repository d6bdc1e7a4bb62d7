"""Routing decisions: who gets a message, by which rule and why. Pure: no broker, no database.

A decision is a value. The router worker executes it (publishes one copy per delivery) and logs it;
tests check it without a broker; a replay recomputes it from the same memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from broker.domain.address import SYSTEM_ADDRESS, Address, Party
from broker.domain.assessments import answer_assessment
from broker.domain.disputes import designator, dispute_reason, held_by_transfer
from broker.domain.jurisdictions import NATIONAL
from broker.domain.kinds import ANSWERS, COPY_HOLDER_MAY_SEND, FROM_SYSTEM, GENERATED_ONLY
from broker.domain.messages import Handling, Kind, Message, Scope
from broker.domain.plausible_time import APPROVAL_MAX_AGE, SENT_AT_MAX_AGE, implausible
from broker.domain.referrals import fingerprint, linked_notice, review_referral
from broker.domain.routing_replies import (
    jurisdiction_request,
    record_report,
    reply,
    transfer_declined,
)
from broker.domain.routing_values import (
    COPY_RULES,
    RECEIVES_CASE,
    Delivery,
    InMemoryRoutingMemory,
    NotAParticipant,
    RoutedRecord,
    RoutingContext,
    RoutingDecision,
    RoutingMemory,
    RoutingRefused,
    Rule,
    bureau_of,
    case_subjects,
    is_under,
    require_bureau,
    targets_of,
)

__all__ = [
    "ANSWERS",
    "COPY_HOLDER_MAY_SEND",
    "COPY_RULES",
    "GENERATED_ONLY",
    "RECEIVES_CASE",
    "Delivery",
    "InMemoryRoutingMemory",
    "NotAParticipant",
    "RoutedRecord",
    "RoutingContext",
    "RoutingDecision",
    "RoutingMemory",
    "RoutingRefused",
    "Rule",
    "case_subjects",
    "decide",
]


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
    if kind is Kind.ASSESSMENT_REQUEST:
        return answer_assessment(message, sender, ctx.now)  # the broker answers; nobody else gets it
    deliveries, extras = _deliveries(message, sender, ctx)
    unique = _unique(d for d in deliveries if d.recipient != sender)
    if not unique:
        raise RoutingRefused("envelope.to", "the message has no recipient other than its sender")
    for delivery in unique:
        if delivery.recipient not in ctx.participants:
            raise NotAParticipant(delivery.recipient, delivery.reason)
    return RoutingDecision(env.message_id, kind, sender, env.case_id, tuple(unique), **extras)


def _deliveries(
    message: Message, sender: Address, ctx: RoutingContext
) -> tuple[list[Delivery], dict[str, Any]]:
    """The rule of the message's kind: replies go back, a referral is reviewed, a forward or a
    transfer moves the case, other kinds have their own rule or go to whom they name."""
    env = message.envelope
    if message.IS_REPLY:
        return reply(message, sender, ctx)
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
    about = f"{message.body.notice} about {message.body.regarding}"
    return [
        _supervisor_present(t, message, ctx) or Delivery(t, Rule.DEADLINE_NOTICE, about)
        for t in targets_of(message)
    ]


def _supervisor_present(target: Address, message: Message, ctx: RoutingContext) -> Delivery | None:
    """Late police escalate to the procuratorate at their level (the tracker's rules); a deployment
    without that procuratorate gets the escalation at the referring bureau's superior instead, so
    it is delivered and not refused where nobody would hear of it (its sender is the broker)."""
    if (
        target.party is not Party.PROCURATORATE
        or target in ctx.participants
        or message.body.notice != "escalation"
    ):
        return None
    referring = Address.parse(message.body.owed_to)
    superior = ctx.registry.superior_of(referring.code) if referring.is_bureau else None
    if superior is None:
        return None
    return Delivery(
        bureau_of(superior),
        Rule.DEADLINE_NOTICE,
        f"{message.body.notice} about {message.body.regarding}: no {target} is provisioned, so it "
        f"goes to the superior of {referring}",
    )


def _unique(deliveries: Iterable[Delivery]) -> list[Delivery]:
    """One delivery per recipient, the first; but a named addressee that would also get a copy (the
    sender's own hub, addressed too) gets it as an addressee, so it may answer."""
    out: dict[Address, Delivery] = {}
    for d in deliveries:
        kept = out.get(d.recipient)
        if kept is None or (kept.rule in COPY_RULES and d.rule not in COPY_RULES):
            out[d.recipient] = d
    return list(out.values())


def _escalation(message: Message, sender: Address, ctx: RoutingContext) -> list[Delivery]:
    require_bureau(sender, Kind.ESCALATION)
    superior = ctx.registry.superior_of(sender.code)
    if superior is None:
        raise RoutingRefused("envelope.sender", "the national bureau has no superior to escalate to")
    target = bureau_of(superior)
    if message.envelope.to and [Address.parse(t) for t in message.envelope.to] != [target]:
        raise RoutingRefused(
            "envelope.to", f"an escalation goes to the sender's superior {target}; leave to empty"
        )
    return [Delivery(target, Rule.ESCALATION, f"{sender} reports to its superior {target}")]


def _directive(message: Message, sender: Address, ctx: RoutingContext) -> list[Delivery]:
    require_bureau(sender, Kind.DIRECTIVE)
    if message.envelope.scope is Scope.ALL_SUBORDINATES:
        below = sorted(
            p for p in ctx.participants if p.is_bureau and is_under(ctx.registry, p.code, sender.code)
        )
        if not below:
            raise RoutingRefused("envelope.scope", f"no provisioned bureau is under {sender}")
        return [
            Delivery(p, Rule.DIRECTIVE_ALL, f"directive from {sender} to all its subordinates") for p in below
        ]
    out = []
    for target in targets_of(message):
        if not target.is_bureau or not is_under(ctx.registry, target.code, sender.code):
            raise RoutingRefused(
                "envelope.to", f"{target} is not a bureau under {sender}; directives go down the hierarchy"
            )
        out.append(Delivery(target, Rule.DIRECTIVE, f"directive from {sender} to its subordinate {target}"))
    return out


def _police_referral(
    message: Message, sender: Address, ctx: RoutingContext
) -> tuple[list[Delivery], dict[str, Any]]:
    require_bureau(sender, Kind.POLICE_REFERRAL)
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
    if procuratorate in ctx.participants:
        # Required (the 2006 opinions on the timely transfer of suspected crimes, 高检会〔2006〕2号, item 1:
        # a transfer goes to the same-level police 并抄送同级人民检察院, confirmed by a stored text;
        # Decree 310 Art. 14), so nothing switches it off: no setting, no command-line option, and no
        # handling code (no_onward_dissemination) suppresses it, since supervision is not dissemination.
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
    for target in targets_of(message):
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
        related = is_under(reg, target.code, sender.code) or is_under(reg, sender.code, target.code)
        rule = (
            same_province_rule if related or same_province_rule is not Rule.VERTICAL else Rule.INTRA_PROVINCE
        )
        return [Delivery(target, rule, f"{sender} to {target} within one province")]
    hub = bureau_of(reg.province_of(target.code))
    own = bureau_of(reg.province_of(sender.code))
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
    require_bureau(sender, Kind.CASE_TRANSFER)
    targets = targets_of(message)
    if len(targets) != 1 or not targets[0].is_bureau:
        raise RoutingRefused("envelope.to", "a case transfer names exactly one competent bureau")
    target = targets[0]
    env = message.envelope
    assert env.case is not None  # the contract requires case facts on a transfer
    held = held_by_transfer(ctx.memory, env.case_id, case_subjects(env.case), sender)
    if held is None:
        return _to_one(sender, target, ctx, Rule.TRANSFER)
    common = designator(held.received, sender, ctx.memory, ctx.registry)
    return [Delivery(common, Rule.NO_RETRANSFER, dispute_reason(held, sender, common, ctx.memory))]


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
    for target in targets_of(message):
        if not target.is_bureau or not is_under(ctx.registry, target.code, sender.code):
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


_BY_KIND: dict[Kind, Callable[[Message, Address, RoutingContext], list[Delivery]]] = {
    Kind.DEADLINE_NOTICE: _deadline_notice,
    Kind.ESCALATION: _escalation,
    Kind.DIRECTIVE: _directive,
    Kind.ADMINISTRATIVE_INTERVIEW: record_report,
    Kind.JOINT_ACTION: record_report,
    Kind.JURISDICTION_REQUEST: jurisdiction_request,
    Kind.TRANSFER_DECLINED: transfer_declined,
}
"""Kinds with a rule of their own (after replies and referrals, before forwards and transfers)."""
