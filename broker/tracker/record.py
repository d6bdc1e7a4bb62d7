"""The routing decision record (broker/domain/decision_record.py) as the tracker reads it.

Only what deadlines need is kept: ids, kind, parties, times, deliveries and the few deadline facts
the router copies (an extension's days, a filing decision). Case facts are read once, to assess the
criminal threshold, and are not kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from broker.domain.address import Address, AddressError
from broker.domain.case import CaseFacts
from broker.domain.decision_record import RECORD_VERSION
from broker.domain.messages import Kind
from broker.domain.routing import Rule


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

    def delivered_by(self, *rules: Rule) -> tuple[Address, ...]:
        return tuple(d.to for d in self.deliveries if d.rule in rules)


def parse_record(raw: bytes | str | dict[str, Any]) -> Routed:
    """Parse and check one record. Raises RecordError saying what is wrong (never echoing values)."""
    try:
        data = json.loads(raw) if isinstance(raw, bytes | str) else raw
    except (ValueError, UnicodeDecodeError):
        raise RecordError("not JSON") from None
    if not isinstance(data, dict):
        raise RecordError("not a JSON object")
    if data.get("event") != "routed":
        raise RecordError("event: not a 'routed' record")
    if data.get("record_version") != RECORD_VERSION:
        raise RecordError(f"record_version: this tracker reads version {RECORD_VERSION}")
    try:
        kind = Kind(data["kind"])
        deliveries = tuple(
            Delivery(Address.parse(d["to"]), Rule(d["rule"])) for d in _list(data.get("deliveries"))
        )
        extension = data.get("extension") or {}
        assistance = data.get("assistance") or {}
        referral = data.get("referral") or {}
        case = data.get("case")
        return Routed(
            message_id=str(UUID(data["message_id"])),
            kind=kind,
            sender=Address.parse(data["sender"]),
            case_id=_text(data["case_id"], 64),
            in_reply_to=str(UUID(data["in_reply_to"])) if data.get("in_reply_to") else None,
            forwards=str(UUID(data["forwards"])) if data.get("forwards") else None,
            sent_at=_aware(data["sent_at"]),
            routed_at=_aware(data["routed_at"]),
            deliveries=deliveries,
            case=CaseFacts.model_validate(case) if case is not None else None,
            extension_days=_days(extension, kind),
            extension_granted=bool(extension["granted"]) if "granted" in extension else None,
            filing=(data.get("filing") or {}).get("decision"),
            complete=bool(assistance["complete"]) if "complete" in assistance else None,
            approved_at=_aware(referral["approved_at"]) if "approved_at" in referral else None,
            linked_to=str(UUID(data["linked_to"])) if data.get("linked_to") else None,
        )
    except (KeyError, TypeError, ValueError, AddressError, ValidationError) as exc:
        raise RecordError(f"malformed record ({type(exc).__name__})") from None


def _list(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise TypeError("deliveries")
    return value


def _text(value: Any, limit: int) -> str:
    if not isinstance(value, str) or not value or len(value) > limit:
        raise ValueError("text")
    return value


def _aware(value: Any) -> datetime:
    when = datetime.fromisoformat(value)
    if when.tzinfo is None:
        raise ValueError("naive time")
    return when


def _days(extension: dict[str, Any], kind: Kind) -> int | None:
    if kind is Kind.EXTENSION_REQUEST:
        return int(extension["requested_working_days"])
    if kind is Kind.EXTENSION_DECISION:
        return int(extension.get("extra_working_days", 0))
    return None
