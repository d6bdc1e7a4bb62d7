"""Helpers for tests and the benchmark: decision records made by the real routing rules, at chosen
times (throw-away databases are in broker/store/scratch.py)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from broker.domain.address import Address
from broker.domain.case import CaseFacts
from broker.domain.decision_record import DecisionRecord
from broker.domain.factory import new_message
from broker.domain.jurisdictions import default_registry
from broker.domain.kinds import REQUIRES_CASE
from broker.domain.messages import Kind, Message
from broker.domain.referrals import referral_body
from broker.domain.routing import InMemoryRoutingMemory, RoutedRecord, RoutingContext, decide
from broker.tools.contract.examples import CASE_FACTS
from broker.tracker.record import Routed, parse_record

PARTICIPANTS = (
    "bureau:000000",
    "bureau:330000",
    "bureau:330600",
    "bureau:330602",
    "bureau:330681",
    "bureau:330100",
    "bureau:440000",
    "bureau:440300",
    "bureau:440100",
    "bureau:110000",
    "bureau:110105",
    "police:330681",
    "police:330600",
    "procuratorate:330681",
    "telecom:330681",
    "telecom:330600",
)

BELOW_THRESHOLD: dict[str, Any] = CASE_FACTS
"""The 2019 report's developer case: 320 records sold for ¥1,200, an administrative matter."""

OVER_THRESHOLD: dict[str, Any] = {
    **BELOW_THRESHOLD,
    "records": [{"category": "other", "provided": 6000, "held": 0}],
}
"""6,000 records of other personal information: over the 5,000 of Art. 5 item 5."""

BODIES: dict[Kind, dict[str, Any]] = {
    Kind.CASE_NOTICE: {"summary": "s"},
    Kind.ASSISTANCE_REQUEST: {"questions": ["q"]},
    Kind.ASSISTANCE_REPLY: {"findings": "f", "complete": True},
    Kind.EXTENSION_REQUEST: {"extra_working_days": 10, "reason": "r"},
    Kind.EXTENSION_DECISION: {"granted": True, "extra_working_days": 10},
    Kind.ESCALATION: {"reason": "r"},
    Kind.DIRECTIVE: {"directive_type": "guidance", "instructions": "i"},
    Kind.CASE_TRANSFER: {"reason": "r"},
    Kind.COORDINATION_REQUEST: {"action": "information", "request": "r"},
    Kind.COORDINATION_REPLY: {"answer": "a"},
    Kind.POLICE_RECEIPT: {"received_at": "2024-09-01T08:00:00+08:00"},
    Kind.FILING_DECISION: {"decision": "filed"},
    Kind.FILE_RETURN: {},
    Kind.RECONSIDERATION_REQUEST: {"reason": "r"},
    Kind.RECEIPT_ACK: {},
    Kind.COMPLETION_ACK: {},
}


class Desk:
    """Routes messages with the real routing rules and returns their decision records, routed at the
    time given, as the tracker reads them; ``records`` holds each as the JSON object published."""

    def __init__(self, participants: tuple[str, ...] = PARTICIPANTS) -> None:
        self.memory = InMemoryRoutingMemory()
        self.ctx = RoutingContext(
            default_registry(), frozenset(Address.parse(p) for p in participants), self.memory
        )
        self.records: dict[str, dict[str, Any]] = {}

    def send(
        self,
        kind: Kind,
        sender: str,
        to: list[str],
        at: datetime,
        case_id: str = "C-1",
        body: dict[str, Any] | None = None,
        facts: dict[str, Any] | Literal["default"] | None = "default",
        **envelope: Any,
    ) -> Routed:
        """Route a message; ``facts`` defaults to below-threshold facts for kinds that carry them."""
        bears_facts = kind in REQUIRES_CASE
        case = (BELOW_THRESHOLD if bears_facts else None) if facts == "default" else facts
        if kind is Kind.POLICE_REFERRAL and body is None:
            # the router checks the finding against its own assessment of the facts
            body = referral_body(
                CaseFacts.model_validate(case), "head", (at - timedelta(hours=2)).isoformat()
            )
        message = new_message(
            kind, sender, to, case_id, body if body is not None else BODIES[kind], case=case, **envelope
        )
        return self.route(message, at)

    def reply(
        self,
        original: Routed,
        kind: Kind,
        sender: str,
        at: datetime,
        body: dict[str, Any] | None = None,
    ) -> Routed:
        return self.send(
            kind, sender, [], at, original.case_id, body, facts=None, in_reply_to=original.message_id
        )

    def forward(self, original: Routed, hub: str, to: list[str], at: datetime) -> Routed:
        """A provincial hub forwards a cross-province message to a bureau of its province."""
        record = self.records[original.message_id]
        return self.send(
            original.kind, hub, to, at, original.case_id, facts=record["case"], forwards=original.message_id
        )

    def route(self, message: Message, at: datetime) -> Routed:
        decision = decide(message, self.ctx)
        self.memory.remember(RoutedRecord.of(message, decision))
        record = DecisionRecord.of(message, decision, at)
        self.records[str(record.message_id)] = record.wire()
        return parse_record(record.model_dump_json())  # the bytes, as the tracker reads them
