"""One valid example of every message kind, fixed (ids, times) so the committed files are stable.

The people in them are invented; phone and ID numbers use reserved-looking test values.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from broker.domain.address import SYSTEM_ADDRESS
from broker.domain.case import CaseFacts
from broker.domain.messages import SCHEMA_VERSION, Kind, Message
from broker.domain.referrals import referral_body
from broker.domain.threshold import assess
from broker.domain.validation import validate_message

EXAMPLE_COMPANY = "91330681MA29FT8L2C"
"""A syntactically valid unified social credit code of an invented company in Zhuji."""

SENT_AT = "2019-06-03T09:30:00+08:00"


def _id(n: int) -> str:
    return str(UUID(int=0x5EED_0000_0000_4000_8000_0000_0000_0000 + n))


CASE_FACTS: dict[str, Any] = {
    "company_credit_code": EXAMPLE_COMPANY,
    "sector": "real_estate",
    "violations": ["leaking_selling_providing"],
    "records": [{"category": "other", "provided": 320, "held": 0}],
    "illegal_income_cny": "1200.00",
}

REFERRAL_FACTS: dict[str, Any] = {
    "company_credit_code": EXAMPLE_COMPANY,
    "sector": "telemarketing",
    "violations": ["leaking_selling_providing"],
    "records": [{"category": "other", "provided": 18990, "held": 0}],
    "illegal_income_cny": "286179.00",
}
"""Facts over the criminal threshold: the SIM-card ring of DOMAIN.md's typical cases."""

PERSON = {"role": "suspect", "name": "张某", "phone": "13800000000", "id_number": "330681199001011234"}


def _message(
    n: int,
    kind: Kind,
    sender: str,
    body: dict[str, Any],
    to: list[str] | None = None,
    answers: int | None = None,
    case: bool | dict[str, Any] = False,
    **extra: Any,
) -> Message:
    envelope: dict[str, Any] = {
        "message_id": _id(n),
        "kind": kind.value,
        "schema_version": SCHEMA_VERSION,
        "sender": sender,
        "to": to or [],
        "case_id": "ZJ-ZJ-2019-0042",
        "sent_at": SENT_AT,
        **extra,
    }
    if answers is not None:
        envelope["in_reply_to"] = _id(answers)
    if case:
        envelope["case"] = case if isinstance(case, dict) else CASE_FACTS
    return validate_message({"envelope": envelope, "body": body})


def example_messages() -> list[Message]:
    zhuji, shaoxing, zhejiang = "bureau:330681", "bureau:330600", "bureau:330000"
    shenzhen = "bureau:440300"
    police = "police:330681"
    summary = "Staff of a property developer sold owners' names, flat numbers and phone numbers."
    return [
        _message(
            1, Kind.CASE_NOTICE, zhuji, {"summary": summary, "persons": [PERSON]}, [shaoxing], case=True
        ),
        _message(
            2,
            Kind.ASSISTANCE_REQUEST,
            zhuji,
            {"summary": summary, "questions": ["Identify the buyer of the data and the payments received."]},
            [shenzhen],
            case=True,
            handling=["no_onward_dissemination"],
        ),
        _message(
            3,
            Kind.ASSISTANCE_REPLY,
            "bureau:440000",
            {"findings": "Buyer identified.", "complete": True},
            answers=2,
        ),
        _message(
            4,
            Kind.EXTENSION_REQUEST,
            "bureau:440000",
            {"extra_working_days": 10, "reason": "Bank records requested, not yet received."},
            answers=2,
        ),
        _message(5, Kind.EXTENSION_DECISION, zhuji, {"granted": True, "extra_working_days": 10}, answers=4),
        _message(
            6,
            Kind.ESCALATION,
            zhuji,
            {"reason": "Case spans several counties.", "summary": summary},
            case=True,
        ),
        _message(
            7,
            Kind.DIRECTIVE,
            zhejiang,
            {"directive_type": "directive", "instructions": "Report progress weekly."},
            scope="all_subordinates",
        ),
        _message(
            8,
            Kind.CASE_TRANSFER,
            zhuji,
            {"reason": "The company is registered in Shaoxing city."},
            ["bureau:330602"],
            case=True,
        ),
        _message(9, Kind.JURISDICTION_DESIGNATION, shaoxing, {"designated": zhuji}, answers=8),
        _message(
            10,
            Kind.COORDINATION_REQUEST,
            zhuji,
            {"action": "joint_action", "request": "Suspend the numbers used for spam SMS."},
            ["telecom:330681"],
            case=True,
        ),
        _message(11, Kind.COORDINATION_REPLY, "telecom:330681", {"answer": "Numbers suspended."}, answers=10),
        _message(
            12,
            Kind.POLICE_REFERRAL,
            zhuji,
            referral_body(
                CaseFacts.model_validate(REFERRAL_FACTS),
                "Bureau head",
                "2019-06-03T08:00:00+08:00",
                summary="18,990 SIM cards registered with ID cards taken from elderly people.",
                persons=[PERSON],
            ),
            [police],
            case=REFERRAL_FACTS,
        ),
        _message(13, Kind.POLICE_RECEIPT, police, {"received_at": "2019-06-03T15:00:00+08:00"}, answers=12),
        _message(
            14,
            Kind.FILING_DECISION,
            police,
            {"decision": "not_filed", "reasons": "Evidence insufficient."},
            answers=12,
        ),
        _message(15, Kind.FILE_RETURN, police, {"returned_items": ["case file ZJ-ZJ-2019-0042"]}, answers=14),
        _message(
            16,
            Kind.RECONSIDERATION_REQUEST,
            zhuji,
            {"reason": "Bank records now show the sales."},
            answers=14,
        ),
        _message(17, Kind.RECEIPT_ACK, shaoxing, {"summary": "Received."}, answers=1),
        _message(18, Kind.COMPLETION_ACK, "bureau:440000", {"summary": "Done."}, answers=2),
        _message(
            19,
            Kind.DEADLINE_NOTICE,
            str(SYSTEM_ADDRESS),
            {
                "notice": "reminder",
                "obligation_id": f"{_id(2)}/reply/bureau:440000",
                "obligation": "reply",
                "regarding": _id(2),
                "owed_by": "bureau:440000",
                "owed_to": zhuji,
                "due_at": "2019-06-24T23:59:59+08:00",
                "basis": "assistance request: complete within 15 working days (SAMR procedure rules)",
            },
            ["bureau:440000"],
            causation_id=_id(2),
        ),
        _message(
            20,
            Kind.REFERRAL_LINKED,
            str(SYSTEM_ADDRESS),
            {
                "referral": _id(12),
                "linked": _id(21),
                "police": police,
                "bureaus": [shaoxing, zhuji],
                "reason": "same company and the same facts already referred; one referral now covers both",
            },
            [shaoxing, zhuji],
            causation_id=_id(21),
        ),
        _message(
            22,
            Kind.DELIVERY_REFUSED,
            str(SYSTEM_ADDRESS),
            {
                "refused_message_id": _id(23),
                "quarantine_id": _id(23),
                "stage": "routing",
                "field": "envelope.to",
                "reason": "bureau:330624 is not a provisioned participant",
                "what_to_do": "no routing rule allows this message as addressed: check the addressees "
                "and the reason, then publish a corrected message with a new message_id",
            },
            [zhuji],
            causation_id=_id(23),
        ),
        _message(
            28,
            Kind.ADMINISTRATIVE_INTERVIEW,
            zhuji,
            {"held_at": "2019-05-20T10:00:00+08:00", "outcome": "The company deleted the bought lists."},
            case=True,
        ),
        _message(
            29,
            Kind.JOINT_ACTION,
            zhuji,
            {
                "held_at": "2019-05-21T09:00:00+08:00",
                "departments": ["telecom:330681"],
                "results": "Three call centres inspected; 40,000 numbers suspended.",
            },
        ),
        _message(
            27,
            Kind.JURISDICTION_REQUEST,
            zhuji,
            {"reason": "Zhuji and Yuecheng both found the company's call centre; no agreement in 7 days."},
            ["bureau:330602"],
            case=True,
        ),
        _message(
            24,
            Kind.TRANSFER_DECLINED,
            shaoxing,
            {
                "decided_by": "局长 (head of the bureau)",
                "decided_at": "2019-06-04T09:00:00+08:00",
                "reasons": "The records were bought for the firm's own marketing and its profit is far below "
                "the Art. 6 figure; the case stays administrative.",
            },
            case=True,
        ),
        _message(
            25,
            Kind.RECONSIDERATION_DECISION,
            police,
            {"decision": "not_filed", "reasons": "The new bank records do not show a sale."},
            answers=16,
        ),
        _message(
            26,
            Kind.SUPERVISION_SUGGESTION,
            zhuji,
            {"reason": "The bank records show the sales; we suggest 立案监督."},
            answers=25,
        ),
        _message(
            30,
            Kind.SUPERVISION_REPORT,
            zhuji,
            {"results": "Fined ¥50,000 and the bought lists confiscated on 2019-07-02; no sale found."},
            answers=7,
        ),
        _message(31, Kind.ASSESSMENT_REQUEST, zhuji, {}, case=REFERRAL_FACTS),
        _message(
            32,
            Kind.ASSESSMENT_RESULT,
            str(SYSTEM_ADDRESS),
            assess(CaseFacts.model_validate(REFERRAL_FACTS)).to_dict(),
            [zhuji],
            answers=31,
        ),
    ]
