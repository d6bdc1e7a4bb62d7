"""What the router had to do, what it says it did, and what reached the inboxes.

- Before each publish, the ledger predicts the router's decision with the pure routing rules
  (broker.domain.routing.decide, on its own in-memory routing memory) or expects a quarantine (a
  contract or authentication failure it made on purpose, or a refusal the rules predict).
- Every decision record the router publishes on rb.routing-log (routed or quarantined) comes here.
- At the end, the copies found in the inboxes are checked against every (message id, recipient)
  pair promised by a prediction or by a decision record.

lost = pairs promised but missing from the inboxes + inputs with no decision at all.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from broker.domain.address import Address
from broker.domain.jurisdictions import Registry
from broker.domain.messages import Message
from broker.domain.routing import InMemoryRoutingMemory, RoutedRecord, RoutingContext, RoutingRefused, decide

Pair = tuple[str, str]
"""(message id, recipient address)."""


@dataclass(frozen=True)
class Verdict:
    inputs: int
    """Distinct messages published (by the simulated participants and the tracker)."""
    unaccounted: int
    """Inputs the router neither routed nor quarantined."""
    surprises: int
    """Inputs whose outcome differs from the prediction (other recipients, or routed vs quarantined)."""
    copies_expected: int
    copies_found: int
    missing: int
    """Promised (message id, recipient) pairs absent from the inboxes."""
    duplicate_copies: int
    """Copies found more than once (at-least-once delivery; consumers drop them by message id)."""

    @property
    def lost(self) -> int:
        return self.missing + self.unaccounted


@dataclass
class Ledger:
    registry: Registry
    participants: frozenset[Address]
    book: dict[str, Message] = field(default_factory=dict)
    predicted: dict[str, frozenset[Pair] | None] = field(default_factory=dict)
    """Per message id published by a simulated participant: its copies, or None for a quarantine."""
    routed: dict[str, dict[str, Any]] = field(default_factory=dict)
    quarantined: dict[str, dict[str, Any]] = field(default_factory=dict)
    repeated_records: int = 0

    def __post_init__(self) -> None:
        self.memory = InMemoryRoutingMemory()
        self.context = RoutingContext(self.registry, self.participants, self.memory)

    # ---- before publishing ----

    def before_publish(self, publisher: Address, message: Message | bytes, message_id: str) -> None:
        if message_id in self.predicted:
            return  # the same message again (a reconnect): already predicted
        if isinstance(message, bytes):
            self.predicted[message_id] = None  # made to fail the contract
            return
        self.book[message_id] = message
        if message.envelope.sender != str(publisher):
            self.predicted[message_id] = None  # made to fail authentication
            return
        try:
            decision = decide(message, self.context)
        except RoutingRefused:
            self.predicted[message_id] = None
            return
        self.memory.remember(RoutedRecord.of(message, decision))
        self.predicted[message_id] = frozenset((message_id, str(d.recipient)) for d in decision.deliveries)

    # ---- the routing log ----

    def observe(self, record: dict[str, Any]) -> None:
        message_id = str(record.get("message_id"))
        target = self.routed if record.get("event") == "routed" else self.quarantined
        if message_id in self.routed or message_id in self.quarantined:
            self.repeated_records += 1
        target[message_id] = record

    def decided(self, message_id: str) -> bool:
        return message_id in self.routed or message_id in self.quarantined

    def undecided(self, message_ids: list[str]) -> list[str]:
        return [m for m in message_ids if not self.decided(m)]

    @staticmethod
    def promised(record: dict[str, Any]) -> frozenset[Pair]:
        message_id = str(record["message_id"])
        return frozenset((message_id, str(d["to"])) for d in record.get("deliveries", []))

    # ---- the verdict ----

    def verdict(self, found: Counter[Pair], notice_ids: list[str]) -> Verdict:
        inputs = [*self.predicted, *notice_ids]
        expected: set[Pair] = set()
        surprises = 0
        for message_id, pairs in self.predicted.items():
            record = self.routed.get(message_id)
            if pairs is None:
                surprises += record is not None
                continue
            expected |= pairs
            if record is None or self.promised(record) != pairs:
                surprises += 1
        for record in self.routed.values():
            expected |= self.promised(record)
        return Verdict(
            inputs=len(set(inputs)),
            unaccounted=len(self.undecided(inputs)),
            surprises=surprises,
            copies_expected=len(expected),
            copies_found=sum(found.values()),
            missing=len(expected - set(found)),
            duplicate_copies=sum(n - 1 for n in found.values() if n > 1),
        )
