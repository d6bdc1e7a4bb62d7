"""The record of one routing decision, as published on rb.routing-log for operators and the tracker.

It is built from the envelope and the decision only, never from personal data. A few kinds carry
deadline facts in their body (an extension's days, a filing decision); those fields, and only
those, are copied, since the tracker needs them and they name no person.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from broker.domain.messages import (
    AssistanceReply,
    ExtensionDecision,
    ExtensionRequest,
    FilingDecision,
    Message,
    PoliceReferral,
)
from broker.domain.routing import RoutingDecision

RECORD_VERSION = 1
"""Version of the record layout; consumers check it."""


def decision_record(message: Message, decision: RoutingDecision, routed_at: datetime) -> dict[str, Any]:
    env = message.envelope
    record: dict[str, Any] = {
        "event": "routed",
        "record_version": RECORD_VERSION,
        "message_id": str(env.message_id),
        "kind": env.kind.value,
        "sender": str(decision.sender),
        "case_id": env.case_id,
        "in_reply_to": str(env.in_reply_to) if env.in_reply_to else None,
        "forwards": str(env.forwards) if env.forwards else None,
        "sent_at": env.sent_at.isoformat(),
        "routed_at": routed_at.isoformat(),
        "handling": [h.value for h in env.handling],
        "deliveries": [
            {"to": str(d.recipient), "rule": d.rule.value, "reason": d.reason} for d in decision.deliveries
        ],
        "case": env.case.model_dump(mode="json") if env.case is not None else None,
    }
    if decision.threshold is not None:
        record["threshold"] = {k: v for k, v in decision.threshold.items() if k != "explanation"}
    if decision.linked_to is not None:
        record["linked_to"] = str(decision.linked_to)
    if decision.notices:
        record["notices"] = [
            {
                "message_id": str(n.envelope.message_id),
                "kind": n.envelope.kind.value,
                "to": list(n.envelope.to),
            }
            for n in decision.notices
        ]
    if isinstance(message, PoliceReferral):
        record["referral"] = {"approved_at": message.body.approved_at.isoformat()}
    if isinstance(message, AssistanceReply):
        record["assistance"] = {"complete": message.body.complete}
    if isinstance(message, ExtensionRequest):
        record["extension"] = {"requested_working_days": message.body.extra_working_days}
    elif isinstance(message, ExtensionDecision):
        record["extension"] = {
            "granted": message.body.granted,
            "extra_working_days": message.body.extra_working_days,
        }
    elif isinstance(message, FilingDecision):
        record["filing"] = {"decision": message.body.decision}
    return record
