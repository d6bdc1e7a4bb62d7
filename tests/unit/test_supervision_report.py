"""督办: a superior bureau's supervision of a major case puts each supervised bureau on a clock to
report the results, with a supervision_report answering the directive (issue 15). No stored legal
text gives the period, so it is broker policy (90 days by default) and configurable."""

from __future__ import annotations

from datetime import datetime

from broker.domain.messages import Kind
from broker.domain.routing import Rule
from broker.tools.records import OVER_THRESHOLD, Desk
from broker.tracker.calendar import BEIJING, WorkCalendar
from broker.tracker.record import Routed
from broker.tracker.rules import SUPERVISION_REPORT_DAYS, Policy

POLICY = Policy()
CALENDAR = WorkCalendar()
SUPERVISE = {"directive_type": "directive", "instructions": "督办: report the results."}
GUIDE = {"directive_type": "guidance", "instructions": "See the attached practice notes."}


def cst(*args: int) -> datetime:
    return datetime(*args, tzinfo=BEIJING)  # type: ignore[misc]


def supervised_from_the_province() -> Routed:
    """Zhejiang's bureau supervises a case of Zhuji's (2024-09-02 10:00)."""
    return Desk().send(
        Kind.DIRECTIVE,
        "bureau:330000",
        ["bureau:330681"],
        cst(2024, 9, 2, 10),
        body=SUPERVISE,
        facts=OVER_THRESHOLD,
    )


def reports(record: Routed, policy: Policy = POLICY) -> dict[str, tuple[str, datetime]]:
    return {
        str(o.owed_by): (str(o.owed_to), o.due_at)
        for o in policy.obligations_for(record, CALENDAR)
        if o.rule == "supervision_report"
    }


def test_a_supervised_case_puts_the_supervised_bureau_on_a_clock_to_report_results() -> None:
    directive = supervised_from_the_province()
    # 90 calendar days from 09-02: 12-01 is a Sunday, so the period runs to the end of Monday 12-02
    assert reports(directive) == {"bureau:330681": ("bureau:330000", cst(2024, 12, 3))}
    rule = POLICY.rule("supervision_report")
    assert rule.chased and rule.amount == SUPERVISION_REPORT_DAYS == 90
    assert "No stored legal text" in rule.basis and "configurable" in rule.basis


def test_guidance_and_a_supervision_without_a_case_owe_no_report() -> None:
    desk = Desk()
    guidance = desk.send(
        Kind.DIRECTIVE, "bureau:330000", ["bureau:330681"], cst(2024, 9, 2), body=GUIDE, facts=OVER_THRESHOLD
    )
    campaign = desk.send(
        Kind.DIRECTIVE, "bureau:330000", ["bureau:330681"], cst(2024, 9, 2), body=SUPERVISE, facts=None
    )
    assert reports(guidance) == {} and reports(campaign) == {}


def test_each_subordinate_of_a_supervision_to_all_reports() -> None:
    directive = Desk().send(
        Kind.DIRECTIVE,
        "bureau:330600",
        [],
        cst(2024, 9, 2),
        body=SUPERVISE,
        facts=OVER_THRESHOLD,
        scope="all_subordinates",
    )
    assert set(reports(directive)) == {"bureau:330602", "bureau:330681"}


def test_the_results_report_goes_back_to_the_supervising_bureau_and_closes_it() -> None:
    desk = Desk()
    directive = desk.send(
        Kind.DIRECTIVE,
        "bureau:330000",
        ["bureau:330681"],
        cst(2024, 9, 2),
        body=SUPERVISE,
        facts=OVER_THRESHOLD,
    )
    report = desk.reply(
        directive, Kind.SUPERVISION_REPORT, "bureau:330681", cst(2024, 10, 8), {"results": "Fined."}
    )
    assert [(str(d.to), d.rule) for d in report.deliveries] == [("bureau:330000", Rule.REPLY)]
    rule = POLICY.rule("supervision_report")
    assert POLICY.closes(rule, report)
    ack = desk.reply(directive, Kind.COMPLETION_ACK, "bureau:330681", cst(2024, 10, 8), {})
    assert not POLICY.closes(rule, ack)  # an acknowledgement is not the results


def test_the_period_is_configurable() -> None:
    directive = supervised_from_the_province()
    thirty = Policy.from_overrides({"rules": {"supervision_report": {"amount": 30}}})
    # 30 days end on 10-02, in the National Day holiday: the period runs to the end of 10-08
    assert reports(directive, thirty) == {"bureau:330681": ("bureau:330000", cst(2024, 10, 9))}
