"""What a participant cannot see or take, on a real RabbitMQ: other inboxes by name (RabbitMQ answers
a passive queue.declare without checking permissions), the queue list, and more connections or
channels than its user limits allow."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pika
import pika.exceptions
import pytest

from broker.domain.address import Address
from broker.limits import DEFAULT_MAX_CHANNELS, DEFAULT_MAX_CONNECTIONS, UserLimits
from broker.participants import Participants
from broker.settings import Settings
from broker.transport import topology
from broker.transport.management import Management
from broker.transport.provision import ROUTER_USER, provision
from tests.support.deployment import DEFAULT_PARTICIPANTS, Deployment

pytestmark = pytest.mark.rabbitmq

ME = "bureau:330681"
OTHER = "bureau:330600"
NOT_A_PARTICIPANT = "bureau:110000"


def passive_declare(url: str, queue: str) -> tuple[int, str] | int:
    """(reply code, text) when the broker refuses; the message count when it answers."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        try:
            return int(channel.queue_declare(queue, passive=True).method.message_count)
        except pika.exceptions.ChannelClosedByBroker as exc:
            return exc.reply_code, exc.reply_text
    finally:
        if connection.is_open:
            connection.close()


def test_inbox_names_need_the_deployment_secret() -> None:
    address = Address.parse(OTHER)
    name = topology.inbox_name(address, "secret-a")
    assert name.startswith(f"rb.inbox.{OTHER}.") and len(name) == len(f"rb.inbox.{OTHER}.") + 32
    assert name == topology.inbox_name(address, "secret-a"), "stable: provisioning stays idempotent"
    assert name != topology.inbox_name(address, "secret-b")
    assert topology.inbox_name(Address.parse(ME), "secret-a").rsplit(".", 1)[1] != name.rsplit(".", 1)[1]
    with pytest.raises(ValueError, match="inbox secret"):
        topology.inbox_name(address, "")


def test_another_inbox_cannot_be_found_by_any_name_a_participant_can_guess(
    provisioned: Deployment,
) -> None:
    dep = provisioned
    me = dep.url_for(ME)
    # the names everybody knows (the pre-secret scheme): not found, for a participant and for a
    # code nobody provisioned alike, so neither depth nor existence is revealed
    for guess in (f"rb.inbox.{OTHER}", f"rb.inbox.{NOT_A_PARTICIPANT}", f"rb.inbox.{OTHER}."):
        outcome = passive_declare(me, guess)
        assert isinstance(outcome, tuple) and outcome[0] == 404, (guess, outcome)
    # the real inbox exists (the administrator sees it), and its name is not the guessable one
    real = dep.inbox(OTHER)
    assert passive_declare(dep.settings.amqp_url, real) == 0
    assert real != f"rb.inbox.{OTHER}"
    # the participant's own inbox, named in its credentials entry, answers it
    assert passive_declare(me, dep.inbox(ME)) == 0


def test_participants_cannot_list_queues_through_the_http_api(provisioned: Deployment) -> None:
    user = provisioned.participants.username(Address.parse(ME))
    response = httpx.get(
        f"{provisioned.settings.api_url}/api/queues",
        auth=(user, provisioned.passwords[user]),
        timeout=10,
    )
    assert response.status_code == 401


def test_provision_hands_each_participant_its_inbox_and_reads_only_that(provisioned: Deployment) -> None:
    with Management(provisioned.settings) as api:
        queues = {q["name"] for q in api.queues(provisioned.settings.vhost)}
    for address in DEFAULT_PARTICIPANTS:
        assert provisioned.inbox(address) in queues
        assert f"rb.inbox.{address}" not in queues
    user = provisioned.participants.username(Address.parse(ME))
    response = httpx.get(
        f"{provisioned.settings.api_url}/api/permissions/{quote(provisioned.settings.vhost, safe='')}/{user}",
        auth=provisioned.settings.admin_credentials,
        timeout=10,
    )
    assert response.json()["read"] == f"^{re.escape(provisioned.inbox(ME))}$"


def test_provision_refuses_without_an_inbox_secret(isolated: Settings) -> None:
    from dataclasses import replace

    from broker.credentials import CredentialsError

    with pytest.raises(CredentialsError, match="RB_INBOX_SECRET"):
        provision(replace(isolated, inbox_secret=""), Participants.of([ME], isolated.user_prefix))


@contextlib.contextmanager
def connections(url: str, n: int) -> Iterator[list[pika.BlockingConnection]]:
    opened: list[pika.BlockingConnection] = []
    try:
        for _ in range(n):
            opened.append(pika.BlockingConnection(pika.URLParameters(url)))
        yield opened
    finally:
        for connection in opened:
            with contextlib.suppress(Exception):
                connection.close()


@pytest.fixture
def limited(isolated: Settings) -> Deployment:
    participants = Participants.of([ME, OTHER], isolated.user_prefix)
    report = provision(isolated, participants, limits=UserLimits(max_connections=2, max_channels=3))
    return Deployment(isolated, participants, dict(report.created))


def test_a_participant_cannot_open_more_connections_than_its_limit(limited: Deployment) -> None:
    url = limited.url_for(ME)
    with connections(url, 2) as held:
        assert all(c.is_open for c in held)
        with pytest.raises(pika.exceptions.AMQPConnectionError) as info, connections(url, 1):
            pass
        assert "connection limit (2) is reached" in repr(info.value)
        # another participant is not affected
        with connections(limited.url_for(OTHER), 2) as others:
            assert all(c.is_open for c in others)


def test_a_participant_cannot_open_more_channels_than_its_limit(limited: Deployment) -> None:
    url = limited.url_for(ME)
    with connections(url, 1) as (connection,):
        channels = [connection.channel() for _ in range(3)]
        assert all(c.is_open for c in channels)
        with pytest.raises(pika.exceptions.ConnectionClosedByBroker) as info:
            connection.channel()
            connection.process_data_events(time_limit=0.5)
        assert info.value.reply_code == 530 and "maximum allowed user limit of (3)" in info.value.reply_text


def test_provision_sets_the_documented_default_limits_on_participants_only(isolated: Settings) -> None:
    participants = Participants.of([ME, OTHER, "system:000000"], isolated.user_prefix)
    provision(isolated, participants)
    with Management(isolated) as api:
        for address in participants:
            assert api.user_limits(participants.username(address)) == {
                "max-connections": DEFAULT_MAX_CONNECTIONS,
                "max-channels": DEFAULT_MAX_CHANNELS,
            }
        assert api.user_limits(f"{isolated.user_prefix}{ROUTER_USER}") == {}
