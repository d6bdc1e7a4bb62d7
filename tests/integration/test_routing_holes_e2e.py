"""The routing holes of issue 11 against a real RabbitMQ: what a copy holder, a plain transfer
recipient or a renumbering bureau publishes, and messages dated far from the router's clock."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from broker.domain.case import CaseFacts
from broker.domain.messages import Kind, Message
from broker.domain.referrals import referral_body
from broker.tools.contract.examples import REFERRAL_FACTS
from broker.transport import topology
from tests.support.deployment import Deployment
from tests.support.messages import msg
from tests.support.queues import drain
from tests.support.traffic import nothing_for, receive, send, wait_routed

pytestmark = pytest.mark.rabbitmq


def quarantined(dep: Deployment, expect: int = 1) -> list[dict[str, Any]]:
    return [m.headers for m in drain(dep.settings, topology.QUARANTINE, expect=expect)]


def test_the_procuratorate_cannot_decide_on_filing_but_may_acknowledge(deployment: Deployment) -> None:
    send(deployment, msg(Kind.POLICE_REFERRAL, "bureau:330681", []))
    assert len(receive(deployment.client("police:330681"))) == 1
    procuratorate = deployment.client("procuratorate:330681")
    ((copy, meta),) = receive(procuratorate)
    assert meta.rule == "police.supervision_copy"
    procuratorate.reply(copy, Kind.FILING_DECISION, {"decision": "not_filed", "reasons": "none"})
    procuratorate.reply(copy, Kind.POLICE_RECEIPT, {"received_at": datetime.now(UTC).isoformat()})
    wait_routed(deployment, 3)
    refusals = quarantined(deployment, 2)
    assert [h["x-quarantine-field"] for h in refusals] == ["envelope.sender"] * 2
    assert all("police.supervision_copy" in h["x-quarantine-reason"] for h in refusals)
    bureau = deployment.client("bureau:330681")
    assert nothing_for(bureau, 0.5)
    procuratorate.reply(copy, Kind.RECEIPT_ACK, {})
    ((ack, meta),) = receive(bureau)
    assert ack.envelope.kind is Kind.RECEIPT_ACK and meta.rule == "reply.correlation"


def test_the_senders_hub_cannot_complete_an_assistance_request(deployment: Deployment) -> None:
    send(deployment, msg(Kind.ASSISTANCE_REQUEST, "bureau:330681", ["bureau:440300"]))
    own_hub = deployment.client("bureau:330000")
    ((copy, meta),) = receive(own_hub)
    assert meta.rule == "regional.hub_outbound_copy"
    own_hub.reply(copy, Kind.ASSISTANCE_REPLY, {"findings": "nothing found", "complete": True})
    wait_routed(deployment, 2)
    ((headers),) = quarantined(deployment)
    assert headers["x-quarantine-field"] == "envelope.sender"
    assert "regional.hub_outbound_copy" in headers["x-quarantine-reason"]
    assert nothing_for(deployment.client("bureau:330681"), 0.5)
    # the other province's hub, which received it to forward, still answers
    target_hub = deployment.client("bureau:440000")
    ((inbound, meta),) = receive(target_hub)
    assert meta.rule == "regional.hub_inbound"
    target_hub.reply(inbound, Kind.ASSISTANCE_REPLY, {"findings": "found", "complete": True})
    ((answer, meta),) = receive(deployment.client("bureau:330681"))
    assert answer.body.complete is True and meta.rule == "reply.correlation"


def test_a_renumbered_retransfer_reaches_the_common_superior(deployment: Deployment) -> None:
    send(deployment, msg(Kind.CASE_TRANSFER, "bureau:330681", ["bureau:330602"], case_id="ZJ-2019-42"))
    ((_, meta),) = receive(deployment.client("bureau:330602"))
    assert meta.rule == "transfer.competent"
    send(deployment, msg(Kind.CASE_TRANSFER, "bureau:330602", ["bureau:330100"], case_id="YC-2019-777"))
    ((onward, meta),) = receive(deployment.client("bureau:330600"))
    assert meta.rule == "transfer.no_retransfer"
    assert nothing_for(deployment.client("bureau:330100"), 0.5)
    # and only that superior, Shaoxing's, designates
    designation = msg(
        Kind.JURISDICTION_DESIGNATION,
        "bureau:330600",
        [],
        body={"designated": "bureau:330681"},
        case_id="YC-2019-777",
        in_reply_to=onward.envelope.message_id,
    )
    send(deployment, designation)
    ((_, meta),) = receive(deployment.client("bureau:330681"))
    assert meta.rule == "transfer.designation"


def test_a_plain_transfer_recipient_cannot_designate(deployment: Deployment) -> None:
    transfer = send(deployment, msg(Kind.CASE_TRANSFER, "bureau:330100", ["bureau:330600"], case_id="HZ-1"))
    assert len(receive(deployment.client("bureau:330600"))) == 1
    send(
        deployment,
        msg(
            Kind.JURISDICTION_DESIGNATION,
            "bureau:330600",
            [],
            body={"designated": "bureau:330681"},
            case_id="HZ-1",
            in_reply_to=transfer.envelope.message_id,
        ),
    )
    wait_routed(deployment, 2)
    ((headers),) = quarantined(deployment)
    assert headers["x-quarantine-field"] == "envelope.sender"
    assert "transfer.no_retransfer" in headers["x-quarantine-reason"]
    assert nothing_for(deployment.client("bureau:330681"), 0.5)


def _dated(message: Message, sent_at: datetime) -> Message:
    return message.model_copy(update={"envelope": message.envelope.model_copy(update={"sent_at": sent_at})})


def test_messages_dated_far_from_the_routers_clock_are_quarantined(deployment: Deployment) -> None:
    for year in (2099, 2001):
        notice = msg(Kind.CASE_NOTICE, "bureau:330681", ["bureau:330600"])
        send(deployment, _dated(notice, datetime(year, 6, 3, tzinfo=UTC)))
    body = referral_body(CaseFacts.model_validate(REFERRAL_FACTS), "head", "9999-01-01T00:00:00+08:00")
    send(deployment, msg(Kind.POLICE_REFERRAL, "bureau:330681", [], body=body))
    wait_routed(deployment, 3)
    refusals = quarantined(deployment, 3)
    assert sorted(h["x-quarantine-field"] for h in refusals) == [
        "body.approved_at",
        "envelope.sent_at",
        "envelope.sent_at",
    ]
    for headers in refusals:
        reason = headers["x-quarantine-reason"]
        assert "broker's clock" in reason
        assert not any(year in reason for year in ("2099", "2001", "9999"))
    assert nothing_for(deployment.client("bureau:330600"), 0.5)
    assert nothing_for(deployment.client("police:330681"), 0.5)
    assert deployment.router.counters.routed == 0
