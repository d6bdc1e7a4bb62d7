"""Issue 14: a bureau asks the broker for the threshold evaluator's assessment without referring
anything. Through the real RabbitMQ and router: the assessment_result comes to the publisher's own
inbox from system:000000, answering the request, with the figures the Python evaluator gives for
the shared vectors of schemas/threshold; bad facts get a delivery_refused naming the field; no other
participant receives anything; the routing log records the decision without a delivery."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from broker.domain.address import Address
from broker.domain.case import CaseFacts
from broker.domain.factory import new_message
from broker.domain.messages import Kind, Message
from broker.domain.threshold import assess
from tests.support.deployment import Deployment
from tests.support.queues import routing_log_tap
from tests.support.traffic import nothing_for, receive
from tests.support.waiting import wait_for

pytestmark = pytest.mark.rabbitmq

SENDER = "bureau:330681"
OTHERS = ("bureau:330600", "police:330681", "procuratorate:330681", "bureau:330000")
VECTORS = {
    v["name"]: v
    for v in json.loads(
        (Path(__file__).resolve().parents[2] / "schemas" / "threshold" / "vectors.json").read_text("utf-8")
    )["vectors"]
}
ASKED = ("nothing", "art5.3.at", "art5.3.ten_times", "art5.8.insider_halves", "art6.1.at")


def request(facts: dict[str, Any]) -> Message:
    return new_message(Kind.ASSESSMENT_REQUEST, SENDER, [], "ZJ-ZJ-2024-0007", {}, case=facts)


def test_a_bureau_gets_the_evaluators_assessment_in_its_own_inbox_and_nobody_else_hears(
    deployment: Deployment,
) -> None:
    dep = deployment
    with routing_log_tap(dep.settings, "routed.assessment_request.#") as take:
        client = dep.client(SENDER)
        requests = {name: request(VECTORS[name]["facts"]) for name in ASKED}
        for message in requests.values():
            client.publish(message)
        got = receive(client, len(requests), timeout=15)
        results = {m.envelope.in_reply_to: (m, d) for m, d in got}
        assert len(got) == len(requests) == len(results)
        for name, asked in requests.items():
            result, delivered = results[asked.envelope.message_id]
            assert result.envelope.kind is Kind.ASSESSMENT_RESULT, name
            assert (result.envelope.sender, result.envelope.to) == ("system:000000", [SENDER])
            assert delivered.sender_user == dep.participants.username(Address.parse("system:000000"))
            assert delivered.rule == "broker.assessment_result"
            body = result.body.model_dump(mode="json")
            assert body == assess(CaseFacts.model_validate(VECTORS[name]["facts"])).to_dict(), name
            expect = VECTORS[name]["expect"]
            assert (body["level"], [c["figures"] for c in body["clauses"]]) == (
                expect["level"],
                [c["figures"] for c in expect["clauses"]],
            ), name
        for other in OTHERS:
            assert nothing_for(dep.client(other), wait=0.5), other
        assert wait_for(lambda: len(take()) == len(requests), timeout=5)
        for record in take():
            assert record["deliveries"] == [] and record["sender"] == SENDER
            (notice,) = record["notices"]
            assert notice["kind"] == "assessment_result" and notice["to"] == [SENDER]
            assert "explanation" not in record["threshold"]
        assert dep.router.counters.deliveries == 0 and dep.router.counters.quarantined == 0


def test_bad_facts_get_a_refusal_naming_the_field(deployment: Deployment) -> None:
    dep = deployment
    data = json.loads(request(VECTORS["art5.3.at"]["facts"]).model_dump_json(exclude_none=True))
    data["envelope"]["case"]["records"][0]["provided"] = "50"  # a count written as text
    client = dep.client(SENDER)
    client.publish(json.dumps(data).encode(), data["envelope"]["message_id"])
    ((notice, _),) = receive(client, 1, timeout=10)
    assert notice.envelope.kind is Kind.DELIVERY_REFUSED and notice.envelope.to == [SENDER]
    assert (notice.body.stage.value, notice.body.field) == ("contract", "envelope.case.records.0.provided")
    assert str(notice.body.refused_message_id) == data["envelope"]["message_id"]
    for other in OTHERS:
        assert nothing_for(dep.client(other), wait=0.5), other
