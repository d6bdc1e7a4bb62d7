"""`referral-broker dead-letter refeed`: dead-lettered inputs go back to the router, senders kept."""

from __future__ import annotations

import pika
import pytest

from broker.cli.main import main
from broker.domain.address import Address
from broker.domain.messages import Kind
from broker.transport import topology
from broker.transport.deadletter import RefeedStopped, refeed
from tests.support.deployment import Deployment
from tests.support.messages import msg
from tests.support.queues import queue_depth
from tests.support.traffic import receive
from tests.support.waiting import wait_for

pytestmark = pytest.mark.rabbitmq

SENDER, RECIPIENT = "bureau:330681", "bureau:330600"


def _dead_letter_inputs(dep: Deployment, count: int) -> list[str]:
    """Publish valid inputs and reject them from the router's queue, as a delivery limit reached
    for a fault not theirs would; plus one dead letter of an inbox, which must stay."""
    messages = [msg(Kind.CASE_NOTICE, SENDER, [RECIPIENT]) for _ in range(count)]
    for message in messages:
        dep.client(SENDER).publish(message)
    connection = pika.BlockingConnection(pika.URLParameters(dep.settings.amqp_url))
    try:
        channel = connection.channel()
        assert wait_for(lambda: queue_depth(dep.settings.amqp_url, topology.ROUTER_QUEUE) == count)
        for _ in messages:
            method, _props, _body = channel.basic_get(topology.ROUTER_QUEUE)
            channel.basic_reject(method.delivery_tag, requeue=False)
        channel.confirm_delivery()
        headers = {"x-first-death-queue": "rb.inbox.bureau:330600.x", "x-first-death-reason": "rejected"}
        channel.basic_publish(topology.DEAD_LETTER, "", b"{}", pika.BasicProperties(headers=headers))
    finally:
        connection.close()
    assert wait_for(lambda: queue_depth(dep.settings.amqp_url, topology.DEAD_LETTER_QUEUE) == count + 1)
    return [str(m.envelope.message_id) for m in messages]


def test_refeed_routes_dead_lettered_inputs_with_their_senders_proof(
    provisioned: Deployment, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = _dead_letter_inputs(provisioned, 3)
    provisioned.start_router()
    monkeypatch.setenv("RB_AMQP_URL", provisioned.router_url)

    assert main(["dead-letter", "refeed", "--limit", "2"]) == 0
    assert "2 re-fed; 0 of other queues left" in capsys.readouterr().out
    assert main(["dead-letter", "refeed"]) == 0
    out = capsys.readouterr().out
    assert f"re-fed 1 dead letters of {topology.ROUTER_QUEUE}" in out
    assert "1 re-fed; 1 of other queues left in rb.dead-letter" in out

    got = receive(provisioned.client(RECIPIENT), 3)
    assert sorted(str(m.envelope.message_id) for m, _ in got) == sorted(ids)
    sender_user = provisioned.participants.username(Address.parse(SENDER))
    assert {d.sender_user for _, d in got} == {sender_user}  # the validated user_id survived
    assert queue_depth(provisioned.settings.amqp_url, topology.DEAD_LETTER_QUEUE) == 1  # the inbox's


def test_refeed_without_the_right_to_impersonate_stops_and_keeps_the_dead_letter(
    provisioned: Deployment,
) -> None:
    _dead_letter_inputs(provisioned, 1)
    admin_without_impersonator = provisioned.settings.amqp_url
    with pytest.raises(RefeedStopped) as info:
        refeed(admin_without_impersonator)
    assert "406" in str(info.value) and "router's user" in str(info.value)
    assert info.value.report.total == 0
    assert wait_for(lambda: queue_depth(provisioned.settings.amqp_url, topology.DEAD_LETTER_QUEUE) == 2)
