"""The record of one routing decision, as published on rb.routing-log for operators and the tracker.

It is built from the envelope and the decision only, never from personal data. A few kinds carry
deadline facts in their body (an extension's days, a filing decision); those fields, and only
those, are copied, since the tracker needs them and they name no person.

`DecisionRecord` is the one definition of the layout: the router builds it (`DecisionRecord.of`,
and `wire_bytes` for the JSON it publishes) and the tracker parses the bytes straight
into it. schemas/v2.1/records.schema.json (RoutedRecord) describes the same JSON.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer

from broker.domain.address import AddressText
from broker.domain.case import CaseFacts
from broker.domain.messages import (
    AssistanceReply,
    Directive,
    ExtensionDecision,
    ExtensionRequest,
    FilingDecision,
    Handling,
    Kind,
    Message,
    PoliceReferral,
)
from broker.domain.routing import RoutingDecision, Rule

RECORD_VERSION: Literal[1] = 1
"""Version of the record layout; consumers check it."""

Time = Annotated[AwareDatetime, PlainSerializer(lambda when: when.isoformat(), return_type=str)]
"""A time with its UTC offset, written as Python's isoformat (``+00:00``, not pydantic's ``Z``), as
the records have always been written."""


def _absent(value: object) -> bool:
    return value is None


def _omitted() -> Any:
    """A field written only when it has a value: pydantic leaves it out in its own serializer,
    with no pass of ours over what it wrote."""
    return Field(None, exclude_if=_absent)


class _Part(BaseModel):
    # Unknown keys are ignored, as the tracker always did: a reader of version 1 tolerates what a
    # newer writer adds without bumping the version. Inputs are never echoed in errors.
    model_config = ConfigDict(frozen=True, extra="ignore", hide_input_in_errors=True)


class RecordDelivery(_Part):
    to: AddressText
    rule: Rule
    reason: str


class RecordNotice(_Part):
    """A message the router sent because of this one (a linked-referral notice)."""

    message_id: UUID
    kind: Kind
    to: tuple[AddressText, ...]


class RecordReferral(_Part):
    approved_at: Time
    """When the bureau head approved the transfer (Decree 310 Art. 5: sent within 24 hours of it)."""


class RecordAssistance(_Part):
    complete: bool


class RecordExtension(_Part):
    """extension_request: the days asked; extension_decision: granted and the days granted."""

    requested_working_days: int | None = _omitted()
    granted: bool | None = _omitted()
    extra_working_days: int | None = _omitted()


class RecordFiling(_Part):
    decision: Literal["filed", "not_filed"]


class RecordDirective(_Part):
    directive_type: Literal["directive", "guidance"]
    """督办 (directive: the addressees owe a results report) or 指导 (guidance)."""


class DecisionRecord(_Part):
    """One routed message: its envelope's facts, where it went and why, and its deadline facts."""

    event: Literal["routed"]
    record_version: Literal[1]
    message_id: UUID
    kind: Kind
    sender: AddressText
    case_id: str = Field(min_length=1, max_length=64)
    in_reply_to: UUID | None = None
    forwards: UUID | None = None
    sent_at: Time
    routed_at: Time
    handling: tuple[Handling, ...] = ()
    deliveries: tuple[RecordDelivery, ...]
    case: CaseFacts | None = None
    threshold: dict[str, Any] | None = _omitted()
    """police_referral: the router's own threshold assessment, without its explanation."""
    linked_to: UUID | None = _omitted()
    """police_referral: the earlier referral of the same company and facts it was joined to."""
    notices: tuple[RecordNotice, ...] | None = _omitted()
    referral: RecordReferral | None = _omitted()
    assistance: RecordAssistance | None = _omitted()
    extension: RecordExtension | None = _omitted()
    filing: RecordFiling | None = _omitted()
    directive: RecordDirective | None = _omitted()
    age_ms: float | None = _omitted()
    """Milliseconds from sent_at to routing, added by the router as it publishes."""

    @classmethod
    def of(
        cls, message: Message, decision: RoutingDecision, routed_at: datetime, age_ms: float | None = None
    ) -> DecisionRecord:
        """The record of a decision, validated as it is built (pydantic-core's validation of these
        parts costs less than model_construct, which is Python); `age_ms` as the router adds it."""
        env = message.envelope
        threshold = decision.threshold
        return cls(
            event="routed",
            record_version=RECORD_VERSION,
            message_id=env.message_id,
            kind=env.kind,
            sender=str(decision.sender),
            case_id=env.case_id,
            in_reply_to=env.in_reply_to,
            forwards=env.forwards,
            sent_at=env.sent_at,
            routed_at=routed_at,
            handling=tuple(env.handling),
            deliveries=tuple(
                RecordDelivery(to=str(d.recipient), rule=d.rule, reason=d.reason) for d in decision.deliveries
            ),
            case=env.case,
            threshold=(
                {k: v for k, v in threshold.items() if k != "explanation"} if threshold is not None else None
            ),
            linked_to=decision.linked_to,
            notices=tuple(
                RecordNotice(message_id=n.envelope.message_id, kind=n.envelope.kind, to=tuple(n.envelope.to))
                for n in decision.notices
            )
            or None,
            age_ms=age_ms,
            **_deadline_facts(message),
        )

    def wire(self) -> dict[str, Any]:
        """The JSON object as published."""
        return self.model_dump(mode="json")

    def wire_bytes(self) -> bytes:
        """The JSON as published (compact, UTF-8), serialized in one pass."""
        return self.model_dump_json().encode("utf-8")


OMITTED_WHEN_ABSENT = frozenset(
    name for name, field in DecisionRecord.model_fields.items() if field.exclude_if is _absent
)
"""Keys written only when they apply; the others are always written, null when empty."""


def _deadline_facts(message: Message) -> dict[str, Any]:
    if isinstance(message, PoliceReferral):
        return {"referral": RecordReferral(approved_at=message.body.approved_at)}
    if isinstance(message, AssistanceReply):
        return {"assistance": RecordAssistance(complete=message.body.complete)}
    if isinstance(message, ExtensionRequest):
        return {"extension": RecordExtension(requested_working_days=message.body.extra_working_days)}
    if isinstance(message, ExtensionDecision):
        granted = RecordExtension(
            granted=message.body.granted, extra_working_days=message.body.extra_working_days
        )
        return {"extension": granted}
    if isinstance(message, FilingDecision):
        return {"filing": RecordFiling(decision=message.body.decision)}
    if isinstance(message, Directive):
        return {"directive": RecordDirective(directive_type=message.body.directive_type)}
    return {}


def decision_record(message: Message, decision: RoutingDecision, routed_at: datetime) -> dict[str, Any]:
    """The record as a JSON object (the router publishes `DecisionRecord.of(...).wire_bytes()`)."""
    return DecisionRecord.of(message, decision, routed_at).wire()
