"""What each step makes of one input: values, so a batch's fate can be logged, tested and replayed."""

from __future__ import annotations

from dataclasses import dataclass

from broker.domain.address import Address
from broker.domain.messages import Message
from broker.domain.routing import RoutingDecision


@dataclass(frozen=True)
class Quarantine:
    stage: str
    """transport, rate, contract, authentication, routing, duplicate or internal"""
    field: str
    reason: str
    clear_body: bool = False
    """A plaintext body where only sealed ones are taken: kept out of the quarantine, whatever the
    sender's share (broker/router/bodies.py)."""

    @classmethod
    def internal(cls, error: BaseException) -> Quarantine:
        """A router bug some input triggered: the input is set aside, the error's text is not copied."""
        return cls("internal", "$", f"router error {type(error).__name__}; reported to operators")


@dataclass(frozen=True)
class Checked:
    """A message that passed the contract and authentication, before routing."""

    message: Message
    digest: str
    body: bytes
    """The bytes as the sender published them; recipients get exactly these."""


@dataclass(frozen=True)
class Duplicate:
    message_id: str


@dataclass(frozen=True)
class Attempt:
    """An input to route: new, or resumed after an earlier attempt recorded its decision."""

    resume: frozenset[Address] | None = None
    """Recipients an earlier attempt did not get confirmed; None when nothing was recorded."""


@dataclass(frozen=True)
class Route:
    message: Message
    decision: RoutingDecision
    digest: str
    body: bytes
    pending: frozenset[Address]
    """Recipients still to publish to (all of them, unless this is a redelivery)."""
    new: bool
    """False when an earlier attempt already recorded the decision."""


Outcome = Quarantine | Route | Duplicate
