"""Messages for tests: any kind, from any sender, with a body and case facts that pass validation
unless a test says otherwise (keyword arguments go to the envelope)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from broker.domain.case import CaseFacts
from broker.domain.factory import new_message
from broker.domain.messages import Kind, Message
from broker.domain.referrals import referral_body
from broker.tools.contract.examples import CASE_FACTS, REFERRAL_FACTS


def msg(
    kind: Kind, sender: str, to: list[str], body: dict[str, Any] | None = None, case: bool = True, **env: Any
) -> Message:
    default_bodies: dict[Kind, dict[str, Any]] = {
        Kind.CASE_NOTICE: {"summary": "s"},
        Kind.ASSISTANCE_REQUEST: {"questions": ["q"]},
        Kind.ESCALATION: {"reason": "r"},
        Kind.DIRECTIVE: {"directive_type": "guidance", "instructions": "i"},
        Kind.CASE_TRANSFER: {"reason": "r"},
        Kind.COORDINATION_REQUEST: {"action": "information", "request": "r"},
        Kind.ASSISTANCE_REPLY: {"findings": "f", "complete": True},
        Kind.RECEIPT_ACK: {},
        Kind.FILING_DECISION: {"decision": "filed"},
        Kind.JURISDICTION_DESIGNATION: {"designated": "bureau:330681"},
        Kind.ASSESSMENT_REQUEST: {},
    }
    facts = (
        CASE_FACTS
        if case
        and kind
        not in {Kind.ASSISTANCE_REPLY, Kind.RECEIPT_ACK, Kind.FILING_DECISION, Kind.JURISDICTION_DESIGNATION}
        else None
    )
    if kind is Kind.POLICE_REFERRAL and facts is not None:
        facts = env.pop("facts", REFERRAL_FACTS)
        if body is None:
            # approved two hours ago: the router refuses approvals far from its clock
            approved_at = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
            body = referral_body(CaseFacts.model_validate(facts), "head", approved_at)
            if body["level"] == "not_reached":  # a bureau claiming what the facts do not support
                body.update(level="serious", clauses=[{"clause": "art5.5", "title": "claimed"}])
    env.setdefault("case_id", "C-1")
    case_id = env.pop("case_id")
    return new_message(kind, sender, to, case_id, body or default_bodies[kind], case=facts, **env)
