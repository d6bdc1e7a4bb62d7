"""The rules that act on an obligation once it is open: what closes it and when, how late, what an
extension does to its due time, and which notices chase it. Pure: the store (broker/store/tracker/)
finds the obligations and persists what these functions decide.

- An answer closes at its routing time; a police referral closes the per-case transfer decision at
  the time the head approved it (Decree 310 Art. 5: the referral may be routed up to 24 hours
  later), never before the obligation started.
- A granted extension moves the due time of the obligations it reaches; so does the notice (告知)
  of an obligation extended by notice. Either applies only when it was asked before the due time.
- A chased obligation is reminded before its due time and escalated and reported overdue after it;
  an optional window is never chased and lapses at its due time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from broker.domain.messages import Kind
from broker.tracker.calendar import WorkCalendar
from broker.tracker.notices import Notice
from broker.tracker.record import Routed
from broker.tracker.rules import HANDED_AWAY_BY, DeadlineRule, Policy


class State(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    """Closed by the due time."""
    LATE = "late"
    """Closed after the due time (lateness_s says by how much)."""
    LAPSED = "lapsed"
    """An optional window (never chased) that passed unused."""


OPEN_STATES = (State.OPEN.value, State.LAPSED.value)
"""States an answer can still close (a window used after it lapsed is recorded as late)."""


@dataclass(frozen=True)
class Owed:
    """An open obligation, as the closing and extension rules see it."""

    id: str
    rule: str
    owed_to: str
    start_at: datetime
    due_at: datetime
    extra_days: int


@dataclass(frozen=True)
class Closing:
    state: State
    """CLOSED or LATE."""
    at: datetime
    lateness: timedelta
    """How long after the due time it closed; zero when on time."""


def closing(due_at: datetime, at: datetime) -> Closing:
    """An obligation due at ``due_at`` closed at ``at``: on time up to and including its due time."""
    if at > due_at:
        return Closing(State.LATE, at, at - due_at)
    return Closing(State.CLOSED, at, timedelta(0))


def referral_decided_at(referral: Routed) -> datetime:
    """When the head decided the transfer: the approval the referral states (it may be routed up to
    24 hours later, Decree 310 Art. 5), never after its routing."""
    return min(referral.approved_at or referral.routed_at, referral.routed_at)


def closed_at(at: datetime, owed: Owed) -> datetime:
    """A per-case obligation closed by a decision taken before it started closes when it started."""
    return max(at, owed.start_at)


def hands_duty_away(record: Routed) -> str | None:
    """How this record ends its sender's per-case transfer decision (Decree 310 Art. 5), for the
    audit trail; None when it does not. The head's recorded decision not to transfer closes it; a
    bureau that hands the case away hands the duty with it (the receiver owes it now, rules.py)."""
    if record.kind is Kind.TRANSFER_DECLINED:
        return "the head's decision not to transfer, recorded (不予移送)"
    if record.kind in (Kind.CASE_TRANSFER, Kind.ESCALATION) and record.delivered_by(*HANDED_AWAY_BY):
        return f"the case was handed away ({record.kind.value}); the duty moved with it"
    return None


def extension_refused(decision: Routed) -> bool:
    return not decision.extension_granted or not decision.extension_days


def granted_reach(chain: Sequence[Owed], policy: Policy, granter: str) -> list[Owed]:
    """The obligations a granted extension moves, from the requester's own along the forwarding
    chain (``chain``: the requester's first, then the hub's it answers for) up to the one owed to
    the granter; none when the granter is owed none of them. Rules extended by notice ignore grants."""
    extendable = [
        o for o in chain if policy.rule(o.rule).extendable and not policy.rule(o.rule).extended_by_notice
    ]
    reach = next((i for i, o in enumerate(extendable) if o.owed_to == granter), None)
    return [] if reach is None else extendable[: reach + 1]


def notice_reach(chain: Sequence[Owed], policy: Policy) -> list[Owed]:
    """The obligations an extension_request moves by itself (extended by notice, 告知)."""
    return [o for o in chain if policy.rule(o.rule).extended_by_notice]


@dataclass(frozen=True)
class Schedule:
    due_at: datetime
    reminder_at: datetime
    provisional: bool
    """Counted on a year whose holiday notice is not loaded: it moves when the notice is."""


def provisional(rule: DeadlineRule, start: datetime, due: datetime, calendar: WorkCalendar) -> bool:
    return calendar.provisional(start, due, rule.unit, rule.roll_to_working_day)


def schedule(
    policy: Policy, rule: DeadlineRule, start: datetime, extra_days: int, calendar: WorkCalendar
) -> Schedule:
    """Due and reminder times of an obligation of ``rule`` started at ``start`` with ``extra_days``
    granted, on the calendar as loaded now."""
    due = policy.due_at(rule, start, extra_days, calendar)
    return Schedule(due, policy.reminder_at(start, due), provisional(rule, start, due, calendar))


@dataclass(frozen=True)
class Extended:
    extra_days: int
    """All extra days granted so far."""
    schedule: Schedule


def extend(
    owed: Owed, asked_at: datetime, days: int, policy: Policy, calendar: WorkCalendar
) -> Extended | None:
    """The obligation's new due time after ``days`` more working days asked for at ``asked_at``;
    None when they were asked after the due time: an extension must be asked before expiry."""
    if asked_at > owed.due_at:
        return None
    extra = owed.extra_days + days
    return Extended(extra, schedule(policy, policy.rule(owed.rule), owed.start_at, extra, calendar))


@dataclass(frozen=True)
class Chase:
    notices: tuple[Notice, ...]
    """Notices due now."""
    next_at: datetime | None
    """When the obligation is looked at next; None: never again unless something changes it."""
    lapsed: bool = False
    """An optional window that passed unused."""
    reminder_missed: bool = False
    """Already past due when first scanned: the reminder is skipped, not sent late."""


def chase(chased: bool, due_at: datetime, now: datetime, reminded: bool) -> Chase:
    """What a scan at ``now`` does with an obligation whose next notice is due (``reminded``:
    its reminder for this due time was already recorded)."""
    if not chased:
        lapsed = now >= due_at
        return Chase((), None if lapsed else due_at, lapsed=lapsed)
    if now < due_at:
        return Chase((Notice.REMINDER,), due_at)
    return Chase((Notice.ESCALATION, Notice.OVERDUE), None, reminder_missed=not reminded)
