"""The first steps: is the delivery whole, does it keep the contract, and may its publisher send as
the sender it names. RabbitMQ validated the user_id against the publisher's login; the participants
list says which address that user may send as."""

from __future__ import annotations

import hashlib

from broker.domain.validation import ContractError, parse_message
from broker.participants import Participants
from broker.router.outcomes import Checked, Quarantine
from broker.router.ports import Inbound


def transport_check(delivery: Inbound) -> Quarantine | None:
    """A delivery whose AMQP properties or routing key could not be decoded is quarantined."""
    problems = delivery.transport_problems
    if not problems:
        return None
    name, problem = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return Quarantine(
        "transport",
        f"properties.{name}",
        f"AMQP property {name} {problem}{more}; the router dropped the undecodable "
        "properties: publish valid UTF-8 short strings and in-range values",
    )


def check(body: bytes, user_id: str | None, participants: Participants) -> Checked | Quarantine:
    """Contract and sender authentication."""
    try:
        message = parse_message(body)
    except ContractError as exc:
        return Quarantine("contract", exc.field, str(exc))
    refused = authenticate(message.envelope.sender, user_id, participants)
    if refused is not None:
        return refused
    return Checked(message, hashlib.sha256(body).hexdigest(), body)


def authenticate(sender: str, user_id: str | None, participants: Participants) -> Quarantine | None:
    """Whether the validated `user_id` may send as `sender`; None when it may."""
    if not user_id:
        return Quarantine(
            "authentication", "user_id", "no validated user_id: publish with user_id set to your user"
        )
    claimed = participants.address_of(user_id)
    if claimed is None:
        return Quarantine("authentication", "user_id", f"user {user_id!r} is not a provisioned participant")
    if str(claimed) != sender:
        return Quarantine(
            "authentication",
            "envelope.sender",
            f"user {user_id!r} may send as {claimed} only, not {sender}",
        )
    return None
