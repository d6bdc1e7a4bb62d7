"""The router does not overrule the bureau head (Decree 310 Art. 5; issue 15): the referral carries
the head's basis, the decision the evaluator's assessment beside it; a disagreement is recorded,
flagged on the supervision copy and counted; only an under-threshold referral on Art. 5 of
法释〔2017〕10号 alone stays refused, with the reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from broker.domain.case import CaseFacts
from broker.domain.messages import Kind
from broker.domain.referrals import referral_body
from broker.domain.routing import COPY_RULES, Rule
from broker.tools.contract.examples import REFERRAL_FACTS
from tests.support.messages import msg
from tests.support.routing import World, refused, routes

UNDER = {**REFERRAL_FACTS, "illegal_income_cny": "0", "records": [{"category": "other", "provided": 4999}]}
"""The SIM-card ring's pattern below Art. 5 item 5: 4,999 identity records, no income."""


def _body(facts: dict[str, Any], **changes: Any) -> dict[str, Any]:
    approved_at = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    model = CaseFacts.model_validate(facts)
    body = referral_body(model, "head", approved_at)
    if body["level"] == "not_reached":  # the head reads the facts otherwise
        body.update(level="serious", clauses=[{"clause": "art5.5", "title": "head's reading"}])
    return {**body, **changes}


def _referral(facts: dict[str, Any], **changes: Any) -> Any:
    return msg(Kind.POLICE_REFERRAL, "bureau:330681", [], body=_body(facts, **changes), facts=facts)


def test_under_the_threshold_on_art5_alone_stays_refused_with_the_reason() -> None:
    error = refused(World(), _referral(UNDER))
    assert error.field == "envelope.case"
    assert "no other basis" in error.reason and "body.legal_basis" in error.reason and "4999" in error.reason
    # a legal basis naming this interpretation but relying on Art. 5 clauses only is Art. 5 alone
    basis = {"offence": "infringing_personal_information", "citation": "Art. 5 item 5", "reason": "many"}
    assert refused(World(), _referral(UNDER, legal_basis=basis)).field == "envelope.case"


def test_head_referring_for_another_offence_is_delivered_and_flagged() -> None:
    basis = {"offence": "other_offence", "citation": "刑法第二百六十六条", "reason": "SIM cards, fraud 张伟"}
    decision = World().route(_referral(UNDER, legal_basis=basis))
    assert routes(decision) == {
        ("police:330681", Rule.POLICE_REFERRAL),
        ("procuratorate:330681", Rule.SUPERVISION_COPY_DISPUTED),
    }
    assert decision.threshold is not None
    assert decision.threshold["reached"] is False  # the evaluator's assessment, side by side
    assert decision.threshold["head_legal_basis"] == "other_offence"
    assert decision.threshold["disagreement"]["field"] == "body.legal_basis"
    # the body's free text stays in the body: nothing of it in the decision or its reasons
    reasons = " ".join(d.reason for d in decision.deliveries)
    recorded = json.dumps(decision.threshold, ensure_ascii=False) + reasons
    assert "张伟" not in recorded and "二百六十六" not in recorded


def test_head_reading_art6_where_the_evaluator_applies_art5_is_delivered_and_flagged() -> None:
    basis = {"offence": "infringing_personal_information", "citation": "Art. 6 item 3", "reason": "r"}
    decision = World().route(
        _referral(UNDER, legal_basis=basis, clauses=[{"clause": "art6.3", "title": "other serious"}])
    )
    assert ("procuratorate:330681", Rule.SUPERVISION_COPY_DISPUTED) in routes(decision)


def test_art6_and_item4_readings_the_evaluator_shares_pass_plainly() -> None:
    art6 = {
        **REFERRAL_FACTS,
        "records": [{"category": "other", "held": 20_000}],
        "illegal_income_cny": "0",
        "own_lawful_business": True,
        "profit_from_use_cny": "60000",
    }
    decision = World().route(_referral(art6))
    assert routes(decision) == {
        ("police:330681", Rule.POLICE_REFERRAL),
        ("procuratorate:330681", Rule.SUPERVISION_COPY),
    }
    assert decision.threshold is not None and decision.threshold["article"] == "art6"
    assert decision.threshold["disagreement"] is None
    item4 = {**REFERRAL_FACTS, "other_especially_serious_circumstances": True}
    decision = World().route(_referral(item4))
    assert decision.threshold is not None and decision.threshold["level"] == "especially_serious"
    assert decision.threshold["disagreement"] is None


def test_the_disputed_supervision_copy_is_a_copy() -> None:
    assert Rule.SUPERVISION_COPY_DISPUTED in COPY_RULES
