"""What the tracker keeps and shows: obligations and their states, notices, audit events, figures."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row

from broker.domain.address import Address
from broker.domain.messages import Kind
from broker.store.tracker.db import dt, jsonable, local_time
from broker.tracker.closing import State as State  # where callers have always found it
from broker.tracker.notices import Notice
from broker.tracker.record import Routed

PROVISIONAL = "PROVISIONAL"
"""How a due time counted on a year whose holiday notice is not loaded is marked wherever it is shown."""


def due_text(due_at: datetime, provisional: bool) -> str:
    """A due time for people, Beijing time, marked when the year's holiday notice may still move it."""
    return f"{local_time(due_at)} {PROVISIONAL}" if provisional else local_time(due_at)


@dataclass(frozen=True)
class Obligation:
    id: str
    rule: str
    what: str
    regarding: str
    case_id: str
    owed_by: str
    owed_to: str
    basis: str
    chased: bool
    start_at: datetime
    due_at: datetime
    reminder_at: datetime
    extra_days: int
    revision: int
    state: State
    closed_at: datetime | None
    closed_by: str | None
    lateness: timedelta | None
    provisional: bool = False
    """The due time was counted on the statutory holidays of a year whose notice is not loaded."""

    def overdue(self, now: datetime) -> bool:
        return self.state is State.OPEN and self.chased and now >= self.due_at

    def to_dict(self, now: datetime | None = None) -> dict[str, Any]:
        out = {k: jsonable(v) for k, v in asdict(self).items()}
        out["lateness_s"] = self.lateness.total_seconds() if self.lateness is not None else None
        del out["lateness"]
        if now is not None:
            out["overdue"] = self.overdue(now)
            out["overdue_by_s"] = (now - self.due_at).total_seconds() if self.overdue(now) else None
        return out


@dataclass(frozen=True)
class ClaimedNotice:
    message_id: str
    obligation_id: str
    notice: Notice
    recipient: str
    payload: bytes


@dataclass(frozen=True)
class AuditEvent:
    at: datetime
    event: str
    message_id: str
    by_message: str | None
    case_id: str
    obligation_id: str | None
    actor: str | None
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {k: jsonable(v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class PartyStats:
    party: str
    obligations: int
    open: int
    overdue: int
    on_time: int
    late: int
    share_on_time: float | None
    """Answered by the due time, out of everything whose due time has passed or that was answered."""
    median_answer_s: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class IngestResult:
    ingested: int = 0
    duplicates: int = 0
    obligations: int = 0
    closed: int = 0


def routed_from_row(row: Row[Any]) -> Routed:
    return Routed(
        message_id=row.message_id,
        kind=Kind(row.kind),
        sender=Address.parse(row.sender),
        case_id=row.case_id,
        in_reply_to=row.in_reply_to,
        forwards=row.forwards,
        sent_at=dt(row.sent_at),
        routed_at=dt(row.routed_at),
        deliveries=(),
        extension_days=row.extension_days,
        extension_granted=row.extension_granted,
        filing=row.filing,
        complete=row.complete,
    )


def obligation_from_row(row: Row[Any]) -> Obligation:
    closed = row.state in (State.CLOSED.value, State.LATE.value)
    return Obligation(
        id=row.id,
        rule=row.rule,
        what=row.what,
        regarding=row.regarding,
        case_id=row.case_id,
        owed_by=row.owed_by,
        owed_to=row.owed_to,
        basis=row.basis,
        chased=bool(row.chased),
        start_at=dt(row.start_at),
        due_at=dt(row.due_at),
        reminder_at=dt(row.reminder_at),
        extra_days=row.extra_days,
        revision=row.revision,
        state=State(row.state),
        closed_at=dt(row.closed_at) if row.closed_at is not None else None,
        closed_by=row.closed_by,
        lateness=timedelta(seconds=row.lateness_s) if closed and row.lateness_s is not None else None,
        provisional=bool(row.provisional),
    )
