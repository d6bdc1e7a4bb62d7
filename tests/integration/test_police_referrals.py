"""Criminal referrals end to end: threshold gate, police queue, police answers, duplicates."""

from __future__ import annotations

import json

import pytest

from broker.domain.messages import Kind, PoliceReferral
from broker.participants import SYSTEM
from broker.tools.police_example import decline_everything, serve
from broker.transport import topology
from tests.support.deployment import Deployment
from tests.support.messages import msg
from tests.support.queues import drain
from tests.support.traffic import nothing_for, receive
from tests.support.waiting import wait_for

pytestmark = pytest.mark.rabbitmq

SIM_RING = {
    "company_credit_code": "91330681MA29FT8L2C",
    "sector": "telemarketing",
    "violations": ["leaking_selling_providing"],
    "records": [{"category": "other", "provided": 18990}],
    "illegal_income_cny": "286179.00",
}
EDUCATION_COMPANY = {
    "company_credit_code": "91330681MA29FT8L2C",
    "sector": "education",
    "violations": ["collecting_without_consent"],
    "records": [{"category": "other", "held": 480}],
}


def test_county_case_over_threshold_reaches_its_police_office_and_is_answered(deployment: Deployment) -> None:
    bureau = deployment.client("bureau:330681")
    referral = msg(Kind.POLICE_REFERRAL, "bureau:330681", [], facts=SIM_RING, case_id="ZJ-ZJ-2019-0099")
    bureau.publish(referral)
    police = deployment.client("police:330681")
    handled: list[tuple[PoliceReferral, str | None]] = []

    def decide(message: PoliceReferral) -> tuple[str, str]:
        handled.append((message, None))
        return "filed", ""

    assert serve(police, decide, max_messages=1, idle_timeout_s=5) == 1
    ((got, _),) = handled
    assert got.envelope.message_id == referral.envelope.message_id
    assert "18,990" in got.body.explanation and got.body.level == "especially_serious"
    assert len(receive(deployment.client("procuratorate:330681"))) == 1  # supervision copy
    answers = receive(bureau, 2)
    assert [m.envelope.kind for m, _ in answers] == [Kind.POLICE_RECEIPT, Kind.FILING_DECISION]
    assert all(m.envelope.in_reply_to == referral.envelope.message_id for m, _ in answers)
    assert all(meta.rule == "reply.correlation" for _, meta in answers)


def test_the_referral_carries_the_explanation(deployment: Deployment) -> None:
    deployment.client("bureau:330681").publish(msg(Kind.POLICE_REFERRAL, "bureau:330681", [], facts=SIM_RING))
    assert len(receive(deployment.client("police:330681"))) == 1
    records = drain(deployment.settings, topology.TRACKER_QUEUE, expect=1)
    decision = json.loads(records[-1].body)
    assert decision["threshold"]["reached"] is True
    assert decision["threshold"]["level"] == "especially_serious"
    assert {"art5.5", "art5.7"} <= {c["clause"] for c in decision["threshold"]["clauses"]}


def test_not_filed_and_reconsideration(deployment: Deployment) -> None:
    bureau = deployment.client("bureau:330681")
    bureau.publish(msg(Kind.POLICE_REFERRAL, "bureau:330681", [], facts=SIM_RING))
    assert (
        serve(deployment.client("police:330681"), decline_everything, max_messages=1, idle_timeout_s=5) == 1
    )
    _, decision = receive(bureau, 2)
    assert decision[0].envelope.kind is Kind.FILING_DECISION and decision[0].body.decision == "not_filed"
    bureau.reply(decision[0], Kind.RECONSIDERATION_REQUEST, {"reason": "bank records now show the sales"})
    ((request, meta),) = receive(deployment.client("police:330681"))
    assert request.envelope.kind is Kind.RECONSIDERATION_REQUEST and meta.rule == "reply.correlation"


def test_case_under_the_threshold_stays_administrative(deployment: Deployment) -> None:
    deployment.client("bureau:330681").publish(
        msg(Kind.POLICE_REFERRAL, "bureau:330681", [], facts=EDUCATION_COMPANY)
    )
    (quarantined,) = drain(deployment.settings, topology.QUARANTINE, expect=1)
    assert quarantined.headers["x-quarantine-field"] == "envelope.case"
    assert "does not reach the criminal threshold" in quarantined.headers["x-quarantine-reason"]
    assert nothing_for(deployment.client("police:330681"), 1.0)


def test_same_company_and_facts_from_two_bureaus_become_one_referral(deployment: Deployment) -> None:
    first = msg(Kind.POLICE_REFERRAL, "bureau:330681", [], facts=SIM_RING, case_id="ZJ-1")
    deployment.client("bureau:330681").publish(first)
    assert wait_for(lambda: deployment.router.counters.routed == 1)
    second = msg(Kind.POLICE_REFERRAL, "bureau:330600", [], facts=SIM_RING, case_id="SX-9")
    deployment.client("bureau:330600").publish(second)
    # Decree 310 Art. 5: each bureau's transfer goes to its own same-level police; the second is
    # linked to the first instead of crossing to the first police office
    ((got_first, _),) = receive(deployment.client("police:330681"))
    assert got_first.envelope.message_id == first.envelope.message_id
    ((got_second, meta_second),) = receive(deployment.client("police:330600"))
    assert got_second.envelope.message_id == second.envelope.message_id
    assert meta_second.rule == "police.referral_linked"
    assert nothing_for(deployment.client("police:330681"), 0.5)
    for bureau in ("bureau:330681", "bureau:330600"):
        ((notice, meta),) = receive(deployment.client(bureau))
        assert notice.envelope.kind is Kind.REFERRAL_LINKED and meta.rule == "police.referral_linked_notice"
        assert (
            notice.body.referral == first.envelope.message_id
            and notice.body.linked == second.envelope.message_id
        )
        assert meta.sender_user == deployment.participants.username(SYSTEM)  # provably from the broker
