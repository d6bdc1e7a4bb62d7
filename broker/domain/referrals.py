"""Police referrals: the threshold gate, the duplicate fingerprint and the linking notice. Pure.

A referral reaches a police office only when the router's own assessment of the envelope's case
facts reaches the criminal threshold; the assessment travels with it (headers, decision record).
The same company with the same facts referred twice (by two bureaus, or twice by one) becomes one
referral: the second is delivered to the police office that holds the first, marked as linked,
and both bureaus get a `referral_linked` notice from the broker.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from broker.domain.case import CaseFacts
from broker.domain.messages import SCHEMA_VERSION, Kind, Message
from broker.domain.threshold import Assessment, assess
from broker.domain.validation import validate_message

SYSTEM_SENDER = "system:000000"

_NOTICE_NAMESPACE = uuid.UUID("6f1c2d0e-52a4-4c1b-9b1e-7a0c0e5b7d21")
"""Notice ids derive from the linked referral's id, so a redelivery produces the same notice."""


def fingerprint(facts: CaseFacts) -> str:
    """The same company with the same facts gives the same fingerprint, whatever the order of lists."""
    data = facts.model_dump(mode="json")
    data["violations"] = sorted(data["violations"])
    data["severe_harms"] = sorted(data["severe_harms"])
    data["records"] = sorted(data["records"], key=lambda r: r["category"])
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def threshold_gate(facts: CaseFacts) -> tuple[Assessment, str | None]:
    """The assessment, and a refusal reason when the case stays administrative."""
    assessment = assess(facts)
    if assessment.reached:
        return assessment, None
    missed = (
        "; ".join(f"{c.measure} {c.value} vs {c.threshold}" for c in assessment.comparisons if c.value)
        or "no clause of Art. 5 applies"
    )
    return assessment, (
        f"the case does not reach the criminal threshold (rules {assessment.rules_version}: {missed}); "
        "it stays administrative"
    )


def linked_notice(first: Any, second: Message, police: str) -> Message:
    """The broker's notice to both bureaus that the second referral was joined to the first."""
    env = second.envelope
    bureaus = sorted({str(first.sender), env.sender})
    body: dict[str, Any] = {
        "referral": str(first.message_id),
        "linked": str(env.message_id),
        "police": police,
        "bureaus": bureaus,
        "reason": "same company and the same facts already referred; one referral now covers both",
    }
    return validate_message(
        {
            "envelope": {
                "message_id": str(uuid.uuid5(_NOTICE_NAMESPACE, str(env.message_id))),
                "kind": Kind.REFERRAL_LINKED.value,
                "schema_version": SCHEMA_VERSION,
                "sender": SYSTEM_SENDER,
                "to": bureaus,
                "case_id": env.case_id,
                "causation_id": str(env.message_id),
                "sent_at": env.sent_at.isoformat(),
            },
            "body": body,
        }
    )


def referral_body(
    facts: CaseFacts, approved_by: str, approved_at: str, summary: str = "", **personal: Any
) -> dict[str, Any]:
    """The body of a police referral for these facts: level, clauses and explanation come from the
    evaluator, so they match what the router checks. `personal` may add persons and evidence."""
    assessment = assess(facts)
    return {
        "summary": summary,
        **personal,
        "approved_by": approved_by,
        "approved_at": approved_at,
        "threshold_version": assessment.rules_version,
        "level": assessment.level.value,
        "clauses": [
            {"clause": c.clause, "title": c.title, "figures": {n: str(v) for n, v in c.figures}}
            for c in assessment.clauses
        ],
        "explanation": assessment.explain(),
    }


def body_mismatch(body: Any, assessment: Assessment) -> tuple[str, str] | None:
    """Where a referral's stated finding differs from the evaluator's: (field, reason), or None.
    The reason names what the broker found, never what the body says (body text may be anything)."""
    if body.threshold_version != assessment.rules_version:
        return "body.threshold_version", f"not the rules this broker applies ({assessment.rules_version!r})"
    if body.level != assessment.level.value:
        return "body.level", f"says {body.level}; the case facts reach {assessment.level.value}"
    stated = sorted(c.clause for c in body.clauses)
    found = sorted(assessment.clause_ids)
    if stated != found:
        return "body.clauses", f"differ from the clauses the case facts meet ({', '.join(found)})"
    return None
