"""End to end against a real RabbitMQ: each routing rule, replies, transfers, restrictions."""

from __future__ import annotations

import time
from typing import Any

import pytest

from broker.domain.address import Address
from broker.domain.messages import Kind
from tests.support.deployment import Deployment
from tests.support.messages import msg
from tests.support.traffic import nothing_for, receive, send, wait_routed
from tests.support.waiting import wait_for

pytestmark = pytest.mark.rabbitmq


def test_escalation_reaches_the_superior_with_the_validated_sender(deployment: Deployment) -> None:
    message = send(deployment, msg(Kind.ESCALATION, "bureau:330681", []))
    got = receive(deployment.client("bureau:330600"))
    assert [m.envelope.message_id for m, _ in got] == [message.envelope.message_id]
    meta = got[0][1]
    assert meta.sender_user == deployment.participants.username(Address.parse("bureau:330681"))
    assert meta.rule == "vertical.escalation"


def test_directive_to_all_subordinates(deployment: Deployment) -> None:
    send(deployment, msg(Kind.DIRECTIVE, "bureau:330000", [], case=False, scope="all_subordinates"))
    for address in ["bureau:330600", "bureau:330602", "bureau:330681", "bureau:330100"]:
        assert len(receive(deployment.client(address))) == 1, address
    assert nothing_for(deployment.client("bureau:440300"), 0.5)


def test_regional_request_via_hubs_then_forward_and_reply(deployment: Deployment) -> None:
    request = send(deployment, msg(Kind.ASSISTANCE_REQUEST, "bureau:330681", ["bureau:440300"]))
    hub = deployment.client("bureau:440000")
    ((received, meta),) = receive(hub)
    assert meta.rule == "regional.hub_inbound"
    assert len(receive(deployment.client("bureau:330000"))) == 1
    assert nothing_for(deployment.client("bureau:440300"), 0.5)
    forward = msg(
        Kind.ASSISTANCE_REQUEST, "bureau:440000", ["bureau:440300"], forwards=received.envelope.message_id
    )
    hub.publish(forward)
    local = deployment.client("bureau:440300")
    ((got, meta),) = receive(local)
    assert meta.rule == "regional.forward" and got.envelope.forwards == request.envelope.message_id
    local.reply(got, Kind.ASSISTANCE_REPLY, {"findings": "found", "complete": True})
    ((answer, meta),) = receive(deployment.client("bureau:330681"))
    assert answer.envelope.kind is Kind.ASSISTANCE_REPLY and meta.rule == "reply.regional_origin"
    assert len(receive(hub)) == 1


def test_interdepartmental_and_reply(deployment: Deployment) -> None:
    request = send(deployment, msg(Kind.COORDINATION_REQUEST, "bureau:330681", ["telecom:330681"]))
    telecom = deployment.client("telecom:330681")
    ((got, _),) = receive(telecom)
    telecom.reply(got, Kind.COORDINATION_REPLY, {"answer": "numbers suspended"})
    ((answer, meta),) = receive(deployment.client("bureau:330681"))
    assert answer.envelope.in_reply_to == request.envelope.message_id and meta.rule == "reply.correlation"


def test_transfer_then_no_retransfer_goes_to_common_superior(deployment: Deployment) -> None:
    send(deployment, msg(Kind.CASE_TRANSFER, "bureau:330681", ["bureau:330602"], case_id="T-1"))
    ((_, meta),) = receive(deployment.client("bureau:330602"))
    assert meta.rule == "transfer.competent"
    send(deployment, msg(Kind.CASE_TRANSFER, "bureau:330602", ["bureau:330100"], case_id="T-1"))
    # the common superior of 330681 and 330602 (Shaoxing), the parties of the dispute (Art. 14)
    ((_, meta),) = receive(deployment.client("bureau:330600"))
    assert meta.rule == "transfer.no_retransfer"
    assert nothing_for(deployment.client("bureau:330100"), 0.5)


def test_no_onward_dissemination_is_enforced(deployment: Deployment) -> None:
    original = send(
        deployment,
        msg(Kind.CASE_NOTICE, "bureau:330681", ["bureau:440300"], handling=["no_onward_dissemination"]),
    )
    hub = deployment.client("bureau:440000")
    assert len(receive(hub)) == 1
    hub.publish(
        msg(
            Kind.CASE_NOTICE,
            "bureau:440000",
            ["bureau:440100"],
            forwards=original.envelope.message_id,
            handling=["no_onward_dissemination"],
        )
    )
    wait_routed(deployment, 2)
    assert nothing_for(deployment.client("bureau:440100"), 0.5)
    assert deployment.router.counters.quarantined == 1


def test_police_referral_with_supervision_copy_and_answer(deployment: Deployment) -> None:
    referral = send(deployment, msg(Kind.POLICE_REFERRAL, "bureau:330681", []))
    police = deployment.client("police:330681")
    ((got, meta),) = receive(police)
    assert meta.rule == "police.referral"
    assert len(receive(deployment.client("procuratorate:330681"))) == 1
    police.reply(got, Kind.FILING_DECISION, {"decision": "filed"})
    ((answer, _),) = receive(deployment.client("bureau:330681"))
    assert answer.envelope.in_reply_to == referral.envelope.message_id


def test_same_message_twice_is_delivered_once(deployment: Deployment) -> None:
    message = msg(Kind.CASE_NOTICE, "bureau:330681", ["bureau:330600"])
    client = deployment.client("bureau:330681")
    client.publish(message)
    client.publish(message)
    wait_routed(deployment, 1)
    deadline = time.monotonic() + 5
    while deployment.router.counters.duplicates < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert deployment.router.counters.duplicates == 1
    got: list[Any] = []
    inbox = deployment.client("bureau:330600")
    # read raw, bypassing the client's own duplicate filter
    inbox._seen.clear()
    got = receive(inbox, 2, timeout=1.5)
    assert len(got) == 1


def test_prometheus_metrics_count_outcomes(deployment: Deployment) -> None:
    from prometheus_client import REGISTRY

    def value(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    routed = value("rb_router_messages_total", outcome="routed", kind="escalation")
    rule = value("rb_router_deliveries_total", rule="vertical.escalation")
    quarantined = value("rb_router_quarantined_total", stage="contract")
    client = deployment.client("bureau:330681")
    client.publish(msg(Kind.ESCALATION, "bureau:330681", []))
    client.publish(b"not json")
    wait_routed(deployment, 2)
    wait_for(lambda: value("rb_router_quarantined_total", stage="contract") == quarantined + 1, timeout=5)
    assert value("rb_router_messages_total", outcome="routed", kind="escalation") == routed + 1
    assert value("rb_router_deliveries_total", rule="vertical.escalation") == rule + 1
    assert value("rb_router_quarantined_total", stage="contract") == quarantined + 1
