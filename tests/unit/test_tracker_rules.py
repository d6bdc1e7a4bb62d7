"""The deadline rule table, rule by rule, on records made by the real routing rules. No database."""

from __future__ import annotations

from datetime import datetime

import pytest

from broker.domain.address import Address
from broker.domain.case import CaseFacts
from broker.domain.jurisdictions import default_registry
from broker.domain.messages import Kind
from broker.domain.referrals import referral_body
from broker.tools.records import OVER_THRESHOLD, Desk
from broker.tracker.calendar import BEIJING, WorkCalendar
from broker.tracker.notices import Notice, recipient
from broker.tracker.record import RecordError, Routed, parse_record
from broker.tracker.rules import NewObligation, Policy

POLICY = Policy()
CALENDAR = WorkCalendar()


def cst(*args: int) -> datetime:
    return datetime(*args, tzinfo=BEIJING)  # type: ignore[misc]


def owed(record: Routed, policy: Policy = POLICY) -> dict[tuple[str, str], NewObligation]:
    """(rule, owed_by) -> obligation."""
    return {(o.rule, str(o.owed_by)): o for o in policy.obligations_for(record, CALENDAR)}


# ---- receipt (policy: 1 working day, any case-bearing message) ----


def test_receipt_of_a_case_notice_is_owed_by_the_addressee_and_counts_the_adjusted_sunday() -> None:
    notice = Desk().send(Kind.CASE_NOTICE, "bureau:330681", ["bureau:330600"], cst(2024, 9, 27, 16))
    obligations = owed(notice)
    assert set(obligations) == {("receipt", "bureau:330600")}
    receipt = obligations["receipt", "bureau:330600"]
    assert receipt.owed_to == Address.parse("bureau:330681")
    assert receipt.due_at == cst(2024, 9, 30)  # Sunday 09-29 is a working day
    assert receipt.regarding == notice.message_id and receipt.chased
    assert "policy" in receipt.basis.lower()


def test_messages_without_case_facts_owe_no_receipt() -> None:
    directive = Desk().send(Kind.DIRECTIVE, "bureau:330000", ["bureau:330600"], cst(2024, 9, 2), facts=None)
    assert owed(directive) == {}


def test_a_directive_with_case_facts_to_all_subordinates_is_owed_by_each() -> None:
    directive = Desk().send(
        Kind.DIRECTIVE,
        "bureau:330600",
        [],
        cst(2024, 9, 2),
        facts=OVER_THRESHOLD | {},
        scope="all_subordinates",
    )
    receipts = {by for rule, by in owed(directive) if rule == "receipt"}
    assert receipts == {"bureau:330602", "bureau:330681"}


def test_escalation_and_case_transfer_owe_a_receipt() -> None:
    desk = Desk()
    escalation = desk.send(Kind.ESCALATION, "bureau:330681", [], cst(2024, 9, 2))
    assert set(owed(escalation)) == {("receipt", "bureau:330600")}
    transfer = desk.send(Kind.CASE_TRANSFER, "bureau:330681", ["bureau:330602"], cst(2024, 9, 2), "T-1")
    # and checks it within 15 working days, deciding whether to file (SAMR procedure rules)
    assert set(owed(transfer)) == {("receipt", "bureau:330602"), ("filing_check", "bureau:330602")}
    # the competent bureau may not transfer it on: the common superior of it and the transferor
    # receives it and owes the receipt, and the designation (SAMR procedure rules)
    again = desk.send(Kind.CASE_TRANSFER, "bureau:330602", ["bureau:330100"], cst(2024, 9, 3), "T-1")
    assert set(owed(again)) == {("receipt", "bureau:330600"), ("designation", "bureau:330600")}


# ---- assistance request (15 working days; SAMR procedure rules) ----


def test_assistance_request_is_due_in_15_working_days_across_national_day() -> None:
    request = Desk().send(Kind.ASSISTANCE_REQUEST, "bureau:330681", ["bureau:330600"], cst(2024, 9, 20, 10))
    obligations = owed(request)
    assert set(obligations) == {("receipt", "bureau:330600"), ("assistance_reply", "bureau:330600")}
    reply = obligations["assistance_reply", "bureau:330600"]
    assert reply.due_at == cst(2024, 10, 17)
    assert reply.reminder_at == reply.start_at + (reply.due_at - reply.start_at) * 0.8
    assert "15 working days" in reply.basis


def test_cross_province_the_hub_owes_the_origin_and_the_forward_recipient_owes_the_hub() -> None:
    desk = Desk()
    request = desk.send(Kind.ASSISTANCE_REQUEST, "bureau:330681", ["bureau:440300"], cst(2024, 9, 2, 9))
    at_hub = owed(request)
    # the origin's own provincial bureau only gets a copy (regional.hub_outbound_copy)
    assert set(at_hub) == {("receipt", "bureau:440000"), ("assistance_reply", "bureau:440000")}
    assert at_hub["assistance_reply", "bureau:440000"].owed_to == Address.parse("bureau:330681")
    forward = desk.forward(request, "bureau:440000", ["bureau:440300"], cst(2024, 9, 3, 9))
    local = owed(forward)
    assert set(local) == {("receipt", "bureau:440300"), ("assistance_reply", "bureau:440300")}
    assert local["assistance_reply", "bureau:440300"].owed_to == Address.parse("bureau:440000")
    # from its own receipt, across Mid-Autumn 2024 (09-15..17 off, Saturday 09-14 worked)
    assert local["assistance_reply", "bureau:440300"].due_at == cst(2024, 9, 26)
    assert at_hub["assistance_reply", "bureau:440000"].due_at == cst(2024, 9, 25)


def test_extension_moves_the_due_time_by_working_days() -> None:
    rule = POLICY.rule("assistance_reply")
    start = cst(2024, 9, 20, 10)
    assert POLICY.due_at(rule, start, 0, CALENDAR) == cst(2024, 10, 17)
    assert POLICY.due_at(rule, start, 5, CALENDAR) == cst(2024, 10, 24)


def test_only_a_complete_assistance_reply_or_a_completion_ack_closes_the_request() -> None:
    desk = Desk()
    request = desk.send(Kind.ASSISTANCE_REQUEST, "bureau:330681", ["bureau:330600"], cst(2024, 9, 2))
    rule = POLICY.rule("assistance_reply")
    reply = desk.reply(request, Kind.ASSISTANCE_REPLY, "bureau:330600", cst(2024, 9, 5))
    assert reply.complete is True and POLICY.closes(rule, reply)
    partial = desk.reply(
        request, Kind.ASSISTANCE_REPLY, "bureau:330600", cst(2024, 9, 5), {"findings": "f", "complete": False}
    )
    assert partial.complete is False and not POLICY.closes(rule, partial)
    # a record from a router that does not copy the flag: the reply is taken as complete
    older = {k: v for k, v in desk.records[reply.message_id].items() if k != "assistance"}
    assert parse_record(older).complete is None and POLICY.closes(rule, parse_record(older))
    assert POLICY.closes(rule, desk.reply(request, Kind.COMPLETION_ACK, "bureau:330600", cst(2024, 9, 6)))
    assert not POLICY.closes(rule, desk.reply(request, Kind.RECEIPT_ACK, "bureau:330600", cst(2024, 9, 3)))
    assert POLICY.closes(
        POLICY.rule("receipt"), desk.reply(request, Kind.EXTENSION_REQUEST, "bureau:330600", cst(2024, 9, 3))
    )


# ---- police referral (Decree 310) ----


def test_police_referral_owes_a_receipt_and_a_filing_decision_in_3_days_rolled_past_the_holiday() -> None:
    referral = Desk().send(
        Kind.POLICE_REFERRAL, "bureau:330681", [], cst(2024, 9, 28, 11), facts=OVER_THRESHOLD
    )
    obligations = owed(referral)
    # the procuratorate's supervision copy owes nothing; no transfer decision: this is the transfer
    assert set(obligations) == {
        ("police_receipt", "police:330681"),
        ("filing_decision", "police:330681"),
        ("transfer_dispatch", "bureau:330681"),
    }
    assert obligations["police_receipt", "police:330681"].due_at == cst(2024, 9, 30)
    filing = obligations["filing_decision", "police:330681"]
    assert filing.owed_to == Address.parse("bureau:330681")
    assert filing.due_at == cst(2024, 10, 9)  # 10-01 is a holiday: the period ends after 10-08
    assert "Decree 310" in filing.basis


def test_an_approved_transfer_is_due_at_the_police_24_hours_after_the_approval() -> None:
    desk = Desk()
    facts = OVER_THRESHOLD
    body = referral_body(CaseFacts.model_validate(facts), "head", "2024-09-02T09:00:00+08:00")
    referral = desk.send(
        Kind.POLICE_REFERRAL, "bureau:330681", [], cst(2024, 9, 3, 15), body=body, facts=facts
    )
    dispatch = owed(referral)["transfer_dispatch", "bureau:330681"]
    assert dispatch.start_at == cst(2024, 9, 2, 9) and dispatch.due_at == cst(2024, 9, 3, 9)
    assert POLICY.rule("transfer_dispatch").closed_by_itself


def test_a_referral_joined_to_an_earlier_one_owes_the_police_nothing_new() -> None:
    desk = Desk()
    desk.send(Kind.POLICE_REFERRAL, "bureau:330681", [], cst(2024, 9, 2), "F-1", facts=OVER_THRESHOLD)
    again = desk.send(Kind.POLICE_REFERRAL, "bureau:330681", [], cst(2024, 9, 3), "F-2", facts=OVER_THRESHOLD)
    assert again.linked_to is not None
    assert set(owed(again)) == {("transfer_dispatch", "bureau:330681")}


def test_a_filing_decision_not_to_file_opens_an_optional_reconsideration_window() -> None:
    desk = Desk()
    referral = desk.send(Kind.POLICE_REFERRAL, "bureau:330681", [], cst(2024, 9, 2), facts=OVER_THRESHOLD)
    decision = desk.reply(
        referral,
        Kind.FILING_DECISION,
        "police:330681",
        cst(2024, 9, 4, 15),
        {"decision": "not_filed", "reasons": "r"},
    )
    obligations = owed(decision)
    assert set(obligations) == {("reconsideration_window", "bureau:330681")}
    window = obligations["reconsideration_window", "bureau:330681"]
    assert not window.chased and window.owed_to == Address.parse("police:330681")
    assert window.due_at == cst(2024, 9, 10)  # the third day is a Saturday: it ends after Monday


def test_a_decision_to_file_obliges_the_bureau_to_hand_over_the_exhibits_in_3_days() -> None:
    desk = Desk()
    referral = desk.send(Kind.POLICE_REFERRAL, "bureau:330681", [], cst(2024, 9, 2), facts=OVER_THRESHOLD)
    decision = desk.reply(referral, Kind.FILING_DECISION, "police:330681", cst(2024, 9, 3, 10))
    obligations = owed(decision)
    assert set(obligations) == {("exhibits_handover", "bureau:330681")}
    handover = obligations["exhibits_handover", "bureau:330681"]
    assert handover.chased and handover.due_at == cst(2024, 9, 7)
    assert handover.regarding == decision.message_id


# ---- interdepartmental coordination (policy: 10 working days) ----


def test_coordination_request_is_owed_by_the_department_office_in_10_working_days() -> None:
    request = Desk().send(Kind.COORDINATION_REQUEST, "bureau:330681", ["telecom:330681"], cst(2024, 9, 27, 9))
    obligations = owed(request)
    assert set(obligations) == {("receipt", "telecom:330681"), ("coordination_reply", "telecom:330681")}
    # 09-29 (1), 09-30 (2), 10-08..11 (6), 10-12 Saturday (7), 10-14..16 (10)
    assert obligations["coordination_reply", "telecom:330681"].due_at == cst(2024, 10, 17)


# ---- criminal threshold: the bureau head decides on the transfer (Decree 310 Art. 5) ----


def test_facts_over_the_threshold_oblige_the_sending_bureau_to_decide_on_a_transfer_in_3_days() -> None:
    notice = Desk().send(
        Kind.CASE_NOTICE, "bureau:330681", ["bureau:330600"], cst(2024, 9, 2, 10), "K-9", facts=OVER_THRESHOLD
    )
    obligations = owed(notice)
    decision = obligations["transfer_decision", "bureau:330681"]
    assert decision.owed_to == Address.parse("police:330681")
    assert decision.due_at == cst(2024, 9, 6)
    assert "Art. 5" in decision.basis
    # one per case and bureau, whichever message shows the facts first
    again = Desk().send(
        Kind.ASSISTANCE_REQUEST,
        "bureau:330681",
        ["bureau:330600"],
        cst(2024, 9, 3),
        "K-9",
        facts=OVER_THRESHOLD,
    )
    assert owed(again)["transfer_decision", "bureau:330681"].id == decision.id


def test_facts_below_the_threshold_or_a_hubs_forward_oblige_no_transfer_decision() -> None:
    desk = Desk()
    below = desk.send(Kind.CASE_NOTICE, "bureau:330681", ["bureau:330600"], cst(2024, 9, 2))
    assert ("transfer_decision", "bureau:330681") not in owed(below)
    request = desk.send(
        Kind.ASSISTANCE_REQUEST, "bureau:330681", ["bureau:440300"], cst(2024, 9, 2), facts=OVER_THRESHOLD
    )
    forward = desk.forward(request, "bureau:440000", ["bureau:440300"], cst(2024, 9, 3))
    assert not [o for o in owed(forward) if o[0] == "transfer_decision"]


# ---- configuration ----


def test_the_table_is_configurable() -> None:
    policy = Policy.from_overrides(
        {
            "reminder_fraction": 0.5,
            "rules": {"coordination_reply": {"amount": 5}, "receipt": {"enabled": False}},
        }
    )
    request = Desk().send(Kind.COORDINATION_REQUEST, "bureau:330681", ["telecom:330681"], cst(2024, 9, 27, 9))
    obligations = owed(request, policy)
    assert set(obligations) == {("coordination_reply", "telecom:330681")}
    reply = obligations["coordination_reply", "telecom:330681"]
    assert reply.due_at == cst(2024, 10, 11)
    assert reply.reminder_at == reply.start_at + (reply.due_at - reply.start_at) / 2


@pytest.mark.parametrize(
    "overrides",
    [
        {"rules": {"no_such_rule": {}}},
        {"rules": {"receipt": {"kinds": []}}},
        {"reminder_fraction": 1.5},
        {"x": 1},
    ],
)
def test_a_bad_configuration_is_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Policy.from_overrides(overrides)


def test_obligation_ids_are_stable_so_a_record_seen_twice_yields_the_same_obligations() -> None:
    desk = Desk()
    request = desk.send(Kind.ASSISTANCE_REQUEST, "bureau:330681", ["bureau:330600"], cst(2024, 9, 2))
    again = parse_record(desk.records[request.message_id])
    assert POLICY.obligations_for(request, CALENDAR) == POLICY.obligations_for(again, CALENDAR)


# ---- notices: who is reminded, to whom it escalates ----


def test_notice_recipients() -> None:
    registry = default_registry()
    county, city, telecom = (Address.parse(a) for a in ("bureau:330681", "bureau:330600", "telecom:330681"))
    assert recipient(Notice.REMINDER, city, county, registry) == city
    assert recipient(Notice.OVERDUE, city, county, registry) == county
    assert recipient(Notice.ESCALATION, city, county, registry) == Address.parse("bureau:330000")
    # an office's escalation goes to the superior of the bureau it owes
    assert recipient(Notice.ESCALATION, telecom, county, registry) == city
    assert recipient(Notice.ESCALATION, Address.parse("bureau:000000"), city, registry) is None
    municipal = Address.parse("bureau:110105")
    assert recipient(Notice.ESCALATION, municipal, county, registry) == Address.parse("bureau:110000")


# ---- the record ----


def test_a_record_that_is_not_a_decision_record_is_refused_without_echoing_it() -> None:
    desk = Desk()
    good = desk.records[
        desk.send(Kind.CASE_NOTICE, "bureau:330681", ["bureau:330600"], cst(2024, 9, 2)).message_id
    ]
    for bad in (
        b"not json",
        b"[]",
        good | {"record_version": 99},
        good | {"event": "quarantined"},
        good | {"sender": "13800000000"},
        good | {"routed_at": "2024-09-02T10:00:00"},
    ):
        with pytest.raises(RecordError) as info:
            parse_record(bad)
        assert "13800000000" not in str(info.value)
