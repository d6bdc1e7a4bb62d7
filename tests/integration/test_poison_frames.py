"""Issue 10, item 1: messages whose AMQP properties no client library can decode.

Each was published by an ordinary participant under its own validated user_id, and each crashed the
router in a loop until the input queue's delivery limit dead-lettered it, taking the innocent
messages of its prefetch window with it. Now each is quarantined (stage `transport`) or routed, and
its 30 neighbours are routed once each.
"""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import pytest

from broker.domain.address import Address
from broker.domain.messages import Kind
from broker.transport import topology
from tests.support.deployment import Deployment
from tests.support.messages import msg
from tests.support.queues import drain, drain_ids, queue_depth
from tests.support.raw_amqp import RawPublisher
from tests.support.waiting import wait_for

pytestmark = pytest.mark.rabbitmq

SENDER, RECIPIENT = "bureau:330681", "bureau:330600"


def _escalation() -> Any:
    return msg(Kind.ESCALATION, SENDER, [])


def _poisons(user: str) -> dict[str, tuple[dict[str, Any], str | None]]:
    """name → (raw properties, the field a quarantine names, or None when it may be routed)"""
    return {
        "idna_encoding": ({"content_encoding": b"idna", "user_id": user.encode()}, None),
        "message_id_not_utf8": (
            {"message_id": b"\xff\xfe", "user_id": user.encode()},
            "properties.message_id",
        ),
        "header_timestamp_2_64": (
            {"application_headers": [(b"when", ("T", 2**64 - 1))], "user_id": user.encode()},
            "properties.application_headers",
        ),
    }


@pytest.mark.parametrize("poison", ["idna_encoding", "message_id_not_utf8", "header_timestamp_2_64"])
def test_poison_between_thirty_valid_messages(deployment: Deployment, poison: str) -> None:
    dep = deployment
    user = dep.participants.username(Address.parse(SENDER))
    properties, field = _poisons(user)[poison]
    client = dep.client(SENDER)
    before = [_escalation() for _ in range(15)]
    after = [_escalation() for _ in range(15)]
    poisoned = _escalation()
    for message in before:
        client.publish(message)
    raw = RawPublisher(dep.url_for(SENDER))
    try:
        raw.publish(topology.INBOUND_EXCHANGE, poisoned.model_dump_json().encode(), properties)
    finally:
        raw.close()
    for message in after:
        client.publish(message)

    counters = dep.router.counters
    assert wait_for(lambda: counters.routed + counters.quarantined >= 31, timeout=20)
    assert dep.thread is not None and dep.thread.is_alive(), "the router stopped"

    inbox = dep.inbox(RECIPIENT)
    copies = Counter(drain_ids(dep.router_url, inbox, idle_s=1.0))
    valid = {str(m.envelope.message_id) for m in before + after}
    assert {i: copies[i] for i in valid} == dict.fromkeys(valid, 1), "each neighbour routed exactly once"
    assert queue_depth(dep.settings.amqp_url, topology.DEAD_LETTER_QUEUE) == 0
    if field is None:
        assert counters.routed + counters.quarantined == 31
    else:
        assert counters.routed == 30 and counters.quarantined == 1
        (quarantined,) = drain(dep.settings, topology.QUARANTINE, expect=1)
        assert quarantined.headers["x-quarantine-stage"] == "transport"
        assert quarantined.headers["x-quarantine-field"] == field
        assert quarantined.body == poisoned.model_dump_json().encode(), "quarantine keeps the bytes"


def test_undecodable_routing_key_is_quarantined(deployment: Deployment) -> None:
    """Participants publish to a fanout exchange, so the routing key is theirs to choose too."""
    dep = deployment
    user = dep.participants.username(Address.parse(SENDER))
    raw = RawPublisher(dep.url_for(SENDER))
    try:
        raw.publish(
            topology.INBOUND_EXCHANGE,
            _escalation().model_dump_json().encode(),
            {"user_id": user.encode(), "message_id": str(uuid.uuid4()).encode()},
            routing_key=b"\xc3\x28",
        )
    finally:
        raw.close()
    (quarantined,) = drain(dep.settings, topology.QUARANTINE, expect=1)
    assert quarantined.headers["x-quarantine-field"] == "properties.routing_key"
    assert dep.thread is not None and dep.thread.is_alive()


def test_text_body_in_a_foreign_encoding_reaches_recipients_as_published(deployment: Deployment) -> None:
    """py-amqp used to decode bodies with the publisher's content_encoding; the router now never
    decodes them, so what a recipient gets is byte for byte what the sender published."""
    dep = deployment
    user = dep.participants.username(Address.parse(SENDER))
    message = _escalation()
    body = message.model_dump_json().encode()
    raw = RawPublisher(dep.url_for(SENDER))
    try:
        raw.publish(
            topology.INBOUND_EXCHANGE, body, {"content_encoding": b"utf-16", "user_id": user.encode()}
        )
    finally:
        raw.close()
    inbox = dep.inbox(RECIPIENT)
    (copy,) = drain(dep.settings, inbox, expect=1)
    assert copy.headers.get("x-sender") == SENDER
    assert (copy.body.encode() if isinstance(copy.body, str) else copy.body) == body
