"""Routing decisions as values: each rule, without a broker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from broker.domain.address import Address
from broker.domain.case import CaseFacts
from broker.domain.factory import new_message
from broker.domain.messages import Kind, Message
from broker.domain.referrals import referral_body
from broker.domain.routing import Rule
from broker.tools.contract.examples import CASE_FACTS, REFERRAL_FACTS
from tests.support.messages import msg
from tests.support.routing import PARTICIPANTS, World, refused, routes

# ---- vertical ----


def test_county_escalates_to_its_city() -> None:
    d = World().route(msg(Kind.ESCALATION, "bureau:330681", []))
    assert routes(d) == {("bureau:330600", Rule.ESCALATION)}


def test_city_escalates_to_province_and_province_to_samr() -> None:
    w = World()
    assert routes(w.route(msg(Kind.ESCALATION, "bureau:330600", []))) == {("bureau:330000", Rule.ESCALATION)}
    assert routes(w.route(msg(Kind.ESCALATION, "bureau:330000", []))) == {("bureau:000000", Rule.ESCALATION)}


def test_municipal_district_escalates_to_the_municipality() -> None:
    d = World().route(msg(Kind.ESCALATION, "bureau:110105", []))
    assert routes(d) == {("bureau:110000", Rule.ESCALATION)}


def test_escalation_to_someone_else_is_refused() -> None:
    error = refused(World(), msg(Kind.ESCALATION, "bureau:330681", ["bureau:330000"]))
    assert error.field == "envelope.to" and "bureau:330600" in error.reason


def test_directive_down_to_a_named_subordinate() -> None:
    d = World().route(msg(Kind.DIRECTIVE, "bureau:330000", ["bureau:330681"], case=False))
    assert routes(d) == {("bureau:330681", Rule.DIRECTIVE)}


def test_directive_to_all_subordinates_of_a_province() -> None:
    d = World().route(msg(Kind.DIRECTIVE, "bureau:330000", [], case=False, scope="all_subordinates"))
    assert {str(r) for r in d.recipients} == {
        "bureau:330600",
        "bureau:330602",
        "bureau:330681",
        "bureau:330100",
        "bureau:330106",
    }
    assert all(rule is Rule.DIRECTIVE_ALL for _, rule in routes(d))


def test_directive_up_or_sideways_is_refused() -> None:
    assert (
        refused(World(), msg(Kind.DIRECTIVE, "bureau:330681", ["bureau:330600"], case=False)).field
        == "envelope.to"
    )
    assert (
        refused(World(), msg(Kind.DIRECTIVE, "bureau:330600", ["bureau:330106"], case=False)).field
        == "envelope.to"
    )


# ---- regional ----


def test_cross_province_request_goes_through_both_provincial_bureaus() -> None:
    d = World().route(msg(Kind.ASSISTANCE_REQUEST, "bureau:330681", ["bureau:440300"]))
    assert routes(d) == {("bureau:440000", Rule.HUB_INBOUND), ("bureau:330000", Rule.HUB_OUTBOUND)}


def test_provincial_bureau_to_provincial_bureau_is_direct() -> None:
    d = World().route(msg(Kind.CASE_NOTICE, "bureau:330000", ["bureau:440000"]))
    assert routes(d) == {("bureau:440000", Rule.HUB_INBOUND)}


def test_hub_forwards_to_the_competent_local_bureau() -> None:
    w = World()
    original = msg(Kind.ASSISTANCE_REQUEST, "bureau:330681", ["bureau:440300"])
    w.route(original)
    forward = msg(
        Kind.ASSISTANCE_REQUEST, "bureau:440000", ["bureau:440300"], forwards=original.envelope.message_id
    )
    assert routes(w.route(forward)) == {("bureau:440300", Rule.FORWARD)}


def test_forward_by_a_bureau_that_was_not_the_hub_is_refused() -> None:
    w = World()
    original = msg(Kind.ASSISTANCE_REQUEST, "bureau:330681", ["bureau:440300"])
    w.route(original)
    forward = msg(
        Kind.ASSISTANCE_REQUEST, "bureau:330000", ["bureau:330600"], forwards=original.envelope.message_id
    )
    assert refused(w, forward).field == "envelope.forwards"


def test_reply_to_a_forward_reaches_the_hub_and_the_origin() -> None:
    w = World()
    original = msg(Kind.ASSISTANCE_REQUEST, "bureau:330681", ["bureau:440300"])
    w.route(original)
    forward = msg(
        Kind.ASSISTANCE_REQUEST, "bureau:440000", ["bureau:440300"], forwards=original.envelope.message_id
    )
    w.route(forward)
    reply = msg(Kind.ASSISTANCE_REPLY, "bureau:440300", [], in_reply_to=forward.envelope.message_id)
    assert routes(w.route(reply)) == {("bureau:440000", Rule.REPLY), ("bureau:330681", Rule.REPLY_REGIONAL)}


# ---- handling restrictions ----


def test_no_onward_dissemination_forward_only_to_named_addressee() -> None:
    w = World(PARTICIPANTS | {Address.parse("bureau:440100")})
    original = msg(
        Kind.ASSISTANCE_REQUEST, "bureau:330681", ["bureau:440300"], handling=["no_onward_dissemination"]
    )
    w.route(original)

    def forward(to: str) -> Message:
        return msg(
            Kind.ASSISTANCE_REQUEST,
            "bureau:440000",
            [to],
            forwards=original.envelope.message_id,
            handling=["no_onward_dissemination"],
        )

    assert routes(w.route(forward("bureau:440300"))) == {("bureau:440300", Rule.FORWARD)}
    error = refused(w, forward("bureau:440100"))
    assert error.field == "envelope.to" and "no_onward_dissemination" in error.reason


def test_forward_must_keep_restrictions() -> None:
    w = World()
    original = msg(Kind.CASE_NOTICE, "bureau:330681", ["bureau:440300"], handling=["no_onward_dissemination"])
    w.route(original)
    forward = msg(Kind.CASE_NOTICE, "bureau:440000", ["bureau:440300"], forwards=original.envelope.message_id)
    assert refused(w, forward).field == "envelope.handling"


def facts_over_threshold(other_records: int) -> dict[str, Any]:
    return {**REFERRAL_FACTS, "records": [{"category": "other", "provided": other_records}]}


def test_restricted_referral_still_gets_its_required_supervision_copy() -> None:
    """The procuratorate's supervision copy is required (2006 opinions; Decree 310 Art. 14):
    no_onward_dissemination restricts onward dissemination, not supervision."""
    w = World()
    plain = w.route(msg(Kind.POLICE_REFERRAL, "bureau:330681", [], facts=facts_over_threshold(6000)))
    assert routes(plain) == {
        ("police:330681", Rule.POLICE_REFERRAL),
        ("procuratorate:330681", Rule.SUPERVISION_COPY),
    }
    restricted = w.route(
        msg(
            Kind.POLICE_REFERRAL,
            "bureau:330681",
            [],
            handling=["no_onward_dissemination"],
            facts=facts_over_threshold(7000),
        )
    )
    assert routes(restricted) == {
        ("police:330681", Rule.POLICE_REFERRAL),
        ("procuratorate:330681", Rule.SUPERVISION_COPY),
    }


def test_referral_under_the_threshold_stays_administrative() -> None:
    under = msg(
        Kind.POLICE_REFERRAL,
        "bureau:330681",
        [],
        facts={
            **REFERRAL_FACTS,
            "illegal_income_cny": "0",
            "records": [{"category": "other", "provided": 4999}],
        },
    )
    error = refused(World(), under)
    assert error.field == "envelope.case"
    assert "does not reach the criminal threshold" in error.reason and "4999" in error.reason


def test_referral_whose_stated_finding_differs_is_delivered_with_the_disagreement_recorded() -> None:
    """Decree 310 Art. 5: the bureau head decides on the transfer; the evaluator advises."""
    facts = {**facts_over_threshold(5000), "illegal_income_cny": "0"}
    approved_at = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    body = referral_body(CaseFacts.model_validate(facts), "head", approved_at)
    body["level"] = "especially_serious"
    decision = World().route(msg(Kind.POLICE_REFERRAL, "bureau:330681", [], body=body, facts=facts))
    assert routes(decision) == {
        ("police:330681", Rule.POLICE_REFERRAL),
        ("procuratorate:330681", Rule.SUPERVISION_COPY_DISPUTED),
    }
    assert decision.threshold is not None
    assert decision.threshold["disagreement"]["field"] == "body.level"
    assert "the case facts reach serious" in decision.threshold["disagreement"]["reason"]
    body = referral_body(CaseFacts.model_validate(facts), "head", approved_at)
    body["clauses"] = [{"clause": "art5.3", "title": "t"}]
    decision = World().route(msg(Kind.POLICE_REFERRAL, "bureau:330681", [], body=body, facts=facts))
    assert decision.threshold is not None and decision.threshold["disagreement"]["field"] == "body.clauses"


def test_referral_carries_the_routers_assessment() -> None:
    decision = World().route(msg(Kind.POLICE_REFERRAL, "bureau:330681", [], facts=facts_over_threshold(5000)))
    assert decision.threshold is not None
    assert decision.threshold["reached"] is True
    assert decision.threshold["rules_version"] == "2017-spc-spp-10"
    assert "art5.5" in [c["clause"] for c in decision.threshold["clauses"]]


def test_same_company_and_facts_from_two_bureaus_become_one_referral() -> None:
    w = World(PARTICIPANTS | {Address.parse("police:330600")})
    first = w.route(msg(Kind.POLICE_REFERRAL, "bureau:330681", [], case_id="A-1"))
    second = w.route(msg(Kind.POLICE_REFERRAL, "bureau:330600", [], case_id="B-7"))
    # Decree 310 Art. 5: to the referring bureau's own same-level police, with a link to the first
    assert routes(second) == {("police:330600", Rule.REFERRAL_LINKED)}
    assert second.linked_to == first.message_id
    (notice,) = second.notices
    assert notice.envelope.kind is Kind.REFERRAL_LINKED
    assert sorted(notice.envelope.to) == ["bureau:330600", "bureau:330681"]
    assert notice.body.referral == first.message_id and notice.body.linked == second.message_id
    assert notice.body.police == "police:330600"


def test_different_facts_are_separate_referrals() -> None:
    w = World()
    w.route(msg(Kind.POLICE_REFERRAL, "bureau:330681", [], facts=facts_over_threshold(6000)))
    other = w.route(msg(Kind.POLICE_REFERRAL, "bureau:330681", [], facts=facts_over_threshold(6001)))
    assert ("police:330681", Rule.POLICE_REFERRAL) in routes(other) and other.linked_to is None


def test_nobody_may_publish_a_generated_kind() -> None:
    w = World(PARTICIPANTS | {Address.parse("police:330600")})
    w.route(msg(Kind.POLICE_REFERRAL, "bureau:330681", []))
    notice = w.route(msg(Kind.POLICE_REFERRAL, "bureau:330600", [])).notices[0]
    forged = notice.model_copy(
        update={"envelope": notice.envelope.model_copy(update={"sender": "bureau:330681"})}
    )
    assert refused(w, forged).field == "envelope.kind"


# ---- interdepartmental ----


def test_bureau_to_department_office_at_its_level() -> None:
    d = World().route(msg(Kind.COORDINATION_REQUEST, "bureau:330681", ["telecom:330681"]))
    assert routes(d) == {("telecom:330681", Rule.DEPARTMENT)}


def test_department_office_at_another_level_is_refused() -> None:
    error = refused(World(), msg(Kind.COORDINATION_REQUEST, "bureau:330681", ["telecom:330600"]))
    assert error.field == "envelope.to" and "telecom:330681" in error.reason


def test_referral_to_other_police_office_is_refused() -> None:
    assert (
        refused(World(), msg(Kind.POLICE_REFERRAL, "bureau:330681", ["police:330600"])).field == "envelope.to"
    )


# ---- case transfer ----


def test_transfer_to_the_competent_bureau_then_no_retransfer() -> None:
    w = World()
    first = msg(Kind.CASE_TRANSFER, "bureau:330681", ["bureau:330602"], case_id="C-9")
    assert routes(w.route(first)) == {("bureau:330602", Rule.TRANSFER)}
    onward = msg(Kind.CASE_TRANSFER, "bureau:330602", ["bureau:330106"], case_id="C-9")
    d = w.route(onward)
    # the dispute is 330681's (Zhuji) and 330602's (Yuecheng), both of Shaoxing: Shaoxing designates,
    # not Zhejiang, where 330602 and the bureau it names (330106, Hangzhou Xihu) meet (Art. 14)
    assert routes(d) == {("bureau:330600", Rule.NO_RETRANSFER)}
    assert "may not transfer it on" in d.deliveries[0].reason
    # another case of the same bureau (another company: the same one under a new id is the same
    # case, test_routing_holes.py) is not affected
    another_company = {**CASE_FACTS, "company_credit_code": "91330602MA2B00019Q"}
    other = new_message(
        Kind.CASE_TRANSFER, "bureau:330602", ["bureau:330681"], "C-10", {"reason": "r"}, case=another_company
    )
    assert routes(w.route(other)) == {("bureau:330681", Rule.TRANSFER)}


def test_designation_reaches_the_designated_bureau_and_both_parties() -> None:
    w = World()
    w.route(msg(Kind.CASE_TRANSFER, "bureau:330681", ["bureau:330602"], case_id="C-9"))
    onward = msg(Kind.CASE_TRANSFER, "bureau:330602", ["bureau:330106"], case_id="C-9")
    w.route(onward)
    designation = msg(
        Kind.JURISDICTION_DESIGNATION,
        "bureau:330600",
        [],
        body={"designated": "bureau:330602"},
        case_id="C-9",
        in_reply_to=onward.envelope.message_id,
    )
    # the bureau that transferred the case (330681) is a party of the dispute and is told too
    assert routes(w.route(designation)) == {
        ("bureau:330602", Rule.DESIGNATION),
        ("bureau:330106", Rule.REPLY),
        ("bureau:330681", Rule.REPLY),
    }


# ---- replies ----


def test_reply_goes_back_to_the_sender() -> None:
    w = World()
    notice = msg(Kind.CASE_NOTICE, "bureau:330681", ["bureau:330600"])
    w.route(notice)
    ack = msg(Kind.RECEIPT_ACK, "bureau:330600", [], in_reply_to=notice.envelope.message_id)
    assert routes(w.route(ack)) == {("bureau:330681", Rule.REPLY)}


def test_reply_from_someone_who_did_not_receive_it_is_refused() -> None:
    w = World()
    notice = msg(Kind.CASE_NOTICE, "bureau:330681", ["bureau:330600"])
    w.route(notice)
    ack = msg(Kind.RECEIPT_ACK, "bureau:440300", [], in_reply_to=notice.envelope.message_id)
    assert refused(w, ack).field == "envelope.sender"


def test_reply_to_unknown_message_is_refused() -> None:
    notice = msg(Kind.CASE_NOTICE, "bureau:330681", ["bureau:330600"])
    ack = msg(Kind.RECEIPT_ACK, "bureau:330600", [], in_reply_to=notice.envelope.message_id)
    error = refused(World(), ack)
    assert error.field == "envelope.in_reply_to" and "has not routed" in error.reason


def test_reply_of_the_wrong_kind_is_refused() -> None:
    w = World()
    notice = msg(Kind.CASE_NOTICE, "bureau:330681", ["bureau:330600"])
    w.route(notice)
    decision = msg(Kind.FILING_DECISION, "bureau:330600", [], in_reply_to=notice.envelope.message_id)
    error = refused(w, decision)
    assert error.field == "envelope.in_reply_to" and "police_referral" in error.reason


def test_police_answers_go_back_to_the_referring_bureau() -> None:
    w = World()
    referral = msg(Kind.POLICE_REFERRAL, "bureau:330681", [])
    w.route(referral)
    decision = msg(Kind.FILING_DECISION, "police:330681", [], in_reply_to=referral.envelope.message_id)
    # Decree 310 Art. 8 (2020): the decision is also copied to the procuratorate (抄送人民检察院)
    assert routes(w.route(decision)) == {
        ("bureau:330681", Rule.REPLY),
        ("procuratorate:330681", Rule.SUPERVISION_COPY),
    }


# ---- participants ----


def test_unprovisioned_addressee_is_refused() -> None:
    error = refused(World(), msg(Kind.CASE_NOTICE, "bureau:330681", ["bureau:330683"]))
    assert error.field == "envelope.to" and "bureau:330683 is not a provisioned participant" in error.reason


def test_unprovisioned_hub_is_refused() -> None:
    error = refused(World(), msg(Kind.CASE_NOTICE, "bureau:330681", ["bureau:320100"]))
    assert "bureau:320000" in error.reason


def test_message_to_oneself_only_is_refused() -> None:
    assert refused(World(), msg(Kind.CASE_NOTICE, "bureau:330681", ["bureau:330681"])).field == "envelope.to"


# ---- deadline notices ----


def _notice(sender: str) -> Message:
    return new_message(
        Kind.DEADLINE_NOTICE,
        sender,
        ["bureau:330600"],
        "C-1",
        {
            "notice": "escalation",
            "obligation_id": "o-1",
            "obligation": "reply",
            "regarding": "5eed0000-0000-4000-8000-000000000002",
            "owed_by": "bureau:330681",
            "owed_to": "bureau:330000",
            "due_at": "2019-06-24T23:59:59+08:00",
            "basis": "b",
        },
    )


def test_deadline_notice_from_the_system_is_delivered() -> None:
    world = World(PARTICIPANTS | {Address.parse("system:000000")})
    assert routes(world.route(_notice("system:000000"))) == {("bureau:330600", Rule.DEADLINE_NOTICE)}


def test_only_the_system_sends_deadline_notices() -> None:
    assert refused(World(), _notice("bureau:330681")).field == "envelope.sender"


def test_an_address_with_trailing_text_is_not_an_address() -> None:
    from broker.domain.address import AddressError

    for text in ("bureau:330681\n", "bureau:330681 ", "xbureau:330681"):
        with pytest.raises(AddressError):
            Address.parse(text)
