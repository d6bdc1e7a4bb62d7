"""What happens to an open obligation (broker/tracker/closing.py): when an answer closes it and how
late, the approval time of a referral, which obligations an extension reaches and whether it comes
in time, which notices a scan sends. No database."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from broker.domain.messages import Kind
from broker.domain.routing import Rule
from broker.tools.records import OVER_THRESHOLD, Desk
from broker.tracker import closing
from broker.tracker.calendar import BEIJING, WorkCalendar
from broker.tracker.closing import Owed, State
from broker.tracker.notices import Notice
from broker.tracker.record import Routed
from broker.tracker.rules import Policy

POLICY = Policy()
CALENDAR = WorkCalendar()


def cst(*args: int) -> datetime:
    return datetime(*args, tzinfo=BEIJING)  # type: ignore[misc]


START = cst(2024, 9, 2, 10)


def owed(
    rule: str = "assistance_reply",
    owed_to: str = "bureau:330681",
    start: datetime = START,
    extra_days: int = 0,
    policy: Policy = POLICY,
) -> Owed:
    due = policy.due_at(policy.rule(rule), start, extra_days, CALENDAR)
    return Owed(f"{rule}|{owed_to}", rule, owed_to, start, due, extra_days)


# ---- closing and lateness ----


def test_an_answer_at_the_due_time_is_on_time_and_one_after_it_is_late_by_the_difference() -> None:
    due = cst(2024, 9, 24)
    assert closing.closing(due, due) == closing.Closing(State.CLOSED, due, timedelta(0))
    late = closing.closing(due, due + timedelta(hours=2, minutes=5))
    assert late.state is State.LATE and late.lateness == timedelta(hours=2, minutes=5)


def _referral(approved_hours_before: float) -> Routed:
    desk = Desk()
    at = cst(2024, 9, 2, 12)
    body = None
    if approved_hours_before:
        from broker.domain.case import CaseFacts
        from broker.domain.referrals import referral_body

        approved = (at - timedelta(hours=approved_hours_before)).isoformat()
        body = referral_body(CaseFacts.model_validate(OVER_THRESHOLD), "head", approved)
    return desk.send(
        Kind.POLICE_REFERRAL, "bureau:330681", ["police:330681"], at, facts=OVER_THRESHOLD, body=body
    )


def test_a_referral_closes_the_transfer_decision_when_the_head_approved_it_not_when_it_was_routed() -> None:
    referral = _referral(approved_hours_before=30)
    assert referral.approved_at is not None
    assert (
        closing.referral_decided_at(referral)
        == referral.approved_at
        == referral.routed_at - timedelta(hours=30)
    )


def test_an_approval_stated_after_the_routing_counts_as_the_routing_time() -> None:
    referral = _referral(approved_hours_before=2)
    ahead = Routed(**{**referral.__dict__, "approved_at": referral.routed_at + timedelta(hours=1)})
    assert closing.referral_decided_at(ahead) == referral.routed_at
    unstated = Routed(**{**referral.__dict__, "approved_at": None})
    assert closing.referral_decided_at(unstated) == referral.routed_at


def test_a_decision_taken_before_the_obligation_started_closes_it_when_it_started() -> None:
    ob = owed(rule="transfer_decision")
    assert closing.closed_at(cst(2024, 9, 1), ob) == ob.start_at
    assert closing.closed_at(cst(2024, 9, 3), ob) == cst(2024, 9, 3)


# ---- handing the transfer decision away (Decree 310 Art. 5) ----


def test_a_recorded_decision_not_to_transfer_and_a_transfer_of_the_case_end_the_senders_duty() -> None:
    desk = Desk()
    at = cst(2024, 9, 2, 10)
    notice = desk.send(Kind.CASE_NOTICE, "bureau:330681", ["bureau:330600"], at, facts=OVER_THRESHOLD)
    declined = desk.send(
        Kind.TRANSFER_DECLINED,
        "bureau:330681",
        [],
        at,
        facts=OVER_THRESHOLD,
        body={"decided_by": "head", "decided_at": at.isoformat(), "reasons": "r"},
    )
    transfer = desk.send(Kind.CASE_TRANSFER, "bureau:330681", ["bureau:330602"], at, facts=OVER_THRESHOLD)
    assert "不予移送" in (closing.hands_duty_away(declined) or "")
    assert "handed away (case_transfer)" in (closing.hands_duty_away(transfer) or "")
    assert closing.hands_duty_away(notice) is None


def test_a_refused_retransfer_keeps_the_case_and_its_duty_with_the_sender() -> None:
    desk = Desk()
    first = desk.send(
        Kind.CASE_TRANSFER, "bureau:330681", ["bureau:330602"], cst(2024, 9, 2), facts=OVER_THRESHOLD
    )
    back = desk.send(
        Kind.CASE_TRANSFER,
        "bureau:330602",
        ["bureau:330681"],
        cst(2024, 9, 3),
        first.case_id,
        facts=OVER_THRESHOLD,
    )
    assert closing.hands_duty_away(first) is not None
    assert back.delivered_by(Rule.NO_RETRANSFER)  # routed to the common superior instead
    assert closing.hands_duty_away(back) is None


# ---- extensions ----


def test_an_extension_is_refused_unless_granted_with_days() -> None:
    desk = Desk()
    request = desk.send(Kind.ASSISTANCE_REQUEST, "bureau:330681", ["bureau:330600"], cst(2024, 9, 2))
    asked = desk.reply(request, Kind.EXTENSION_REQUEST, "bureau:330600", cst(2024, 9, 10))
    granted = desk.reply(asked, Kind.EXTENSION_DECISION, "bureau:330681", cst(2024, 9, 11))
    refused = desk.reply(
        asked, Kind.EXTENSION_DECISION, "bureau:330681", cst(2024, 9, 11), body={"granted": False}
    )
    assert not closing.extension_refused(granted)
    assert closing.extension_refused(refused) and refused.extension_days == 0


GRANTS = Policy.from_overrides({"rules": {"assistance_reply": {"extended_by_notice": False}}})
"""assistance_reply extended by a grant, not by notice."""


def test_a_grant_reaches_along_the_forwarding_chain_up_to_the_one_owed_to_the_granter() -> None:
    bureau = owed(owed_to="bureau:330000", policy=GRANTS)  # the bureau the hub forwarded to owes the hub
    hub = owed(owed_to="bureau:440000", policy=GRANTS)  # the hub owes the origin
    receipt = owed(rule="receipt", owed_to="bureau:330000", policy=GRANTS)
    chain = [bureau, receipt, hub]
    assert closing.granted_reach(chain, GRANTS, "bureau:330000") == [bureau]
    assert closing.granted_reach(chain, GRANTS, "bureau:440000") == [bureau, hub]
    assert closing.granted_reach(chain, GRANTS, "bureau:110000") == []


def test_a_grant_moves_nothing_that_is_extended_by_notice() -> None:
    reply = owed()
    assert POLICY.rule("assistance_reply").extended_by_notice
    assert closing.granted_reach([reply], POLICY, reply.owed_to) == []
    assert closing.notice_reach([reply, owed(rule="receipt")], POLICY) == [reply]


def test_an_extension_asked_before_expiry_moves_the_due_time_by_working_days_added_to_earlier_ones() -> None:
    ob = owed(extra_days=5)
    extended = closing.extend(ob, ob.due_at - timedelta(days=1), 10, POLICY, CALENDAR)
    assert extended is not None and extended.extra_days == 15
    rule = POLICY.rule("assistance_reply")
    assert extended.schedule.due_at == POLICY.due_at(rule, ob.start_at, 15, CALENDAR) > ob.due_at
    assert extended.schedule.reminder_at == POLICY.reminder_at(ob.start_at, extended.schedule.due_at)


def test_an_extension_asked_at_the_due_time_counts_and_one_asked_after_it_does_not() -> None:
    ob = owed()
    assert closing.extend(ob, ob.due_at, 10, POLICY, CALENDAR) is not None
    assert closing.extend(ob, ob.due_at + timedelta(seconds=1), 10, POLICY, CALENDAR) is None


def test_a_schedule_on_a_year_without_its_holiday_notice_is_provisional() -> None:
    rule = POLICY.rule("assistance_reply")
    far = closing.schedule(POLICY, rule, datetime(2090, 3, 1, 10, tzinfo=BEIJING), 0, CALENDAR)
    near = closing.schedule(POLICY, rule, cst(2024, 9, 2, 10), 0, CALENDAR)
    assert far.provisional and not near.provisional


# ---- chasing ----


@pytest.mark.parametrize(
    ("chased", "hours_after_due", "reminded", "notices", "next_at_due", "lapsed", "missed"),
    [
        (True, -1, False, (Notice.REMINDER,), True, False, False),
        (True, 0, True, (Notice.ESCALATION, Notice.OVERDUE), False, False, False),
        (True, 1, False, (Notice.ESCALATION, Notice.OVERDUE), False, False, True),
        (False, -1, False, (), True, False, False),
        (False, 0, False, (), False, True, False),
    ],
)
def test_a_scan_reminds_before_the_due_time_escalates_after_it_and_lets_a_window_lapse(
    chased: bool,
    hours_after_due: int,
    reminded: bool,
    notices: tuple[Notice, ...],
    next_at_due: bool,
    lapsed: bool,
    missed: bool,
) -> None:
    due = cst(2024, 9, 24)
    chase = closing.chase(chased, due, due + timedelta(hours=hours_after_due), reminded)
    assert chase == closing.Chase(notices, due if next_at_due else None, lapsed, missed)
