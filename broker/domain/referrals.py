"""Police referrals: the review of the head's basis, the duplicate fingerprint and the linking
notice. Pure.

The bureau head decides on a transfer (Decree 310 Art. 5); the broker's evaluator (threshold.py)
advises and never overrules. A referral carries the head's reading (level, clauses, and a
``legal_basis`` when it rests on more than the evaluator's Art. 5 reading: Art. 6, a human judgement,
another offence); the router records the evaluator's assessment beside it. A disagreement is
recorded, flagged on the procuratorate's supervision copy and counted (rule
police.supervision_copy_disputed), never a refusal. The one refusal left: the evaluator finds the
facts under the threshold and the head gives no basis other than this interpretation, so the sender
is told why.

The same company with the same facts referred twice (by two bureaus, or twice by one) becomes one
referral: the second is delivered to the police office that holds the first, marked as linked,
and both bureaus get a `referral_linked` notice from the broker.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

from broker.domain.address import SYSTEM_ADDRESS
from broker.domain.case import CaseFacts
from broker.domain.messages import Kind, Message
from broker.domain.threshold import assess
from broker.domain.threshold_values import Assessment
from broker.domain.validation import validate_message
from broker.domain.versions import oldest_for

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


@dataclass(frozen=True)
class ReferralReview:
    """The evaluator's assessment beside the head's reading of one referral."""

    assessment: Assessment
    refusal: tuple[str, str] | None = None
    """(field, reason) when the referral stays refused: under the threshold on Art. 5 alone."""
    disagreement: tuple[str, str] | None = None
    """(field, reason) where the head's reading differs from the evaluator's; recorded, not refused."""
    other_basis: str | None = None
    """The head's ``legal_basis.offence`` when one is given."""

    def record(self) -> dict[str, Any]:
        """For the routing decision: the assessment, what the head relies on and any disagreement.
        Names and ids only, never the body's text (body text may be anything)."""
        return {
            **self.assessment.to_dict(),
            "head_legal_basis": self.other_basis,
            "disagreement": (
                None
                if self.disagreement is None
                else {"field": self.disagreement[0], "reason": self.disagreement[1]}
            ),
        }


def threshold_gate(facts: CaseFacts, body: Any = None) -> tuple[Assessment, str | None]:
    """The assessment, and a refusal reason when the case stays administrative: under the threshold
    and no basis (``body.legal_basis``) beyond Art. 5 of this interpretation."""
    review = review_referral(facts, body)
    return review.assessment, None if review.refusal is None else review.refusal[1]


def review_referral(facts: CaseFacts, body: Any) -> ReferralReview:
    """The head decides; the evaluator advises. See the module docstring."""
    assessment = assess(facts)
    basis = getattr(body, "legal_basis", None)
    offence = None if basis is None else str(basis.offence)
    if not assessment.reached:
        beyond_art5 = body is not None and any(not c.clause.startswith("art5") for c in body.clauses)
        if basis is None or (offence == "infringing_personal_information" and not beyond_art5):
            compared = assessment.comparisons
            missed = (
                "; ".join(f"{c.measure} {c.value} vs {c.threshold}" for c in compared if c.value)
                or f"no clause of {'Art. 6' if assessment.article == 'art6' else 'Art. 5'} applies"
            )
            return ReferralReview(
                assessment,
                refusal=(
                    "envelope.case",
                    f"the case does not reach the criminal threshold (rules {assessment.rules_version}: "
                    f"{missed}) and the referral gives no other basis; it stays administrative, or the "
                    "head states body.legal_basis (Art. 6, a human judgement in the case facts, or another "
                    "offence, with citation and reason)",
                ),
                other_basis=offence,
            )
        return ReferralReview(
            assessment,
            disagreement=(
                "body.legal_basis",
                f"the evaluator finds the facts under the threshold ({assessment.level.value}); the head "
                f"refers on another basis ({offence})",
            ),
            other_basis=offence,
        )
    mismatch = None if body is None else body_mismatch(body, assessment)
    return ReferralReview(assessment, disagreement=mismatch, other_basis=offence)


def linked_notice(first: Any, second: Message, police: str) -> Message:
    """The broker's notice to both bureaus that the second referral was joined to the first."""
    env = second.envelope
    bureaus = sorted({str(first.sender), env.sender})
    body: dict[str, Any] = {
        "referral": str(first.message_id),
        "linked": str(env.message_id),
        "police": police,
        "bureaus": bureaus,
        "reason": "same company and the same facts already referred; the second went to its own "
        "bureau's same-level police with a link to the first",
    }
    return validate_message(
        {
            "envelope": {
                "message_id": str(uuid.uuid5(_NOTICE_NAMESPACE, str(env.message_id))),
                "kind": Kind.REFERRAL_LINKED.value,
                "schema_version": oldest_for(Kind.REFERRAL_LINKED, {"body": body}),
                "sender": str(SYSTEM_ADDRESS),
                "to": bureaus,
                "case_id": env.case_id,
                "causation_id": str(env.message_id),
                "sent_at": env.sent_at.isoformat(),
            },
            "body": body,
        }
    )


def referral_body(
    facts: CaseFacts,
    approved_by: str,
    approved_at: str,
    summary: str = "",
    legal_basis: dict[str, str] | None = None,
    **personal: Any,
) -> dict[str, Any]:
    """The body of a police referral for these facts: level, clauses and explanation come from the
    evaluator, so they agree with it; a head who reads the facts otherwise edits them and states
    ``legal_basis``. `personal` may add persons and evidence."""
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
        **({"legal_basis": legal_basis} if legal_basis else {}),
    }


def body_mismatch(body: Any, assessment: Assessment) -> tuple[str, str] | None:
    """Where a referral's stated finding differs from the evaluator's: (field, reason), or None.
    The reason names what the broker found, never what the body says (body text may be anything).
    A disagreement to record, not a refusal (review_referral)."""
    if body.threshold_version != assessment.rules_version:
        return "body.threshold_version", f"not the rules this broker applies ({assessment.rules_version!r})"
    if body.level != assessment.level.value:
        return "body.level", f"says {body.level}; the case facts reach {assessment.level.value}"
    stated = sorted(c.clause for c in body.clauses)
    found = sorted(assessment.clause_ids)
    if stated != found:
        return "body.clauses", f"differ from the clauses the case facts meet ({', '.join(found)})"
    return None
