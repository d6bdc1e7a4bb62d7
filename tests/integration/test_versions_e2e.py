"""Contract 2.1 beside 2.0 through the real RabbitMQ and router: a 2.0 message of a 2.0 kind is
delivered as its sender wrote it, a 2.0 message of a kind 2.1 added comes back to its publisher as a
delivery_refused (in 2.1) naming envelope.kind, and its addressee hears nothing."""

from __future__ import annotations

import json

import pytest

from broker.domain.kinds import Kind
from tests.support.deployment import Deployment
from tests.support.messages import msg
from tests.support.traffic import nothing_for, receive

pytestmark = pytest.mark.rabbitmq

SENDER, SUPERIOR = "bureau:330681", "bureau:330600"


def as_2_0(kind: Kind, to: list[str], body: dict[str, object] | None = None) -> bytes:
    data = json.loads(msg(kind, SENDER, to, body).model_dump_json(exclude_none=True))
    data["envelope"]["schema_version"] = "2.0"
    for name in ("own_lawful_business", "profit_from_use_cny", "other_especially_serious_circumstances"):
        data["envelope"]["case"].pop(name, None)
    return json.dumps(data, ensure_ascii=False).encode()


def test_a_2_0_message_is_delivered_unchanged_and_a_2_1_kind_sent_as_2_0_is_refused(
    deployment: Deployment,
) -> None:
    dep = deployment
    client = dep.client(SENDER)
    escalation = as_2_0(Kind.ESCALATION, [])
    client.publish(escalation, json.loads(escalation)["envelope"]["message_id"])
    ((delivered, _),) = receive(dep.client(SUPERIOR), 1, timeout=10)
    assert delivered.envelope.schema_version == "2.0"
    assert delivered.model_dump(mode="json", exclude_none=True) == json.loads(escalation)

    interview = as_2_0(
        Kind.ADMINISTRATIVE_INTERVIEW, [], {"held_at": "2024-09-02T10:00:00+08:00", "outcome": "o"}
    )
    client.publish(interview, json.loads(interview)["envelope"]["message_id"])
    ((notice, _),) = receive(client, 1, timeout=10)
    assert notice.envelope.kind is Kind.DELIVERY_REFUSED and notice.envelope.schema_version == "2.1"
    assert (notice.body.stage.value, notice.body.field) == ("contract", "envelope.kind")
    assert notice.body.reason.endswith("send schema_version 2.1")
    assert nothing_for(dep.client(SUPERIOR))
