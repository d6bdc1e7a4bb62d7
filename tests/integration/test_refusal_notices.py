"""Issue 13, part 1: every refusal reaches its sender as a `delivery_refused` in its own inbox.

Each kind of refusal a new integrator meets (non-JSON, a retired code, an unprovisioned recipient,
a body over the size limit, a claimed sender that is someone else, an undecodable property) gives
exactly one notice, to the authenticated publisher only, naming field and reason and holding none of
the refused message's values. Input without a user_id cannot be answered and gets none.
"""

from __future__ import annotations

import json
from typing import Any

import pika
import pytest

from broker.domain.address import Address
from broker.domain.messages import Kind, Message
from broker.domain.validation import MAX_MESSAGE_BYTES
from broker.transport import topology
from tests.support.deployment import Deployment
from tests.support.messages import msg
from tests.support.queues import drain, routing_log_tap
from tests.support.raw_amqp import RawPublisher
from tests.support.traffic import nothing_for, receive
from tests.support.waiting import wait_for

pytestmark = pytest.mark.rabbitmq

SENDER, OTHER = "bureau:330681", "bureau:330600"
SECRET = "王秀英13912345678"
"""Personal data put in every refused message: no notice may repeat it."""


def _publish(dep: Deployment, body: bytes, user_id: bool = True) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(dep.url_for(SENDER)))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        user = dep.participants.username(Address.parse(SENDER)) if user_id else None
        channel.basic_publish(topology.INBOUND_EXCHANGE, "", body, pika.BasicProperties(user_id=user))
    finally:
        connection.close()


def _envelope_with(**changes: Any) -> bytes:
    data = json.loads(msg(Kind.CASE_NOTICE, SENDER, [OTHER], body={"summary": SECRET}).model_dump_json())
    data["envelope"].update(changes)
    return json.dumps(data, ensure_ascii=False).encode()


REFUSALS: dict[str, tuple[bytes, str, str]] = {
    # name: (body, stage, field)
    "not_json": (f"{SECRET} is not JSON".encode(), "contract", "$"),
    "retired_code": (_envelope_with(to=["bureau:330682"]), "contract", "envelope.to.0"),
    "unprovisioned_recipient": (_envelope_with(to=["bureau:330624"]), "routing", "envelope.to"),
    "too_large": (_envelope_with(summary=SECRET) + b" " * (MAX_MESSAGE_BYTES + 1), "contract", "$"),
    "claims_another_sender": (
        _envelope_with(sender=OTHER, to=["bureau:330000"]),
        "authentication",
        "envelope.sender",
    ),
}


def _refusals(messages: list[tuple[Message, Any]]) -> list[Message]:
    return [m for m, _ in messages if m.envelope.kind is Kind.DELIVERY_REFUSED]


@pytest.mark.parametrize("refusal", sorted(REFUSALS))
def test_each_refusal_reaches_the_authenticated_sender_once(deployment: Deployment, refusal: str) -> None:
    dep = deployment
    body, stage, field = REFUSALS[refusal]
    if refusal == "unprovisioned_recipient" and Address.parse("bureau:330624") in dep.participants.addresses:
        pytest.skip("330602 is provisioned in the test participants")
    _publish(dep, body)
    (quarantined,) = drain(dep.settings, topology.QUARANTINE, expect=1)
    assert quarantined.headers["x-quarantine-stage"] == stage

    got = receive(dep.client(SENDER), 2, timeout=3)
    (notice,) = _refusals(got)
    assert notice.envelope.sender == "system:000000" and notice.envelope.to == [SENDER]
    assert notice.body.stage.value == stage
    assert notice.body.field.startswith(field)
    assert notice.body.reason and notice.body.what_to_do
    assert notice.body.quarantine_id
    assert SECRET not in notice.model_dump_json() and "13912345678" not in notice.model_dump_json()
    if refusal == "claims_another_sender":
        assert nothing_for(dep.client(OTHER)), "the claimed sender is told nothing"
    assert dep.router.counters.refusals == 1


def test_no_user_id_means_no_notice(deployment: Deployment) -> None:
    dep = deployment
    _publish(dep, _envelope_with(), user_id=False)
    (quarantined,) = drain(dep.settings, topology.QUARANTINE, expect=1)
    assert quarantined.headers["x-quarantine-field"] == "user_id"
    assert nothing_for(dep.client(SENDER))
    assert dep.router.counters.refusals == 0


def test_undecodable_property_is_refused_with_a_notice(deployment: Deployment) -> None:
    dep = deployment
    user = dep.participants.username(Address.parse(SENDER)).encode()
    message = msg(Kind.CASE_NOTICE, SENDER, [OTHER])
    raw = RawPublisher(dep.url_for(SENDER))
    try:
        raw.publish(
            topology.INBOUND_EXCHANGE,
            message.model_dump_json().encode(),
            {"message_id": b"\xff", "user_id": user},
        )
    finally:
        raw.close()
    (notice,) = _refusals(receive(dep.client(SENDER), 1, timeout=5))
    assert notice.body.stage.value == "transport"
    assert notice.body.field == "properties.message_id"
    assert notice.body.refused_message_id == message.envelope.message_id, "the sender can tell which"


def test_the_routing_log_records_the_notice(deployment: Deployment) -> None:
    """An operator's `trace` of the refused message finds the notice sent for it."""
    dep = deployment
    with routing_log_tap(dep.settings, "quarantined.#") as take:
        _publish(dep, REFUSALS["retired_code"][0])
        assert wait_for(lambda: dep.router.counters.refusals == 1)
        assert wait_for(lambda: bool(take()), timeout=5)
        (record,) = take()
        assert record["refusal_notice"]["to"] == SENDER
        assert record["refusal_notice"]["message_id"]
