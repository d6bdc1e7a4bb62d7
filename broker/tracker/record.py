"""The routing decision record (broker/domain/decision_record.py) as the tracker reads it.

The bytes are parsed straight into the typed `DecisionRecord`; `Routed` keeps only what deadlines
need: ids, kind, parties, times, deliveries and the few deadline facts the router copies (an
extension's days, a filing decision). Case facts are read once, to assess the criminal threshold,
and are not kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from broker.domain.address import Address
from broker.domain.case import CaseFacts
from broker.domain.decision_record import RECORD_VERSION, DecisionRecord
from broker.domain.messages import Kind
from broker.domain.routing import Rule

_address = lru_cache(maxsize=4096)(Address.parse)
"""The record's model has checked each address already; the few thousand participants' parsed forms
are kept rather than parsed again for every record."""


class RecordError(ValueError):
    """Not a routing decision record this tracker understands; it goes to the dead-letter queue."""


@dataclass(frozen=True)
class Delivery:
    to: Address
    rule: Rule


@dataclass(frozen=True)
class Routed:
    """One routed message, as the tracker knows it."""

    message_id: str
    kind: Kind
    sender: Address
    case_id: str
    in_reply_to: str | None
    forwards: str | None
    sent_at: datetime
    routed_at: datetime
    deliveries: tuple[Delivery, ...]
    case: CaseFacts | None = None
    extension_days: int | None = None
    """extension_request: days asked; extension_decision: days granted (0 when refused)."""
    extension_granted: bool | None = None
    filing: str | None = None
    """filing_decision: "filed" or "not_filed"."""
    complete: bool | None = None
    """assistance_reply: whether it fully answers the request; None when the record does not say."""
    approved_at: datetime | None = None
    """police_referral: when the bureau head approved the transfer."""
    linked_to: str | None = None
    """police_referral: the earlier referral of the same company and facts it was joined to."""
    directive_type: str | None = None
    """directive: "directive" (督办, a results report is owed) or "guidance"."""

    def delivered_by(self, *rules: Rule) -> tuple[Address, ...]:
        return tuple(d.to for d in self.deliveries if d.rule in rules)

    @classmethod
    def of(cls, record: DecisionRecord) -> Routed:
        """What the tracker keeps of a checked record. Raises RecordError when an extension_request
        does not say how many days it asks for (the due time it moves would be unknown)."""
        extension = record.extension
        return cls(
            message_id=str(record.message_id),
            kind=record.kind,
            sender=_address(record.sender),
            case_id=record.case_id,
            in_reply_to=_text(record.in_reply_to),
            forwards=_text(record.forwards),
            sent_at=record.sent_at,
            routed_at=record.routed_at,
            deliveries=tuple(Delivery(_address(d.to), d.rule) for d in record.deliveries),
            case=record.case,
            extension_days=_days(record),
            extension_granted=extension.granted if extension is not None else None,
            filing=record.filing.decision if record.filing is not None else None,
            complete=record.assistance.complete if record.assistance is not None else None,
            approved_at=record.referral.approved_at if record.referral is not None else None,
            linked_to=_text(record.linked_to),
            directive_type=record.directive.directive_type if record.directive is not None else None,
        )


class RefusalNoticeRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    message_id: str = Field(max_length=36)
    to: str = Field(max_length=64)


class QuarantineRecord(BaseModel):
    """The router's record of a message it quarantined (broker/router/outputs.py): the names an
    operator finds it by and why it was refused, never a value that failed its check."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event: Literal["quarantined"]
    quarantine_id: str = Field(min_length=1, max_length=36)
    case_id: str | None = Field(None, max_length=64)
    sender: str | None = Field(None, max_length=64)
    stage: str = Field(max_length=40)
    field: str = Field(max_length=500)
    reason: str = Field(max_length=500)
    quarantined_at: datetime
    refusal_notice: RefusalNoticeRecord | None = None
    """The delivery_refused notice the router sent its authenticated publisher, when it did."""


@dataclass(frozen=True)
class Quarantined:
    """A message the router quarantined, as the tracker records it in the audit trail, so `trace`
    shows it before any operator command has looked at the quarantine."""

    message_id: str
    """The quarantine id: the envelope's message id when it could be read (domain/quarantine_ids.py)."""
    case_id: str
    sender: str | None
    detail: str
    quarantined_at: datetime
    notice_id: str | None = None
    """The delivery_refused notice sent to the publisher (`trace` finds the verdict by its id too)."""


Record = Routed | Quarantined


def parse_event(raw: bytes | str) -> Record:
    """A routed or a quarantined record, by its `event`. Raises RecordError as parse_record does.
    Read as a routed record first, the tracker's usual input, so that one is parsed once."""
    try:
        return Routed.of(DecisionRecord.model_validate_json(raw))
    except ValidationError as exc:
        if not _about_event(exc):
            raise RecordError(_reason(exc)) from None
        not_routed = _reason(exc)
    try:
        quarantined = QuarantineRecord.model_validate_json(raw)
    except ValidationError as exc:
        raise RecordError(not_routed if _about_event(exc) else _reason(exc)) from None
    detail = f"{quarantined.stage} {quarantined.field}: {quarantined.reason}"
    notice = quarantined.refusal_notice
    if notice is not None:
        detail += f"; delivery_refused {notice.message_id} sent to {notice.to}"
    return Quarantined(
        message_id=quarantined.quarantine_id,
        case_id=quarantined.case_id or "",
        sender=quarantined.sender,
        detail=detail,
        quarantined_at=quarantined.quarantined_at,
        notice_id=notice.message_id if notice is not None else None,
    )


def _about_event(exc: ValidationError) -> bool:
    return any(e["loc"] == ("event",) for e in exc.errors(include_input=False))


def parse_record(raw: bytes | str | dict[str, Any]) -> Routed:
    """Parse and check one record. Raises RecordError naming the field and the reason, never
    echoing a value."""
    try:
        if isinstance(raw, dict):
            record = DecisionRecord.model_validate(raw)
        else:
            record = DecisionRecord.model_validate_json(raw)
    except ValidationError as exc:
        raise RecordError(_reason(exc)) from None
    return Routed.of(record)


def _reason(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    first = {str(e["loc"][0]) if e["loc"] else "": e for e in reversed(errors)}
    if "event" in first:
        return "event: not a 'routed' record"
    if "record_version" in first:
        return f"record_version: this tracker reads version {RECORD_VERSION}"
    error = errors[0]
    if error["type"] == "json_invalid":
        return "not JSON"
    if not error["loc"]:
        return "not a JSON object"
    where = ".".join(str(part) for part in error["loc"])
    return f"malformed record: {where}: {error['msg']}"


def _text(value: UUID | None) -> str | None:
    return str(value) if value is not None else None


def _days(record: DecisionRecord) -> int | None:
    extension = record.extension
    if record.kind is Kind.EXTENSION_REQUEST:
        if extension is None or extension.requested_working_days is None:
            raise RecordError("extension.requested_working_days: an extension_request names its days")
        return extension.requested_working_days
    if record.kind is Kind.EXTENSION_DECISION:
        return extension.extra_working_days or 0 if extension is not None else 0
    return None
