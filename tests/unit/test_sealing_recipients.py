"""recipients_of (broker/sealing/recipients.py) agrees with the router's decision for the committed
examples, routed in order as the router would, each computed from the sender's side: its own
participants list and a memory of only the messages the sender took part in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from broker.domain.address import Address, Party
from broker.domain.jurisdictions import NATIONAL, default_registry
from broker.domain.messages import Message
from broker.domain.routing import (
    InMemoryRoutingMemory,
    RoutedRecord,
    RoutingContext,
    RoutingRefused,
    decide,
)
from broker.domain.validation import parse_message
from broker.sealing.recipients import recipients_of
from broker.sealing.vectors import RECIPIENTS, SENDER

EXAMPLES = Path(__file__).resolve().parents[2] / "schemas" / "examples"


def committed_examples() -> list[Message]:
    messages = [parse_message(p.read_bytes()) for p in EXAMPLES.glob("*.json")]
    return sorted(messages, key=lambda m: m.envelope.message_id)


def participants_of(messages: list[Message]) -> frozenset[Address]:
    """Everyone the examples name, with the procuratorate, the provincial bureau and the superior
    at each level, as a provisioned deployment has them."""
    registry = default_registry()
    named = {Address.parse(a) for m in messages for a in (m.envelope.sender, *m.envelope.to)}
    out = set(named)
    for a in named:
        if a.code == NATIONAL or a.party is Party.SYSTEM:
            continue
        out.add(Address(Party.PROCURATORATE, a.code))
        out.add(Address(Party.BUREAU, registry.province_of(a.code)))
        if (superior := registry.superior_of(a.code)) is not None:
            out.add(Address(Party.BUREAU, superior))
    return frozenset(out)


def test_recipients_of_agrees_with_the_routing_decision_for_every_committed_example() -> None:
    messages = committed_examples()
    assert len(messages) == len(list(EXAMPLES.glob("*.json"))) >= 27
    participants = participants_of(messages)
    router_memory = InMemoryRoutingMemory()
    router = RoutingContext(default_registry(), participants, router_memory)
    own_memory: dict[Address, InMemoryRoutingMemory] = {}
    agreed = refused = 0
    for message in messages:
        sender = Address.parse(message.envelope.sender)
        theirs = own_memory.setdefault(sender, InMemoryRoutingMemory())
        try:
            decision = decide(message, router)
        except RoutingRefused:
            # The sender learns before sending; its reason may differ (it lacks what it never saw).
            with pytest.raises(RoutingRefused):
                recipients_of(message, participants, memory=theirs)
            refused += 1
            continue
        assert recipients_of(message, {str(p) for p in participants}, memory=theirs) == tuple(
            str(r) for r in decision.recipients
        ), message.envelope.kind
        agreed += 1
        record = RoutedRecord.of(message, decision)
        router_memory.remember(record)
        for party in (sender, *decision.recipients):
            own_memory.setdefault(party, InMemoryRoutingMemory()).remember(record)
    # 25 routed, replies and decisions among them (the supervision_report too), each agreed on from
    # the sender's memory alone (an assessment_request has no recipient: the broker answers it); the
    # 5 the router refuses (three kinds only the broker creates, two replies out of turn) refused too.
    assert (agreed, refused) == (25, 5), (agreed, refused)


def test_the_vectors_police_referral_goes_where_recipients_of_says() -> None:
    referral = json.loads((EXAMPLES / "police_referral.json").read_text(encoding="utf-8"))
    message = parse_message(json.dumps(referral).encode())
    assert message.envelope.sender == SENDER
    assert recipients_of(message, [SENDER, *RECIPIENTS]) == RECIPIENTS
    # Without the procuratorate provisioned the supervision copy is not sent, and not sealed for.
    assert recipients_of(message, [SENDER, RECIPIENTS[0]]) == RECIPIENTS[:1]
