"""State Council Decree 310 (2001, revised 2020) as a flow (issue 15): who owes the transfer
decision (Art. 5), the 不予移送 record, the Art. 9 steps, the procuratorate's copies, and the
articles the rules cite (Art. 7 receipt, Art. 12 exhibits). Real routing rules, no database."""

from __future__ import annotations

from datetime import datetime

import pytest

from broker.domain.address import Address
from broker.domain.jurisdictions import default_registry
from broker.domain.messages import Kind
from broker.domain.routing import COPY_RULES, RoutingRefused, Rule
from broker.tools.records import OVER_THRESHOLD, Desk
from broker.tracker.calendar import BEIJING, WorkCalendar
from broker.tracker.notices import Notice, Supervisor, recipient
from broker.tracker.record import Routed
from broker.tracker.rules import NewObligation, Policy

POLICY = Policy()
CALENDAR = WorkCalendar()
DECLINED = {"decided_by": "head", "decided_at": "2024-09-03T09:00:00+08:00", "reasons": "not criminal"}


def cst(*args: int) -> datetime:
    return datetime(*args, tzinfo=BEIJING)  # type: ignore[misc]


def owed(record: Routed) -> dict[tuple[str, str], NewObligation]:
    return {(o.rule, str(o.owed_by)): o for o in POLICY.obligations_for(record, CALENDAR)}


def deciders(record: Routed) -> dict[str, str]:
    return {by: str(o.owed_to) for (rule, by), o in owed(record).items() if rule == "transfer_decision"}


# ---- Art. 5: the bureau handling the case owes the transfer decision ----


def test_escalation_moves_the_transfer_decision_to_the_superior_handling_the_case() -> None:
    escalation = Desk().send(Kind.ESCALATION, "bureau:330681", [], cst(2024, 9, 2, 10), facts=OVER_THRESHOLD)
    assert deciders(escalation) == {"bureau:330600": "police:330600"}


def test_case_transfer_obliges_the_receiving_bureau_not_the_one_handing_it_away() -> None:
    transfer = Desk().send(
        Kind.CASE_TRANSFER, "bureau:330681", ["bureau:330602"], cst(2024, 9, 2, 10), facts=OVER_THRESHOLD
    )
    assert deciders(transfer) == {"bureau:330602": "police:330602"}


def test_cross_province_transfer_obliges_the_bureau_the_hub_forwards_it_to() -> None:
    desk = Desk()
    transfer = desk.send(
        Kind.CASE_TRANSFER, "bureau:330681", ["bureau:440300"], cst(2024, 9, 2), facts=OVER_THRESHOLD
    )
    assert deciders(transfer) == {}  # the hub only passes it on; the sender handed it away
    forward = desk.forward(transfer, "bureau:440000", ["bureau:440300"], cst(2024, 9, 3))
    assert deciders(forward) == {"bureau:440300": "police:440300"}


def test_a_directive_obliges_the_subordinate_handling_the_case_not_the_province() -> None:
    directive = Desk().send(
        Kind.DIRECTIVE, "bureau:330000", ["bureau:330600"], cst(2024, 9, 2), facts=OVER_THRESHOLD
    )
    assert deciders(directive) == {"bureau:330600": "police:330600"}


def test_the_sender_of_a_case_notice_still_handles_it() -> None:
    notice = Desk().send(
        Kind.CASE_NOTICE, "bureau:330681", ["bureau:330600"], cst(2024, 9, 2), facts=OVER_THRESHOLD
    )
    assert deciders(notice) == {"bureau:330681": "police:330681"}


# ---- Art. 5: 不予移送, recorded and copied to the procuratorate ----


def test_a_decision_not_to_transfer_is_recorded_to_the_same_level_procuratorate() -> None:
    desk = Desk()
    record = desk.send(
        Kind.TRANSFER_DECLINED, "bureau:330681", [], cst(2024, 9, 3), body=DECLINED, facts=OVER_THRESHOLD
    )
    assert [(str(d.to), d.rule) for d in record.deliveries] == [("procuratorate:330681", Rule.DECLINE_RECORD)]
    assert Rule.DECLINE_RECORD in COPY_RULES  # the procuratorate owes no answer
    assert owed(record) == {}
    with pytest.raises(RoutingRefused, match="procuratorate:330600"):
        desk.send(  # no procuratorate provisioned at 330600: the record cannot be copied
            Kind.TRANSFER_DECLINED, "bureau:330600", [], cst(2024, 9, 3), body=DECLINED, facts=OVER_THRESHOLD
        )


# ---- Art. 8 and 9 ----


def _filing(desk: Desk, decision: str) -> tuple[Routed, Routed]:
    referral = desk.send(Kind.POLICE_REFERRAL, "bureau:330681", [], cst(2024, 9, 2, 10), facts=OVER_THRESHOLD)
    body = {"decision": decision, "reasons": "no crime" if decision == "not_filed" else ""}
    return referral, desk.reply(referral, Kind.FILING_DECISION, "police:330681", cst(2024, 9, 3), body)


def test_filing_decisions_are_copied_to_the_procuratorate() -> None:
    _, filing = _filing(Desk(), "filed")
    assert {(str(d.to), d.rule) for d in filing.deliveries} == {
        ("bureau:330681", Rule.REPLY),
        ("procuratorate:330681", Rule.SUPERVISION_COPY),
    }


def test_police_answer_a_reconsideration_within_3_days_and_the_bureau_may_then_suggest_supervision() -> None:
    desk = Desk()
    _, filing = _filing(desk, "not_filed")
    request = desk.reply(
        filing, Kind.RECONSIDERATION_REQUEST, "bureau:330681", cst(2024, 9, 4), {"reason": "r"}
    )
    answer = owed(request)["reconsideration_decision", "police:330681"]
    assert answer.owed_to == Address.parse("bureau:330681") and answer.due_at == cst(
        2024, 9, 10
    )  # 09-07 is a Saturday: to 09-09
    assert "Art. 9" in answer.basis
    decision = desk.reply(
        request,
        Kind.RECONSIDERATION_DECISION,
        "police:330681",
        cst(2024, 9, 6),
        {"decision": "not_filed", "reasons": "x"},
    )
    assert ("procuratorate:330681", Rule.SUPERVISION_COPY) in {
        (str(d.to), d.rule) for d in decision.deliveries
    }
    window = owed(decision)["supervision_suggestion_window", "bureau:330681"]
    assert window.owed_to == Address.parse("procuratorate:330681") and not window.chased
    suggestion = desk.reply(
        decision, Kind.SUPERVISION_SUGGESTION, "bureau:330681", cst(2024, 9, 7), {"reason": "r"}
    )
    assert [(str(d.to), d.rule) for d in suggestion.deliveries] == [
        ("procuratorate:330681", Rule.SUPERVISION_SUGGESTION)
    ]
    assert POLICY.closes(POLICY.rule("supervision_suggestion_window"), suggestion)


def test_rules_cite_art7_for_the_police_receipt_and_art12_for_the_exhibits() -> None:
    receipt = POLICY.rule("police_receipt").basis
    assert "Art. 7" in receipt and "24 hours" in receipt and "Art. 8" not in receipt
    assert "Art. 12" in POLICY.rule("exhibits_handover").basis
    assert "article to verify" not in POLICY.rule("exhibits_handover").basis


# ---- SAMR procedure rules: designation of jurisdiction on request or dispute ----


def test_a_jurisdiction_request_goes_to_the_common_superior_which_designates_within_7_working_days() -> None:
    desk = Desk()
    request = desk.send(
        Kind.JURISDICTION_REQUEST,
        "bureau:330681",
        ["bureau:330602"],
        cst(2024, 9, 2, 10),
        body={"reason": "r"},
        facts=OVER_THRESHOLD,
    )
    assert [(str(d.to), d.rule) for d in request.deliveries] == [("bureau:330600", Rule.DESIGNATION_REQUEST)]
    designation = owed(request)["designation", "bureau:330600"]
    assert designation.owed_to == Address.parse("bureau:330681")
    assert designation.due_at == cst(2024, 9, 12)  # 7 working days: 09-03 .. 09-11
    answer = desk.reply(
        request,
        Kind.JURISDICTION_DESIGNATION,
        "bureau:330600",
        cst(2024, 9, 5),
        {"designated": "bureau:330602"},
    )
    assert {(str(d.to), d.rule) for d in answer.deliveries} == {
        ("bureau:330602", Rule.DESIGNATION),
        ("bureau:330681", Rule.REPLY),
    }
    assert POLICY.closes(POLICY.rule("designation"), answer)


def test_a_refused_retransfer_also_obliges_the_common_superior_to_designate() -> None:
    desk = Desk()
    desk.send(Kind.CASE_TRANSFER, "bureau:330681", ["bureau:330602"], cst(2024, 9, 2), "T-9")
    again = desk.send(Kind.CASE_TRANSFER, "bureau:330602", ["bureau:330100"], cst(2024, 9, 3), "T-9")
    # the common superior of the transferor (330681) and the transferee (330602), both of Shaoxing
    assert {by for rule, by in owed(again) if rule == "designation"} == {"bureau:330600"}


# ---- records the 2019 campaign counted: 约谈 and 联合执法 ----


def test_interview_and_joint_action_records_go_to_the_superior_and_the_departments_owing_nothing() -> None:
    desk = Desk()
    interview = desk.send(
        Kind.ADMINISTRATIVE_INTERVIEW,
        "bureau:330681",
        [],
        cst(2024, 9, 2),
        body={"held_at": "2024-09-02T09:00:00+08:00", "outcome": "lists deleted"},
        facts=OVER_THRESHOLD,
    )
    assert [(str(d.to), d.rule) for d in interview.deliveries] == [("bureau:330600", Rule.RECORD_REPORT)]
    joint = desk.send(
        Kind.JOINT_ACTION,
        "bureau:330681",
        [],
        cst(2024, 9, 3),
        body={"held_at": "2024-09-03T09:00:00+08:00", "departments": ["telecom:330681"], "results": "r"},
        facts=None,
    )
    assert {(str(d.to), d.rule) for d in joint.deliveries} == {
        ("bureau:330600", Rule.RECORD_REPORT),
        ("telecom:330681", Rule.RECORD_REPORT),
    }
    assert Rule.RECORD_REPORT in COPY_RULES
    assert owed(joint) == {} and owed(interview) == {}
    with pytest.raises(RoutingRefused, match=r"body\.departments\.0"):
        desk.send(
            Kind.JOINT_ACTION,
            "bureau:330681",
            [],
            cst(2024, 9, 3),
            body={"held_at": "2024-09-03T09:00:00+08:00", "departments": ["telecom:330600"], "results": "r"},
            facts=None,
        )


# ---- SAMR procedure rules: checking a transferred case, also one the police pass back ----


def test_a_transferred_case_and_a_case_the_police_return_are_checked_within_15_working_days() -> None:
    desk = Desk()
    transfer = desk.send(Kind.CASE_TRANSFER, "bureau:330681", ["bureau:330602"], cst(2024, 9, 2, 10))
    check = owed(transfer)["filing_check", "bureau:330602"]
    # 15 working days: 09-03 .. 09-24 (Saturday 09-14 worked, 09-16/17 Mid-Autumn off), due end of 09-24
    assert check.due_at == cst(2024, 9, 25)
    referral = desk.send(Kind.POLICE_REFERRAL, "bureau:330681", [], cst(2024, 9, 2, 10), facts=OVER_THRESHOLD)
    back = desk.reply(referral, Kind.FILE_RETURN, "police:330681", cst(2024, 9, 3), {"returned_items": []})
    returned = owed(back)["filing_check", "bureau:330681"]
    assert returned.owed_to == Address.parse("police:330681") and "Art. 13" in returned.basis


# ---- late police: the procuratorate's 立案监督, not the superior market bureau ----


def test_late_police_escalate_to_the_procuratorate_at_their_level_and_the_bureau_is_told() -> None:
    # Decree 310 Art. 9 (the police accept the procuratorate's 立案监督) and Art. 17 (police that do not
    # accept a transfer or decide late: "除由人民检察院依法实施立案监督外").
    registry = default_registry()
    police, bureau = Address.parse("police:330681"), Address.parse("bureau:330681")
    for rule_id in ("police_receipt", "filing_decision", "reconsideration_decision"):
        rule = POLICY.rule(rule_id)
        assert rule.escalated_to is Supervisor.PROCURATORATE, rule_id
        assert "立案监督" in rule.basis, rule_id
        to = recipient(Notice.ESCALATION, police, bureau, registry, rule.escalated_to)
        assert to == Address.parse("procuratorate:330681"), rule_id
        assert recipient(Notice.OVERDUE, police, bureau, registry, rule.escalated_to) == bureau
    # what a bureau owes still goes up the market hierarchy
    assert POLICY.rule("exhibits_handover").escalated_to is Supervisor.SUPERIOR_BUREAU
    assert POLICY.rule("transfer_decision").escalated_to is Supervisor.SUPERIOR_BUREAU


def _police_escalation(police: str, bureau: str) -> object:
    from broker.tracker.notices import notice_message

    return notice_message(
        Notice.ESCALATION,
        to=Address.parse(f"procuratorate:{Address.parse(police).code}"),
        obligation_id="filing-1",
        what="filing_decision",
        regarding="6f1c0d4e-1b0a-4f7e-9d55-0b6b7a2c9e10",
        case_id="ZJ-2019-1",
        owed_by=Address.parse(police),
        owed_to=Address.parse(bureau),
        due_at=datetime(2019, 6, 1, tzinfo=BEIJING),
        basis="Decree 310 Art. 8",
    )


def test_late_police_escalate_to_a_provisioned_procuratorate_else_to_the_referring_bureaus_superior() -> None:
    """Decree 310 Art. 9: the procuratorate supervises; a deployment that has no procuratorate at
    the police office's level still hears of the lateness, at the referring bureau's superior,
    instead of the escalation being refused where nobody would be told (its sender is the broker)."""
    from tests.support.routing import PARTICIPANTS, World, routes

    with_it = World(PARTICIPANTS).route(_police_escalation("police:330681", "bureau:330681"))  # type: ignore[arg-type]
    assert routes(with_it) == {("procuratorate:330681", Rule.DEADLINE_NOTICE)}
    without = World(PARTICIPANTS - {Address.parse("procuratorate:330681")})
    decision = without.route(_police_escalation("police:330681", "bureau:330681"))  # type: ignore[arg-type]
    assert routes(decision) == {("bureau:330600", Rule.DEADLINE_NOTICE)}
    assert "no procuratorate:330681 is provisioned" in decision.deliveries[0].reason
