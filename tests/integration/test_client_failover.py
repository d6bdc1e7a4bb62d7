"""The client library against the real broker: several addresses, failover, its own exceptions only."""

from __future__ import annotations

import time
from dataclasses import replace
from urllib.parse import quote

import httpx
import pytest

from broker.domain.address import Address
from broker.domain.messages import Kind
from broker.settings import Settings
from broker.transport import topology
from broker.transport.client import BrokerUnavailable, NotAuthorised, ParticipantClient
from broker.transport.management import Management
from broker.transport.provision import provision
from tests.support.deployment import Deployment
from tests.support.messages import msg
from tests.support.queues import drain
from tests.support.waiting import wait_for

pytestmark = pytest.mark.rabbitmq

SENDER = "bureau:330681"


def _dead_first(url: str) -> str:
    """The same list with an address nothing listens on in front (port 1 refuses at once)."""
    first = url.split(";")[0]
    host_port = first.split("@", 1)[1].split("/", 1)[0]
    return first.replace(f"@{host_port}/", "@127.0.0.1:1/", 1) + ";" + url


def _notice() -> object:
    return msg(Kind.CASE_NOTICE, SENDER, ["bureau:330600"])


def test_publish_fails_over_from_a_dead_address_to_a_live_one(provisioned: Deployment) -> None:
    url = _dead_first(provisioned.url_for(SENDER)).replace(";", ",", 1)  # the comma form, as in RB_AMQP_URL
    notice = _notice()
    with ParticipantClient(url, SENDER, connect_timeout_s=10) as client:
        started = time.monotonic()
        client.publish(notice)  # type: ignore[arg-type]
        took = time.monotonic() - started
    (got,) = drain(provisioned.settings, topology.ROUTER_QUEUE, expect=1)
    assert got.properties["message_id"] == str(notice.envelope.message_id)  # type: ignore[attr-defined]
    assert took < 5, f"failover took {took:.1f}s"


def test_a_connection_the_broker_closed_is_reopened_by_the_next_publish(provisioned: Deployment) -> None:
    settings = provisioned.settings
    client = provisioned.client(SENDER)
    client.publish(_notice())  # type: ignore[arg-type]
    user = provisioned.participants.username(Address.parse(SENDER))
    api = settings.api_url
    auth = settings.admin_credentials

    def connections() -> list[str]:
        found = httpx.get(f"{api}/api/connections", auth=auth, timeout=5).json()
        return [c["name"] for c in found if c.get("user") == user]

    assert wait_for(lambda: len(connections()) == 1, timeout=10)  # the stats lag a little
    for name in connections():
        httpx.delete(f"{api}/api/connections/{quote(name, safe='')}", auth=auth, timeout=5)
    client.publish(_notice())  # pika alone raises StreamLostError / ConnectionClosedByBroker here
    assert len(drain(settings, topology.ROUTER_QUEUE, expect=2)) == 2


def test_a_wrong_password_is_not_authorised_at_once(provisioned: Deployment) -> None:
    username = provisioned.participants.username(Address.parse(SENDER))
    url = provisioned.settings.amqp_url_for(username, "not-the-password")
    started = time.monotonic()
    with pytest.raises(NotAuthorised) as info, ParticipantClient(url, SENDER, connect_timeout_s=20) as client:
        client.publish(_notice())  # type: ignore[arg-type]
    assert time.monotonic() - started < 10, "a refused login is not retried until the timeout"
    assert "not-the-password" not in str(info.value)


def test_no_live_address_raises_broker_unavailable_after_the_timeout(provisioned: Deployment) -> None:
    url = _dead_first(provisioned.url_for(SENDER)).split(";")[0]
    started = time.monotonic()
    with pytest.raises(BrokerUnavailable), ParticipantClient(url, SENDER, connect_timeout_s=1.5) as client:
        client.publish(_notice())  # type: ignore[arg-type]
    assert 1.5 <= time.monotonic() - started < 10


def test_declare_and_provision_work_with_a_list_whose_first_node_is_down(isolated: Settings) -> None:
    from broker.participants import Participants

    dead_api = "http://127.0.0.1:1"
    settings = replace(
        isolated,
        amqp_url=_dead_first(isolated.amqp_url),
        management_url=f"{dead_api},{isolated.api_url}",
    )
    assert Settings(amqp_url=settings.amqp_url).vhost == isolated.vhost
    participants = Participants.of([SENDER, "bureau:330600"], isolated.user_prefix)
    report = provision(settings, participants)
    assert report.inboxes == len(list(participants))
    with Management(settings) as api:
        assert api.user_exists(participants.username(next(iter(participants))))
        assert api.queue(isolated.vhost, topology.ROUTER_QUEUE) is not None
