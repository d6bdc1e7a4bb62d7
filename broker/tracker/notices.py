"""Deadline notices: who receives a reminder, an escalation or an overdue notice, and the message.

- reminder: to the one who owes, once the reminder time (80% of the way to due, by default) passed;
- escalation: once the due time passed, to whoever supervises the one who owes, as the rule says
  (``Supervisor``):
  - the superior bureau of the one who owes (jurisdictions.superior_of), by default. A department's
    office (telecom, housing, ...) has no superior in this registry, and departments only deal with
    bureaus, so an office's escalation goes to the superior of the bureau it owes (the owed_to's
    superior), which takes it up with the department at its level. The national bureau has no
    superior: its escalation is skipped and the audit trail says so;
  - the procuratorate at the police office's own level for what the police owe on a transferred case
    (receipt, filing decision, reconsideration decision): the police answer to the procuratorate's
    立案监督, not to a market bureau. Confirmed by stored texts: Decree 310 Art. 9 (the bureau may
    suggest 立案监督 to the procuratorate) and the procuratorate's rules on cases that administrative
    bodies transfer, item 10 (人民检察院应当依法对公安机关办理行政执法机关移送涉嫌犯罪案件进行立案监督).
    As recalled, with no stored text found: Art. 9's last sentence (the police accept that
    supervision) and Art. 17 (police that refuse a transfer or decide late are supervised by the
    procuratorate, 除由人民检察院依法实施立案监督外, and answer to their government);
- overdue: once the due time passed, to the one it is owed to: for a late police office, the
  referring bureau is told so (its notice's basis names the procuratorate's supervision).

Notices come from system:000000 with causation_id set to the message the obligation arises from.
They name offices, times and the rule only; they create no obligations. A provisional due time
(calendar.py) is said so at the head of ``basis``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from broker.domain.address import SYSTEM_ADDRESS, Address, Party
from broker.domain.factory import new_message
from broker.domain.jurisdictions import Registry
from broker.domain.messages import Kind, Message
from broker.domain.versions import oldest_for

PROVISIONAL_NOTE = (
    "PROVISIONAL due time: counted on the statutory holidays only, the State Council's holiday notice "
    "for the year is not loaded; it moves when the notice is."
)
BASIS_MAX = 500
"""DeadlineNoticeBody.basis max_length."""


class Notice(StrEnum):
    REMINDER = "reminder"
    ESCALATION = "escalation"
    OVERDUE = "overdue"


class Supervisor(StrEnum):
    """Who an escalation goes to (a deadline rule says which)."""

    SUPERIOR_BUREAU = "superior_bureau"
    """The superior market bureau of the one who owes (of the bureau it owes, for an office)."""
    PROCURATORATE = "procuratorate"
    """The procuratorate at the owing office's own level (立案监督 of the police, Decree 310 Art. 9)."""


def recipient(
    notice: Notice,
    owed_by: Address,
    owed_to: Address,
    registry: Registry,
    supervisor: Supervisor = Supervisor.SUPERIOR_BUREAU,
) -> Address | None:
    """Who receives the notice; None when there is nobody (an escalation above the national bureau)."""
    if notice is Notice.REMINDER:
        return owed_by
    if notice is Notice.OVERDUE:
        return owed_to
    if supervisor is Supervisor.PROCURATORATE:
        return Address(Party.PROCURATORATE, owed_by.code)
    accountable = owed_by if owed_by.is_bureau else owed_to
    if not accountable.is_bureau:
        return None
    superior = registry.superior_of(accountable.code)
    return Address(Party.BUREAU, superior) if superior is not None else None


def notice_message(
    notice: Notice,
    *,
    to: Address,
    obligation_id: str,
    what: str,
    regarding: str,
    case_id: str,
    owed_by: Address,
    owed_to: Address,
    due_at: datetime,
    basis: str,
    sent_at: datetime | None = None,
    provisional: bool = False,
) -> Message:
    if provisional:
        # the body has no field for it (the contract is strict); basis is the free text it shows
        basis = f"{PROVISIONAL_NOTE} {basis}"[:BASIS_MAX]
    body: dict[str, Any] = {
        "notice": notice.value,
        "obligation_id": obligation_id,
        "obligation": what,
        "regarding": regarding,
        "owed_by": str(owed_by),
        "owed_to": str(owed_to),
        "due_at": due_at.isoformat(),
        "basis": basis,
    }
    return new_message(
        Kind.DEADLINE_NOTICE,
        str(SYSTEM_ADDRESS),
        [str(to)],
        case_id,
        body,
        causation_id=regarding,
        sent_at=sent_at.isoformat() if sent_at else None,
        schema_version=oldest_for(Kind.DEADLINE_NOTICE, {"body": body}),
    )
