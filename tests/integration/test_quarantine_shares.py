"""Issue 10: one participant cannot fill the shared quarantine. A sender flooding the router with bad
input gets its share kept whole, then entries without bodies, then one folding entry; every refusal
the router keeps is told to the sender; a second participant's refusals and everyone's valid
messages go on as before; a withheld body cannot be replayed. Through a real RabbitMQ."""

from __future__ import annotations

import json

import pika
import pytest

from broker.domain.address import Address
from broker.domain.messages import Kind
from broker.domain.refusals import BODY_NOT_KEPT, FOLDING
from broker.router.rates import SenderRates
from broker.router.shares import ShareLimits
from broker.transport import topology
from broker.transport.quarantine import OperatorError, holding_queue
from tests.support.deployment import Deployment
from tests.support.messages import msg
from tests.support.queues import drain
from tests.support.traffic import receive, send
from tests.support.waiting import wait_for

pytestmark = pytest.mark.rabbitmq

FLOODER, HONEST, RECIPIENT = "bureau:330681", "bureau:330600", "bureau:330000"
LIMITS = ShareLimits(bodies=3, entries=6, fold_s=3600)


def _publish_bad(dep: Deployment, sender: str, n: int) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(dep.url_for(sender)))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        user = dep.participants.username(Address.parse(sender))
        for i in range(n):
            body = f"not JSON, number {i} from {sender}".encode()
            channel.basic_publish(topology.INBOUND_EXCHANGE, "", body, pika.BasicProperties(user_id=user))
    finally:
        connection.close()


def test_a_flooding_sender_keeps_its_share_and_nobody_else_loses_theirs(provisioned: Deployment) -> None:
    dep = provisioned
    dep.start_router(quarantine_share=LIMITS)
    _publish_bad(dep, FLOODER, 15)
    _publish_bad(dep, HONEST, 2)
    valid = send(dep, msg(Kind.CASE_NOTICE, FLOODER, [RECIPIENT]))
    assert wait_for(lambda: dep.router.counters.quarantined == 17 and dep.router.counters.routed == 1)
    assert dep.router.counters.folded == 8

    # the flooder: 3 whole, 3 without body, 1 saying the rest is folded; the honest sender: 2 whole
    held = drain(dep.settings, topology.QUARANTINE, expect=9)
    assert len(held) == 9
    assert drain(dep.settings, topology.QUARANTINE, timeout=0.5) == []
    by_user: dict[str, list[bytes]] = {}
    for m in held:
        by_user.setdefault(m.headers["x-original-user-id"], []).append(m.body)
    flooder_user = dep.participants.username(Address.parse(FLOODER))
    honest_user = dep.participants.username(Address.parse(HONEST))
    assert sum(1 for b in by_user[flooder_user] if b) == 3
    assert sum(1 for b in by_user[flooder_user] if not b) == 4
    assert all(by_user[honest_user]) and len(by_user[honest_user]) == 2
    withheld = [m for m in held if m.headers.get("x-quarantine-body") == "withheld"]
    assert len(withheld) == 4 and all(m.headers["x-quarantine-size"] > 0 for m in withheld)
    assert all(len(m.headers["x-quarantine-digest"]) == 64 for m in withheld)  # the original's

    # the flooder was told of each refusal kept: what_to_do says when the body was not kept
    notices = [m for m, _ in receive(dep.client(FLOODER), 8, timeout=5)]
    refusals = [m for m in notices if m.envelope.kind is Kind.DELIVERY_REFUSED]
    advice = [json.loads(m.model_dump_json())["body"]["what_to_do"] for m in refusals]
    assert len(refusals) == 7
    assert sum(a.endswith(BODY_NOT_KEPT) for a in advice) == 3
    assert sum(a.endswith(FOLDING) for a in advice) == 1
    assert [m.envelope.message_id for m, _ in receive(dep.client(RECIPIENT), 1)] == [
        valid.envelope.message_id
    ]


def test_an_entry_without_its_body_cannot_be_replayed(provisioned: Deployment) -> None:
    dep = provisioned
    dep.start_router(quarantine_share=ShareLimits(bodies=0, entries=5))
    _publish_bad(dep, FLOODER, 1)
    assert wait_for(lambda: dep.router.counters.quarantined == 1)
    with holding_queue(dep.router_url, topology.QUARANTINE) as queue:
        (entry,) = queue.held()  # held unacked until the channel closes
        with pytest.raises(OperatorError, match="body was not kept"):
            queue.replay(entry)


def test_a_sender_over_its_rate_is_refused_and_told_and_the_others_go_on(provisioned: Deployment) -> None:
    dep = provisioned
    dep.start_router(sender_rates=SenderRates(rate=0.01, burst=3))
    sent = [send(dep, msg(Kind.CASE_NOTICE, FLOODER, [RECIPIENT])) for _ in range(5)]
    other = send(dep, msg(Kind.CASE_NOTICE, HONEST, [RECIPIENT]))
    assert wait_for(lambda: dep.router.counters.routed == 4 and dep.router.counters.quarantined == 2)
    routed = {m.envelope.message_id for m, _ in receive(dep.client(RECIPIENT), 4)}
    assert routed == {m.envelope.message_id for m in [*sent[:3], other]}  # in the order sent
    held = drain(dep.settings, topology.QUARANTINE, expect=2)
    assert [h.headers["x-quarantine-stage"] for h in held] == ["rate", "rate"]
    held_ids = [json.loads(h.body)["envelope"]["message_id"] for h in held]
    assert held_ids == [str(m.envelope.message_id) for m in sent[3:]]  # the bodies kept, to resend
    notices = [m for m, _ in receive(dep.client(FLOODER), 2)]
    assert {m.envelope.kind for m in notices} == {Kind.DELIVERY_REFUSED}
    body = json.loads(notices[0].model_dump_json())["body"]
    assert body["stage"] == "rate" and "publish this message again" in body["what_to_do"]
