"""Refusal notices: what a participant is told when the router quarantines a message it published.
Pure: no broker, no database.

Without them a refused message is confirmed by the broker and then disappears from its sender's
view: the sender cannot read rb.quarantine. So every quarantined input whose user_id RabbitMQ
validated gets a `delivery_refused` from system:000000 in that user's own inbox, never in the inbox
of the sender the envelope claims (which may be someone else). Input published without a user_id
cannot be answered: nobody proved who sent it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from uuid import UUID

from broker.domain.address import SYSTEM_ADDRESS, Address
from broker.domain.messages import SCHEMA_VERSION, Kind, Message, RefusalStage
from broker.domain.validation import validate_message

UNKNOWN_CASE_ID = "RB-UNREAD-0"
"""The notice's case_id when the refused message's own could not be read (the envelope requires one)."""

WHAT_TO_DO: dict[RefusalStage, str] = {
    RefusalStage.TRANSPORT: (
        "publish again with AMQP properties that decode: short strings in UTF-8, header values in range"
    ),
    RefusalStage.CONTRACT: (
        "fix the named field (the contract is in schemas/) and publish the corrected message again"
    ),
    RefusalStage.AUTHENTICATION: (
        "publish with user_id set to your own user and envelope.sender set to your own address"
    ),
    RefusalStage.ROUTING: (
        "no routing rule allows this message as addressed: check the addressees and the reason, then "
        "publish a corrected message with a new message_id"
    ),
    RefusalStage.DUPLICATE: (
        "use a new message_id for a different message; repeats of the same bytes are fine"
    ),
    RefusalStage.RATE: (
        "slow down: publish this message again (the same bytes) once your client sends at most the "
        "rate named in the reason; check it for a resend loop"
    ),
    RefusalStage.INTERNAL: (
        "nothing to fix on your side: the broker failed on this message and its operators were told; "
        "they can replay it once the fault is fixed"
    ),
}
"""What the publisher can do about each kind of refusal."""

BODY_NOT_KEPT = (
    "; the broker did not keep this message (your quarantine share for the hour is used up), so "
    "it cannot be replayed: publish the corrected message yourself"
)
"""Added to `what_to_do` when the quarantine entry holds no body (broker/router/shares.py)."""

CLEAR_NOT_KEPT = (
    "; the broker did not keep this message, since it keeps no body in clear, so it cannot be "
    "replayed: publish it sealed"
)
"""Added to `what_to_do` when a plaintext body was refused where only sealed ones are taken."""

FOLDING = (
    "; you have used up your quarantine share for the hour: until the next such notice your "
    "refused messages are counted, not kept, and get no notice of their own"
)
"""Added to `what_to_do` on the notice that opens a folding period."""

_NAMESPACE = uuid.UUID("5b0f7e36-9f2c-4b3e-8c1d-2a6f0d9c4e71")


def refusal_notice(
    to: Address,
    *,
    stage: str,
    field: str,
    reason: str,
    quarantine_id: str,
    refused_message_id: str | None,
    case_id: str | None,
    sent_at: datetime,
    also: str = "",
) -> Message:
    """The `delivery_refused` for one quarantined message. Its id is derived from the refusal, so
    the same refusal sent again (a redelivered input) is dropped by the recipient as a repeat.
    `also`: BODY_NOT_KEPT or FOLDING, when the sender's quarantine share is used up."""
    refusal = RefusalStage(stage)
    message_id = uuid.uuid5(_NAMESPACE, "\n".join((quarantine_id, refusal.value, field, reason)))
    body = {
        "refused_message_id": str(UUID(refused_message_id)) if refused_message_id else None,
        "quarantine_id": quarantine_id,
        "stage": refusal.value,
        "field": field,
        "reason": reason,
        "what_to_do": WHAT_TO_DO[refusal] + also,
    }
    envelope = {
        "message_id": str(message_id),
        "kind": Kind.DELIVERY_REFUSED.value,
        "schema_version": SCHEMA_VERSION,
        "sender": str(SYSTEM_ADDRESS),
        "to": [str(to)],
        "case_id": case_id or UNKNOWN_CASE_ID,
        "sent_at": sent_at.isoformat(),
    }
    if refused_message_id:
        envelope["causation_id"] = str(UUID(refused_message_id))
    return validate_message({"envelope": envelope, "body": {k: v for k, v in body.items() if v is not None}})
