"""The message kinds of the contract and what is true of each, in one table.

Every list of kinds elsewhere (which replies answer what, which kinds carry case facts, which only
the broker creates, what a copy holder may send, which kinds a hub may forward) is derived from
``KINDS`` here, so a new kind is described once and each rule that reads kinds sees it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Literal


class Kind(StrEnum):
    CASE_NOTICE = "case_notice"
    ASSISTANCE_REQUEST = "assistance_request"
    ASSISTANCE_REPLY = "assistance_reply"
    EXTENSION_REQUEST = "extension_request"
    EXTENSION_DECISION = "extension_decision"
    ESCALATION = "escalation"
    DIRECTIVE = "directive"
    CASE_TRANSFER = "case_transfer"
    JURISDICTION_DESIGNATION = "jurisdiction_designation"
    COORDINATION_REQUEST = "coordination_request"
    COORDINATION_REPLY = "coordination_reply"
    POLICE_REFERRAL = "police_referral"
    POLICE_RECEIPT = "police_receipt"
    FILING_DECISION = "filing_decision"
    FILE_RETURN = "file_return"
    RECONSIDERATION_REQUEST = "reconsideration_request"
    RECEIPT_ACK = "receipt_ack"
    COMPLETION_ACK = "completion_ack"
    DEADLINE_NOTICE = "deadline_notice"
    REFERRAL_LINKED = "referral_linked"
    ASSESSMENT_REQUEST = "assessment_request"
    ASSESSMENT_RESULT = "assessment_result"
    TRANSFER_DECLINED = "transfer_declined"
    RECONSIDERATION_DECISION = "reconsideration_decision"
    SUPERVISION_SUGGESTION = "supervision_suggestion"
    JURISDICTION_REQUEST = "jurisdiction_request"
    ADMINISTRATIVE_INTERVIEW = "administrative_interview"
    JOINT_ACTION = "joint_action"
    DELIVERY_REFUSED = "delivery_refused"
    SUPERVISION_REPORT = "supervision_report"


CaseFactsRule = Literal["required", "optional", "forbidden"]


class Origin(StrEnum):
    """Who may publish a kind."""

    PARTICIPANT = "participant"
    """A bureau or a department's office, authenticated by its RabbitMQ user."""
    SYSTEM = "system"
    """The tracker, publishing as the broker's own address (and nobody else may)."""
    BROKER = "broker"
    """The router creates it as a consequence of routing; nobody may publish it."""


ACKNOWLEDGED: Final = "acknowledged"
"""For ``answers``: every kind whose ``acknowledged`` is true (what receipt and completion acks answer)."""


@dataclass(frozen=True)
class KindFacts:
    case_facts: CaseFactsRule = "forbidden"
    """Whether the envelope carries the case facts (``optional``: a directive about a case has them)."""
    answers: frozenset[Kind] | Literal["acknowledged"] | None = None
    """The kinds a reply answers (``in_reply_to`` is then required); None: answers nothing, and
    ``in_reply_to`` must be left out."""
    origin: Origin = Origin.PARTICIPANT
    acknowledged: bool = True
    """A receipt_ack or completion_ack may answer it. Not the acks themselves (an ack of an ack
    would never end), nor what the broker sends (nobody owes the broker an answer)."""
    record: bool = False
    """A record of work done (约谈, 联合执法, 不予移送), reported to be counted and supervised: it carries
    case facts but asks nothing of its recipients, so nobody owes a receipt for it."""
    forwardable: bool = False
    """A provincial hub may forward it to a bureau in its province (regional coordination)."""
    from_copy_holder: bool = False
    """The holder of a copy may send it in answer: it confirms receipt, and decides or closes nothing."""

    @property
    def is_reply(self) -> bool:
        return self.answers is not None


_FROM_BROKER = KindFacts(origin=Origin.BROKER, acknowledged=False)


def _reply(*kinds: Kind) -> KindFacts:
    return KindFacts(answers=frozenset(kinds))


KINDS: dict[Kind, KindFacts] = {
    Kind.CASE_NOTICE: KindFacts(case_facts="required", forwardable=True),
    Kind.ASSISTANCE_REQUEST: KindFacts(case_facts="required", forwardable=True),
    Kind.ASSISTANCE_REPLY: _reply(Kind.ASSISTANCE_REQUEST),
    Kind.EXTENSION_REQUEST: _reply(Kind.ASSISTANCE_REQUEST),
    Kind.EXTENSION_DECISION: _reply(Kind.EXTENSION_REQUEST),
    Kind.ESCALATION: KindFacts(case_facts="required"),
    Kind.DIRECTIVE: KindFacts(case_facts="optional"),
    Kind.CASE_TRANSFER: KindFacts(case_facts="required", forwardable=True),
    Kind.JURISDICTION_REQUEST: KindFacts(case_facts="required"),
    Kind.JURISDICTION_DESIGNATION: _reply(Kind.CASE_TRANSFER, Kind.JURISDICTION_REQUEST),
    Kind.COORDINATION_REQUEST: KindFacts(case_facts="required"),
    Kind.COORDINATION_REPLY: _reply(Kind.COORDINATION_REQUEST),
    Kind.POLICE_REFERRAL: KindFacts(case_facts="required"),
    Kind.POLICE_RECEIPT: _reply(Kind.POLICE_REFERRAL),
    Kind.FILING_DECISION: _reply(Kind.POLICE_REFERRAL),
    Kind.FILE_RETURN: _reply(Kind.POLICE_REFERRAL, Kind.FILING_DECISION),
    Kind.RECONSIDERATION_REQUEST: _reply(Kind.FILING_DECISION),
    Kind.RECONSIDERATION_DECISION: _reply(Kind.RECONSIDERATION_REQUEST),
    Kind.SUPERVISION_SUGGESTION: _reply(Kind.FILING_DECISION, Kind.RECONSIDERATION_DECISION),
    # asks the broker, not a participant: nobody owes an answer, the router answers at once
    Kind.ASSESSMENT_REQUEST: KindFacts(case_facts="required", acknowledged=False),
    Kind.ASSESSMENT_RESULT: KindFacts(
        answers=frozenset({Kind.ASSESSMENT_REQUEST}), origin=Origin.BROKER, acknowledged=False
    ),
    Kind.ADMINISTRATIVE_INTERVIEW: KindFacts(case_facts="required", record=True),
    Kind.JOINT_ACTION: KindFacts(case_facts="optional", record=True),
    Kind.TRANSFER_DECLINED: KindFacts(case_facts="required", record=True),
    Kind.RECEIPT_ACK: KindFacts(answers=ACKNOWLEDGED, acknowledged=False, from_copy_holder=True),
    Kind.COMPLETION_ACK: KindFacts(answers=ACKNOWLEDGED, acknowledged=False),
    Kind.DEADLINE_NOTICE: KindFacts(origin=Origin.SYSTEM, acknowledged=False),
    Kind.REFERRAL_LINKED: _FROM_BROKER,
    Kind.DELIVERY_REFUSED: _FROM_BROKER,
    Kind.SUPERVISION_REPORT: _reply(Kind.DIRECTIVE),
}
"""What is true of each kind. The body and its rules are in messages.py (one model per kind)."""


def _answered(facts: KindFacts) -> frozenset[Kind]:
    if facts.answers == ACKNOWLEDGED:
        return frozenset(k for k, f in KINDS.items() if f.acknowledged)
    assert not isinstance(facts.answers, str)
    return facts.answers or frozenset()


ANSWERS: dict[Kind, frozenset[Kind]] = {k: _answered(f) for k, f in KINDS.items() if f.is_reply}
"""Which kinds each reply kind may answer."""

REPLIES = frozenset(ANSWERS)
"""Kinds that name the message they answer in ``in_reply_to``."""

GENERATED_ONLY = frozenset(k for k, f in KINDS.items() if f.origin is Origin.BROKER)
"""Kinds only the broker itself creates; nobody may publish them."""

FROM_SYSTEM = frozenset(k for k, f in KINDS.items() if f.origin is Origin.SYSTEM)
"""Kinds the tracker publishes as the broker's own address, and only it."""

PUBLISHED = frozenset(k for k in KINDS if k not in GENERATED_ONLY)
"""Kinds that reach the router from a publisher (participants and the tracker)."""

CARRIES_CASE = frozenset(k for k, f in KINDS.items() if f.case_facts != "forbidden")
"""Kinds whose envelope may carry case facts."""

REQUIRES_CASE = frozenset(k for k, f in KINDS.items() if f.case_facts == "required")
"""Kinds whose envelope must carry case facts."""

CASE_BEARING = frozenset(k for k in CARRIES_CASE if not KINDS[k].record and KINDS[k].acknowledged)
"""Kinds that bring a case to their recipients (a directive only when it carries the facts): a receipt
is owed for them. A record carries the facts too, but asks nothing; nor does an assessment_request,
which only the broker reads (so no transfer decision is owed for its facts either)."""

FORWARDABLE = frozenset(k for k, f in KINDS.items() if f.forwardable)
"""Kinds a provincial hub may forward to a bureau in its province (regional coordination)."""

COPY_HOLDER_MAY_SEND = frozenset(k for k, f in KINDS.items() if f.from_copy_holder)
"""What the holder of a copy may answer it with: a receipt, nothing that closes or decides."""
