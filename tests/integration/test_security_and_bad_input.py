"""Nobody spoofed, nothing lost: forged senders, foreign inboxes, bad input, personal data in logs."""

from __future__ import annotations

import io
import json

import pika
import pika.exceptions
import pytest

from broker import logs
from broker.domain.address import Address
from broker.domain.messages import Kind
from broker.domain.validation import MAX_MESSAGE_BYTES
from broker.transport import topology
from tests.support.deployment import Deployment
from tests.support.messages import msg
from tests.support.queues import drain
from tests.support.traffic import receive
from tests.support.waiting import wait_for

pytestmark = pytest.mark.rabbitmq


def _channel(dep: Deployment, address: str) -> pika.adapters.blocking_connection.BlockingChannel:
    connection = pika.BlockingConnection(pika.URLParameters(dep.url_for(address)))
    return connection.channel()


def _publish_raw(dep: Deployment, address: str, body: bytes, user_id: str | None) -> None:
    channel = _channel(dep, address)
    channel.confirm_delivery()
    channel.basic_publish(
        topology.INBOUND_EXCHANGE,
        "",
        body,
        pika.BasicProperties(user_id=user_id, content_type="application/json"),
    )
    channel.connection.close()


def test_forged_user_id_is_refused_by_the_broker(deployment: Deployment) -> None:
    other = deployment.participants.username(Address.parse("bureau:330600"))
    body = msg(Kind.CASE_NOTICE, "bureau:330600", ["bureau:330000"]).model_dump_json().encode()
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as info:
        _publish_raw(deployment, "bureau:330681", body, user_id=other)
    assert info.value.reply_code == 406 and "user_id property set to" in info.value.reply_text


def test_missing_user_id_is_quarantined(deployment: Deployment) -> None:
    body = msg(Kind.CASE_NOTICE, "bureau:330681", ["bureau:330600"]).model_dump_json().encode()
    _publish_raw(deployment, "bureau:330681", body, user_id=None)
    (quarantined,) = drain(deployment.settings, topology.QUARANTINE, expect=1)
    assert quarantined.headers["x-quarantine-field"] == "user_id"
    assert "no validated user_id" in quarantined.headers["x-quarantine-reason"]


def test_claiming_another_sender_is_quarantined(deployment: Deployment) -> None:
    forged = msg(Kind.CASE_NOTICE, "bureau:330600", ["bureau:330000"])
    deployment.client("bureau:330681").publish(forged)
    (quarantined,) = drain(deployment.settings, topology.QUARANTINE, expect=1)
    assert quarantined.headers["x-quarantine-field"] == "envelope.sender"
    assert "may send as bureau:330681 only" in quarantined.headers["x-quarantine-reason"]
    assert not receive(deployment.client("bureau:330000"), 1, timeout=0.5)


def test_reading_another_inbox_is_refused(deployment: Deployment) -> None:
    channel = _channel(deployment, "bureau:330681")
    other_inbox = deployment.inbox("bureau:330600")
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as info:
        channel.basic_consume(other_inbox, lambda *a: None)
        channel.connection.process_data_events(time_limit=1)
    assert info.value.reply_code == 403 and "ACCESS_REFUSED" in info.value.reply_text


def test_participants_cannot_bypass_the_router_or_declare(deployment: Deployment) -> None:
    channel = _channel(deployment, "bureau:330681")
    channel.confirm_delivery()
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as info:
        channel.basic_publish(topology.DELIVER_EXCHANGE, "bureau:330600", b"{}")
    assert info.value.reply_code == 403
    channel = _channel(deployment, "bureau:330681")
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as info:
        channel.queue_declare("my-own-queue")
    assert info.value.reply_code == 403


@pytest.mark.parametrize(
    "body,field,words",
    [
        (b"this is not json", "$", "not JSON"),
        (
            b'{"envelope": {"schema_version": "2.0", "kind": "case_notice"}, "body": {}}',
            "envelope.message_id",
            "Field required",
        ),
        (b"x" * (MAX_MESSAGE_BYTES + 10), "$", "limit"),
        (b"\xc3\x28 invalid utf-8", "$", "not UTF-8"),
    ],
    ids=["not-json", "schema", "oversize", "bad-utf8"],
)
def test_bad_input_is_quarantined_with_a_reason(
    deployment: Deployment, body: bytes, field: str, words: str
) -> None:
    deployment.client("bureau:330681").publish(body, message_id="bad-1")
    (quarantined,) = drain(deployment.settings, topology.QUARANTINE, expect=1)
    assert quarantined.headers["x-quarantine-field"] == field
    assert words in quarantined.headers["x-quarantine-reason"]
    assert quarantined.headers["x-quarantine-stage"] == "contract"


def test_unknown_addressee_is_quarantined_and_the_router_keeps_going(deployment: Deployment) -> None:
    client = deployment.client("bureau:330681")
    client.publish(msg(Kind.CASE_NOTICE, "bureau:330681", ["bureau:330683"]))  # valid code, not provisioned
    client.publish(b"garbage")
    good = msg(Kind.CASE_NOTICE, "bureau:330681", ["bureau:330600"])
    client.publish(good)
    ((got, _),) = receive(deployment.client("bureau:330600"))
    assert got.envelope.message_id == good.envelope.message_id
    quarantined = drain(deployment.settings, topology.QUARANTINE, expect=2)
    assert {q.headers["x-quarantine-field"] for q in quarantined} == {"envelope.to", "$"}
    counters = deployment.router.counters
    # received counts when a batch is taken; the outcomes count once its outputs are confirmed,
    # which can be after the good copy already reached its inbox
    assert wait_for(lambda: counters.routed + counters.quarantined + counters.duplicates == 3)
    assert counters.received == counters.routed + counters.quarantined + counters.duplicates == 3


PERSONAL = {
    "names": ["张三丰", "李小龙", "Wang Fang"],
    "phones": ["13912345678", "+86 138 0013 8000"],
    "ids": ["110105194912310021", "33068119900101123X"],
    "emails": ["zhang.sanfeng@example.com"],
}


def test_personal_data_never_reaches_the_logs(deployment: Deployment) -> None:
    stream = io.StringIO()
    logs.configure(stream=stream)
    try:
        _check_logs(deployment, stream)
    finally:
        logs.configure()


def _check_logs(deployment: Deployment, stream: io.StringIO) -> None:
    admin = pika.BlockingConnection(pika.URLParameters(deployment.settings.amqp_url)).channel()
    tap = admin.queue_declare("", exclusive=True).method.queue
    admin.queue_bind(tap, topology.ROUTING_LOG, "#")
    persons = [
        {
            "role": "victim",
            "name": n,
            "phone": p,
            "id_number": i,
            "email": PERSONAL["emails"][0],
            "address": "诸暨市某小区3幢",
        }
        for n, p, i in zip(PERSONAL["names"], PERSONAL["phones"] * 2, PERSONAL["ids"] * 2, strict=False)
    ]
    client = deployment.client("bureau:330681")
    good = msg(
        Kind.CASE_NOTICE,
        "bureau:330681",
        ["bureau:330600"],
        body={"summary": "seller 13912345678", "persons": persons},
    )
    client.publish(good)
    bad = good.model_dump(mode="json")
    bad["envelope"]["message_id"] = "5eed0000-0000-4000-8000-0000000000aa"
    bad["body"]["persons"][0]["role"] = "13912345678"  # invalid, so it is quarantined with an error
    bad["envelope"]["case_id"] = "110105194912310021 张三丰"  # personal data where it does not belong
    client.publish(json.dumps(bad, ensure_ascii=False).encode())
    assert wait_for(lambda: deployment.router.counters.received == 2)
    records = []
    assert wait_for(lambda: admin.queue_declare(tap, passive=True).method.message_count == 2)
    while (got := admin.basic_get(tap, auto_ack=True))[0] is not None:
        records.append(got[2].decode())
    admin.connection.close()
    quarantined = drain(deployment.settings, topology.QUARANTINE, expect=1)
    text = stream.getvalue()
    headers = json.dumps([q.headers for q in quarantined], ensure_ascii=False)
    everything = "\n".join([text, *records, headers])
    assert '"routed"' in text and '"quarantined"' in text and len(records) == 2
    for values in PERSONAL.values():
        for value in values:
            assert value not in everything, value
    assert "13800138000" not in everything.replace(" ", "")
