"""What a simulated participant does at a given simulated time. Values only; script.py performs them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from broker.domain.address import Address
from broker.domain.messages import Kind
from broker.tools.demo.campaign import CasePlan


class CaseAction(StrEnum):
    OPEN = "open"
    """The vertical message that opens the case: a notice to the superior, or an escalation."""
    ASSIST = "assist"
    """An assistance request to a bureau in another province."""
    COORDINATE = "coordinate"
    """A coordination request (information, takedown) to the department office at the bureau's level."""
    JOIN = "join"
    """One joint enforcement action with that department office (a coordination request, joint_action)."""
    TRANSFER = "transfer"
    DIRECT = "direct"
    """The province's directive about the case to all its subordinates."""
    MISBEHAVE = "misbehave"
    """A deliberately bad message."""
    REFER = "refer"
    """The police referral of a case over the threshold."""


@dataclass(frozen=True)
class CaseStep:
    plan: CasePlan
    action: CaseAction
    by: Address | None = None
    """Who acts, when not the case's own bureau (REFER: the bureau that owes the transfer decision)."""
    to: Address | None = None
    """REFER: the police office the tracker expects the referral at."""


@dataclass(frozen=True)
class Answer:
    """`by` answers message `regarding` with a message of `kind`."""

    by: Address
    regarding: str
    kind: Kind


@dataclass(frozen=True)
class Forward:
    """A provincial hub forwards a cross-province message to the bureau it names."""

    hub: Address
    regarding: str


@dataclass(frozen=True)
class PoliceAnswer:
    """The police office answers a referral (receipt, then filing decision) like
    workers/police_example.py does."""

    police: Address
    regarding: str
    filed: bool


Step = CaseStep | Answer | Forward | PoliceAnswer
