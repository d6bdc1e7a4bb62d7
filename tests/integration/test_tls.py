"""TLS on every hop, on a RabbitMQ node of this module's own that listens for AMQPS only (the
production listeners of deploy/rabbitmq/rabbitmq.conf), with certificates this module makes.

A county bureau publishes over amqps:// logging in with its client certificate (EXTERNAL, the
user is the certificate's CN); the router consumes over amqps:// with verification and its
password; the city bureau receives the message. A client that does not trust the node's CA gets
BrokerUnavailable naming TLS verification; plain AMQP finds no listener.
"""

from __future__ import annotations

import contextlib
import os
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kombu import Connection

from broker.domain.address import Address
from broker.domain.messages import Kind
from broker.participants import SYSTEM, Participants
from broker.router.service import Router
from broker.settings import Settings, TlsSettings
from broker.store.memory import SqlRoutingMemory
from broker.store.tracker.store import TrackerStore
from broker.tracker.service import Tracker
from broker.transport import topology
from broker.transport.client import BrokerUnavailable, NotAuthorised, ParticipantClient
from broker.transport.management import Management, ManagementError, scratch_vhost
from broker.transport.provision import provision
from broker.transport.tls import kombu_options
from tests.support import rabbitmq_nodes
from tests.support.certificates import CertificateAuthority
from tests.support.deployment import DEFAULT_PARTICIPANTS
from tests.support.messages import msg
from tests.support.rabbitmq_nodes import NodeTls, RabbitNode
from tests.support.traffic import receive
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.rabbitmq, pytest.mark.slow]

COUNTY = "bureau:330681"
CITY = "bureau:330600"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    return CertificateAuthority(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    """A CA the node never heard of."""
    return CertificateAuthority(tmp_path_factory.mktemp("other-pki"), name="some other CA")


@pytest.fixture(scope="module")
def tls_node(pki: CertificateAuthority) -> Iterator[RabbitNode]:
    if not rabbitmq_nodes.available():
        pytest.skip("needs rabbitmq-server and rabbitmqctl to start a node of the tests' own")
    server = pki.server()
    with rabbitmq_nodes.rabbitmq_node("tls", NodeTls(pki.ca_file, server.cert_file, server.key_file)) as node:
        yield node


@contextlib.contextmanager
def trusting(ca_file: Path) -> Iterator[None]:
    """`provision` opens its kombu connection without the RB_TLS_* options (broker/transport/provision.py
    builds it), so the node's CA is handed to OpenSSL's default store for that call only."""
    before = os.environ.get("SSL_CERT_FILE")
    os.environ["SSL_CERT_FILE"] = str(ca_file)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("SSL_CERT_FILE", None)
        else:
            os.environ["SSL_CERT_FILE"] = before


@pytest.fixture(scope="module")
def deployment(tls_node: RabbitNode) -> Iterator[tuple[Settings, Participants, dict[str, str]]]:
    """Participants provisioned in a scratch vhost, over HTTPS (management) and AMQPS."""
    assert tls_node.tls is not None
    with scratch_vhost(tls_node.settings(), "tls") as settings:
        participants = Participants.of(DEFAULT_PARTICIPANTS, settings.user_prefix)
        with trusting(tls_node.tls.ca_file):
            report = provision(settings, participants)
        yield settings, participants, dict(report.created)


@pytest.fixture
def router(
    deployment: tuple[Settings, Participants, dict[str, str]],
    tls_node: RabbitNode,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Router]:
    """The router over amqps://, trusting the node's CA through RB_TLS_CA_FILE, with its password."""
    settings, participants, passwords = deployment
    assert tls_node.tls is not None
    monkeypatch.setenv("RB_TLS_CA_FILE", str(tls_node.tls.ca_file))
    user = f"{settings.user_prefix}referral-router"
    router = Router(settings.amqp_url_for(user, passwords[user]), participants, SqlRoutingMemory("sqlite://"))
    thread = threading.Thread(target=router.run, daemon=True)
    thread.start()
    try:
        yield router
    finally:
        router.stop()
        thread.join(timeout=15)
        assert not thread.is_alive(), "router did not stop"


def connections(node: RabbitNode, user: str) -> list[dict[str, Any]]:
    with httpx_client(node) as client:
        found: list[dict[str, Any]] = client.get("/api/connections").json()
    return [c for c in found if c.get("user") == user]


def httpx_client(node: RabbitNode) -> Any:
    import httpx

    return httpx.Client(
        base_url=node.management_url, auth=("guest", "guest"), verify=node.http_verify(), timeout=5
    )


def test_a_bureau_logs_in_with_its_certificate_and_the_router_routes_its_message_over_tls(
    pki: CertificateAuthority,
    tls_node: RabbitNode,
    deployment: tuple[Settings, Participants, dict[str, str]],
    router: Router,
) -> None:
    settings, participants, passwords = deployment
    county_user = participants.username(Address.parse(COUNTY))
    certificate = pki.client(county_user)
    county_tls = TlsSettings(
        ca_file=str(pki.ca_file), cert_file=str(certificate.cert_file), key_file=str(certificate.key_file)
    )
    city_user = participants.username(Address.parse(CITY))
    with (
        ParticipantClient(settings.amqp_url_for(county_user, None), COUNTY, tls=county_tls) as county,
        ParticipantClient(
            settings.amqp_url_for(city_user, passwords[city_user]),
            CITY,
            tls=tls_node.client_tls,
            inbox=topology.inbox_name(Address.parse(CITY), settings.inbox_secret),
        ) as city,
    ):
        sent = msg(Kind.CASE_NOTICE, COUNTY, [CITY])
        county.publish(sent)
        got = receive(city)
        assert [m.envelope.message_id for m, _ in got] == [sent.envelope.message_id]
        assert got[0][1].sender_user == county_user  # the validated user_id: the certificate's CN

        assert wait_for(lambda: len(connections(tls_node, county_user)) == 1, timeout=10)
        (seen,) = connections(tls_node, county_user)
        assert seen["ssl"] is True and seen["auth_mechanism"] == "EXTERNAL"
        assert seen["peer_cert_subject"] == f"CN={county_user}"
        router_user = f"{settings.user_prefix}referral-router"
        assert wait_for(lambda: bool(connections(tls_node, router_user)), timeout=10)
        assert all(c["ssl"] and c["auth_mechanism"] == "PLAIN" for c in connections(tls_node, router_user))
    assert router.counters.routed >= 1


def test_the_tracker_reads_the_routers_decisions_over_tls(
    pki: CertificateAuthority,
    deployment: tuple[Settings, Participants, dict[str, str]],
    router: Router,
    tmp_path: Path,
) -> None:
    """The tracker's one connection (consumer and notice publisher) takes RB_TLS_CA_FILE from the
    environment, as in the compose stack."""
    settings, participants, passwords = deployment
    county_user = participants.username(Address.parse(COUNTY))
    certificate = pki.client(county_user)
    county_tls = TlsSettings(
        ca_file=str(pki.ca_file), cert_file=str(certificate.cert_file), key_file=str(certificate.key_file)
    )
    system_user = participants.username(SYSTEM)
    store = TrackerStore(f"sqlite:///{tmp_path / 'tracker.sqlite3'}")
    tracker = Tracker(settings.amqp_url_for(system_user, passwords[system_user]), store, scan_interval_s=0.2)
    thread = threading.Thread(target=tracker.run, daemon=True)
    thread.start()
    try:
        with ParticipantClient(settings.amqp_url_for(county_user, None), COUNTY, tls=county_tls) as county:
            request = msg(Kind.ASSISTANCE_REQUEST, COUNTY, [CITY])
            county.publish(request)
        rid = str(request.envelope.message_id)
        assert wait_for(lambda: len(store.obligations(rid)) == 2, timeout=15)
    finally:
        tracker.stop()
        thread.join(timeout=15)
        store.close()
    assert not thread.is_alive(), "tracker did not stop"


def test_a_certificate_for_another_user_cannot_publish_as_the_bureau(
    pki: CertificateAuthority, deployment: tuple[Settings, Participants, dict[str, str]]
) -> None:
    """EXTERNAL logs in as the certificate's CN: the user in the address cannot override it, so
    the user_id the client sets (the address's user) is refused when they differ."""
    settings, participants, _ = deployment
    county_user = participants.username(Address.parse(COUNTY))
    impostor = pki.client(participants.username(Address.parse("bureau:330602")))
    tls = TlsSettings(
        ca_file=str(pki.ca_file), cert_file=str(impostor.cert_file), key_file=str(impostor.key_file)
    )
    with (
        ParticipantClient(
            settings.amqp_url_for(county_user, None), COUNTY, tls=tls, connect_timeout_s=5
        ) as c,
        pytest.raises(NotAuthorised, match="406"),
    ):
        c.publish(msg(Kind.CASE_NOTICE, COUNTY, [CITY]))


def test_a_client_that_does_not_trust_the_ca_is_told_tls_verification_failed(
    other_ca: CertificateAuthority, deployment: tuple[Settings, Participants, dict[str, str]]
) -> None:
    settings, participants, passwords = deployment
    user = participants.username(Address.parse(COUNTY))
    untrusting = TlsSettings(ca_file=str(other_ca.ca_file), cert_file="", key_file="")
    started = time.monotonic()
    with (
        ParticipantClient(settings.amqp_url_for(user, passwords[user]), COUNTY, tls=untrusting) as client,
        pytest.raises(
            BrokerUnavailable,
            match=r"TLS verification of the broker's certificate failed \(.*certificate.*\): check RB_TLS_CA",
        ),
    ):
        client.publish(msg(Kind.CASE_NOTICE, COUNTY, [CITY]))
    assert time.monotonic() - started < 10  # not retried for the whole connect timeout: it cannot heal

    # the router's and the CLI's side (kombu) and the management API verify the same way
    url = settings.amqp_url_for(user, passwords[user])
    with (
        Connection(url, connect_timeout=5, **kombu_options(url, untrusting)) as conn,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        conn.connect()
    with (
        Management(Settings(amqp_url=settings.amqp_url, tls=untrusting)) as api,
        pytest.raises(ManagementError, match="no management API answered"),
    ):
        api.users()


def test_a_broker_certificate_for_another_name_is_refused(
    pki: CertificateAuthority, deployment: tuple[Settings, Participants, dict[str, str]]
) -> None:
    """The host name is checked too: the right CA is not enough if the certificate names another host."""
    settings, participants, passwords = deployment
    user = participants.username(Address.parse(COUNTY))
    url = settings.amqp_url_for(user, passwords[user])
    elsewhere = TlsSettings(
        ca_file=str(pki.ca_file), cert_file="", key_file="", server_name="rabbitmq.elsewhere"
    )
    with (
        ParticipantClient(url, COUNTY, tls=elsewhere, connect_timeout_s=5) as client,
        pytest.raises(BrokerUnavailable, match=r"TLS verification .* failed \(Hostname mismatch"),
    ):
        client.publish(msg(Kind.CASE_NOTICE, COUNTY, [CITY]))
    with (
        Connection(url, connect_timeout=5, **kombu_options(url, elsewhere)) as conn,
        pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"),
    ):
        conn.connect()


def test_plain_amqp_to_the_node_is_refused(
    tls_node: RabbitNode, deployment: tuple[Settings, Participants, dict[str, str]]
) -> None:
    settings, participants, passwords = deployment
    with httpx_client(tls_node) as client:
        listeners = client.get("/api/overview").json()["listeners"]
    assert {entry["protocol"] for entry in listeners} == {"amqp/ssl", "https", "clustering"}

    user = participants.username(Address.parse(COUNTY))
    plain = settings.amqp_url_for(user, passwords[user]).replace("amqps://", "amqp://", 1)
    no_tls = TlsSettings(ca_file="", cert_file="", key_file="")
    with (
        ParticipantClient(plain, COUNTY, tls=no_tls, connect_timeout_s=3) as client,
        pytest.raises(BrokerUnavailable),
    ):
        client.publish(msg(Kind.CASE_NOTICE, COUNTY, [CITY]))
