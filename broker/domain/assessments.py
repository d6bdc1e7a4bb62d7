"""Assessment requests: the broker answers a participant's case facts with the threshold
evaluator's assessment, so a bureau whose systems are not Python learns the level and clauses a
police referral must state before it sends one. Pure: no broker, no database.

The answer is a decision like any other (recorded on the routing log, facts and assessment without
its prose) whose only output is the broker's own message to the authenticated publisher: nobody
else receives anything, and nobody owes anything for it.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from broker.domain.address import SYSTEM_ADDRESS, Address
from broker.domain.messages import SCHEMA_VERSION, Kind, Message
from broker.domain.routing_values import RoutingDecision, RoutingRefused
from broker.domain.threshold import assess
from broker.domain.validation import validate_message

_NAMESPACE = uuid.UUID("0c7d5a8e-3b61-4f0e-9a42-6d1e8b2c5f93")
"""Result ids derive from the request's id, so a redelivered request gets the same result id and
its publisher drops the repeat."""


def answer_assessment(request: Message, sender: Address, now: datetime | None) -> RoutingDecision:
    """The decision for an assessment_request from `sender` (authenticated): no delivery, one
    assessment_result to the sender. `now` is the router's clock (None in replays: the request's
    own sent_at then stamps the result, so a replay recomputes the same bytes)."""
    env = request.envelope
    if env.to:
        raise RoutingRefused(
            "envelope.to",
            f"an assessment_request is answered by the broker ({SYSTEM_ADDRESS}); leave to empty",
        )
    assert env.case is not None  # the contract requires case facts on an assessment_request
    assessment = assess(env.case).to_dict()
    result = validate_message(
        {
            "envelope": {
                "message_id": str(uuid.uuid5(_NAMESPACE, str(env.message_id))),
                "kind": Kind.ASSESSMENT_RESULT.value,
                "schema_version": SCHEMA_VERSION,
                "sender": str(SYSTEM_ADDRESS),
                "to": [str(sender)],
                "case_id": env.case_id,
                "in_reply_to": str(env.message_id),
                "sent_at": (now or env.sent_at).isoformat(),
            },
            "body": assessment,
        }
    )
    return RoutingDecision(
        env.message_id, env.kind, sender, env.case_id, (), threshold=assessment, notices=(result,)
    )
