"""Routing replies (back to the sender of what they answer) and the Decree 310 flows that follow a
transfer or a referral: record reports, jurisdiction requests and designations, declined
transfers, supervision suggestions. Pure: no broker, no database."""

from __future__ import annotations

from typing import Any

from broker.domain.address import Address, Party
from broker.domain.disputes import parties
from broker.domain.kinds import ANSWERS, COPY_HOLDER_MAY_SEND
from broker.domain.messages import Kind, Message
from broker.domain.routing_values import (
    COPY_RULES,
    Delivery,
    RoutedRecord,
    RoutingContext,
    RoutingRefused,
    Rule,
    bureau_of,
    is_under,
    require_bureau,
    targets_of,
)


def reply(message: Message, sender: Address, ctx: RoutingContext) -> tuple[list[Delivery], dict[str, Any]]:
    env = message.envelope
    original, rule = answered(message, sender, ctx)
    if env.kind is Kind.JURISDICTION_DESIGNATION:
        if rule not in (Rule.NO_RETRANSFER, Rule.DESIGNATION_REQUEST):
            raise RoutingRefused(
                "envelope.sender",
                f"only the common superior a disputed transfer or a request was reported to "
                f"({Rule.NO_RETRANSFER.value}, {Rule.DESIGNATION_REQUEST.value}) designates jurisdiction; "
                f"{sender} got message {original.message_id} by {rule.value}",
            )
        return designation(message, sender, original, ctx), {"subjects": original.subjects}
    if env.kind is Kind.SUPERVISION_SUGGESTION:
        return supervision_suggestion(message, sender, original, ctx), {}
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
    return out + decision_copies(message, original, ctx), {}


def answered(message: Message, sender: Address, ctx: RoutingContext) -> tuple[RoutedRecord, Rule]:
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


def decision_copies(message: Message, original: RoutedRecord, ctx: RoutingContext) -> list[Delivery]:
    kind = message.envelope.kind
    if kind not in (Kind.FILING_DECISION, Kind.RECONSIDERATION_DECISION):
        return []
    # Decree 310 Art. 8 (2020): the filing decision is copied to the procuratorate (抄送人民检察院);
    # the reconsideration decision too, so it can supervise (Art. 9).
    procuratorate = Address(Party.PROCURATORATE, original.sender.code)
    if procuratorate not in ctx.participants:
        return []
    return [Delivery(procuratorate, Rule.SUPERVISION_COPY, f"procuratorate's copy of a {kind.value}")]


def record_report(message: Message, sender: Address, ctx: RoutingContext) -> list[Delivery]:
    """Records the campaign counted go up to the superior; a joint action also to its departments."""
    require_bureau(sender, message.envelope.kind)
    if message.envelope.to:
        raise RoutingRefused(
            "envelope.to", f"a {message.envelope.kind.value} goes to the sender's superior; leave to empty"
        )
    out = []
    superior = ctx.registry.superior_of(sender.code)
    if superior is not None:
        out.append(
            Delivery(
                bureau_of(superior),
                Rule.RECORD_REPORT,
                f"{message.envelope.kind.value} record to the superior",
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


def jurisdiction_request(message: Message, sender: Address, ctx: RoutingContext) -> list[Delivery]:
    """SAMR procedure rules (designation of jurisdiction on a dispute or on request; Art. 13 and 16 as
    recalled, no stored text of them was found): to the common superior of the two bureaus, which
    designates (jurisdiction_designation)."""
    require_bureau(sender, Kind.JURISDICTION_REQUEST)
    targets = targets_of(message)
    if len(targets) != 1 or not targets[0].is_bureau or targets[0] == sender:
        raise RoutingRefused("envelope.to", "a jurisdiction request names the one other bureau concerned")
    common = bureau_of(ctx.registry.designating_superior(sender.code, targets[0].code))
    reason = f"{sender} asks the common superior {common} of it and {targets[0]} to designate jurisdiction"
    return [Delivery(common, Rule.DESIGNATION_REQUEST, reason)]


def transfer_declined(message: Message, sender: Address, ctx: RoutingContext) -> list[Delivery]:
    """Decree 310 Art. 5: a head who does not approve a transfer records the reasons; the record goes to
    the procuratorate at the bureau's level, which supervises transfers (Art. 14)."""
    require_bureau(sender, Kind.TRANSFER_DECLINED)
    procuratorate = Address(Party.PROCURATORATE, sender.code)
    if message.envelope.to and [Address.parse(t) for t in message.envelope.to] != [procuratorate]:
        raise RoutingRefused(
            "envelope.to", f"the record of a decision not to transfer goes to {procuratorate}; leave to empty"
        )
    reason = "record of a decision not to transfer (不予移送), for supervision"
    return [Delivery(procuratorate, Rule.DECLINE_RECORD, reason)]


def supervision_suggestion(
    message: Message, sender: Address, original: RoutedRecord, ctx: RoutingContext
) -> list[Delivery]:
    """Decree 310 Art. 9: the bureau that referred the case suggests 立案监督 to its own procuratorate."""
    require_bureau(sender, Kind.SUPERVISION_SUGGESTION)
    if message.envelope.to and [Address.parse(t) for t in message.envelope.to] != [
        Address(Party.PROCURATORATE, sender.code)
    ]:
        raise RoutingRefused(
            "envelope.to", "a supervision suggestion goes to the procuratorate at the bureau's level"
        )
    procuratorate = Address(Party.PROCURATORATE, sender.code)
    reason = f"suggestion of 立案监督 about {original.kind.value} {original.message_id}"
    return [Delivery(procuratorate, Rule.SUPERVISION_SUGGESTION, reason)]


def designation(
    message: Message, sender: Address, original: RoutedRecord, ctx: RoutingContext
) -> list[Delivery]:
    body = message.body
    designated = Address.parse(body.designated)
    if not designated.is_bureau or not is_under(ctx.registry, designated.code, sender.code):
        raise RoutingRefused("body.designated", f"{designated} is not a bureau under {sender}")
    reason = f"{sender} designates {designated} for case {original.case_id}"
    return [Delivery(designated, Rule.DESIGNATION, reason)] + [
        Delivery(p, Rule.REPLY, reason) for p in parties(original, ctx.memory) if p != designated
    ]
