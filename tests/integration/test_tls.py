"""TLS on every hop, on a RabbitMQ node of this module's own that listens for AMQPS only (the
production listeners of deploy/rabbitmq/rabbitmq.conf), with certificates this module makes.

A county bureau publishes over amqps:// logging in with its client certificate (EXTERNAL, the
user is the certificate's CN); the router consumes over amqps:// with verification and its
password; the city bureau receives the message. A client that does not trust the node's CA gets
BrokerUnavailable naming TLS verification; plain AMQP finds no listener.
"""

from __future__ import annotations

import contextlib
import json
import os
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from kombu import Connection

from broker.domain.address import Address
from broker.domain.messages import Kind, Message
from broker.domain.validation import validate_message
from broker.participants import SYSTEM, Participants
from broker.router.bodies import Bodies
from broker.router.service import Router
from broker.sealing import Sealing, SealingError
from broker.sealing.registration import make_keys
from broker.sealing.suites import SUITES as SUITE_NAMES
from broker.sealing.suites import Suite
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
from tests.support.traffic import nothing_for, receive
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
    """RB_TLS_CA_FILE for a call of a module-scoped fixture (monkeypatch is per test): `provision`,
    like `declare` and `tail`, verifies the node with the RB_TLS_* settings."""
    before = os.environ.get("RB_TLS_CA_FILE")
    os.environ["RB_TLS_CA_FILE"] = str(ca_file)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("RB_TLS_CA_FILE", None)
        else:
            os.environ["RB_TLS_CA_FILE"] = before


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
    with running_router(deployment, tls_node, monkeypatch) as router:
        yield router


@contextlib.contextmanager
def running_router(
    deployment: tuple[Settings, Participants, dict[str, str]],
    tls_node: RabbitNode,
    monkeypatch: pytest.MonkeyPatch,
    bodies: Bodies | None = None,
) -> Iterator[Router]:
    settings, participants, passwords = deployment
    assert tls_node.tls is not None
    monkeypatch.setenv("RB_TLS_CA_FILE", str(tls_node.tls.ca_file))
    user = f"{settings.user_prefix}referral-router"
    url = settings.amqp_url_for(user, passwords[user])
    router = Router(url, participants, SqlRoutingMemory("sqlite://"), bodies=bodies)
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


# ---- sealed bodies over TLS (issue 17) ----

POLICE, PROCURATORATE = "police:330681", "procuratorate:330681"
HUB, HOME_HUB, LOCAL, OUTSIDER = "bureau:440000", "bureau:330000", "bureau:440300", "bureau:330600"
SEALED_PARTIES = (COUNTY, POLICE, PROCURATORATE, HUB, HOME_HUB, LOCAL, OUTSIDER)
PERSON = {"role": "suspect", "name": "王秀英", "id_number": "330681199001011234", "phone": "13805710123"}
PERSONAL = [v.encode() for k, v in PERSON.items() if k != "role"]


@dataclass
class SealedWorld:
    """Each party's keys (generated here, as `keys generate` does), the signed directory, and the
    router's body policy: sealed bodies only."""

    suite: Suite
    parties: dict[str, Sealing]
    bodies: Bodies


@pytest.fixture(scope="module", params=sorted(SUITE_NAMES))
def sealed_world(request: pytest.FixtureRequest) -> SealedWorld:
    the_suite = SUITE_NAMES[request.param]
    made = make_keys(SEALED_PARTIES, the_suite, datetime.now(UTC) - timedelta(minutes=1))
    return SealedWorld(the_suite, made.parties, Bodies(plaintext=False, sealing=made.router))


@pytest.fixture
def sealed_router(
    deployment: tuple[Settings, Participants, dict[str, str]],
    tls_node: RabbitNode,
    sealed_world: SealedWorld,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Router]:
    with running_router(deployment, tls_node, monkeypatch, sealed_world.bodies) as router:
        yield router


def sealed_client(
    deployment: tuple[Settings, Participants, dict[str, str]],
    tls_node: RabbitNode,
    world: SealedWorld,
    address: str,
) -> ParticipantClient:
    settings, participants, passwords = deployment
    user = participants.username(Address.parse(address))
    return ParticipantClient(
        settings.amqp_url_for(user, passwords[user]),
        address,
        tls=tls_node.client_tls,
        inbox=topology.inbox_name(Address.parse(address), settings.inbox_secret),
        sealing=world.parties[address],
    )


def with_person(message: Message) -> Message:
    plain = json.loads(message.model_dump_json(exclude_none=True))
    plain["body"]["persons"] = [PERSON]
    return validate_message(plain)


def peek_everything(node: RabbitNode, vhost: str) -> list[bytes]:
    """Every message of every queue of the vhost, as the administrator reads it through the
    management API (requeued), and the broker's definitions export."""
    served: list[bytes] = []
    with httpx_client(node) as client:
        served.append(client.get("/api/definitions").content)
        for queue in client.get(f"/api/queues/{quote(vhost, safe='')}").json():
            if not queue.get("messages"):
                continue
            got = client.post(
                f"/api/queues/{quote(vhost, safe='')}/{quote(queue['name'], safe='')}/get",
                json={
                    "count": 1000,
                    "ackmode": "reject_requeue_true",
                    "encoding": "auto",
                    "truncate": 1 << 20,
                },
            )
            served += [json.dumps(m, ensure_ascii=False).encode() for m in got.json()]
    return served


def stored_on_disk(node: RabbitNode, needle: bytes) -> list[str]:
    """The files under the node's data directory (quorum logs, message stores) holding these bytes."""
    return [str(p.name) for p in node.directory.rglob("*") if p.is_file() and needle in p.read_bytes()]


def queue_depth(node: RabbitNode, vhost: str, name: str) -> int:
    with httpx_client(node) as client:
        found = client.get(f"/api/queues/{quote(vhost, safe='')}/{quote(name, safe='')}").json()
    return int(found.get("messages", 0))


def test_a_sealed_referral_opens_at_the_police_and_the_procuratorate_and_nowhere_else(
    tls_node: RabbitNode,
    deployment: tuple[Settings, Participants, dict[str, str]],
    sealed_world: SealedWorld,
    sealed_router: Router,
) -> None:
    settings = deployment[0]
    referral = with_person(msg(Kind.POLICE_REFERRAL, COUNTY, []))
    with sealed_client(deployment, tls_node, sealed_world, COUNTY) as county:
        county.publish(referral)
    inboxes = {
        a: topology.inbox_name(Address.parse(a), settings.inbox_secret) for a in (POLICE, PROCURATORATE)
    }
    assert wait_for(lambda: all(queue_depth(tls_node, settings.vhost, q) == 1 for q in inboxes.values()), 15)

    # what the broker serves its administrator, and what it keeps on disk: ciphertext only
    served = peek_everything(tls_node, settings.vhost)
    message_id = str(referral.envelope.message_id).encode()
    assert any(message_id in s for s in served)  # the clear envelope is there, so the search reads them
    assert [value for value in PERSONAL for s in served if value in s] == []
    assert stored_on_disk(tls_node, message_id)  # the quorum logs hold the message...
    assert [value for value in PERSONAL if stored_on_disk(tls_node, value)] == []  # ...but not the person

    for address in (POLICE, PROCURATORATE):
        with sealed_client(deployment, tls_node, sealed_world, address) as recipient:
            ((got, delivered),) = receive(recipient)
            assert got.body.persons[0].id_number == PERSON["id_number"]
            assert got.envelope.message_id == referral.envelope.message_id
            assert delivered.sender_user == deployment[1].username(Address.parse(COUNTY))
    wire = seal_for(sealed_world, referral)
    for outsider in (OUTSIDER,):
        with pytest.raises(SealingError, match="not sealed for any key"):
            sealed_world.parties[outsider].open(wire)
    with pytest.raises(SealingError, match="key ring"):  # the router's side holds no private key at all
        sealed_world.bodies.sealing.open(wire)  # type: ignore[union-attr]


def seal_for(world: SealedWorld, message: Message) -> dict[str, Any]:
    return json.loads(world.parties[COUNTY].wire(message))


@pytest.mark.parametrize("member", ["ciphertext", "signature"])
def test_a_tampered_sealed_referral_is_quarantined_with_the_reason_and_the_sender_told(
    tls_node: RabbitNode,
    deployment: tuple[Settings, Participants, dict[str, str]],
    sealed_world: SealedWorld,
    sealed_router: Router,
    member: str,
) -> None:
    referral = with_person(msg(Kind.POLICE_REFERRAL, COUNTY, []))
    wire = seal_for(sealed_world, referral)
    wire["sealed"][member] = flipped(wire["sealed"][member])
    with sealed_client(deployment, tls_node, sealed_world, COUNTY) as county:
        county.publish(json.dumps(wire).encode(), str(referral.envelope.message_id))
        ((notice, _),) = receive(county)
    assert notice.envelope.kind is Kind.DELIVERY_REFUSED
    assert (notice.body.stage, notice.body.field) == ("authentication", "sealed.signature")
    assert notice.body.refused_message_id == referral.envelope.message_id
    with sealed_client(deployment, tls_node, sealed_world, POLICE) as police:
        assert nothing_for(police, 1.0)


def flipped(text: str) -> str:
    """The base64url text with one bit of its first byte changed."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return alphabet[alphabet.index(text[0]) ^ 1] + text[1:]


def test_a_sealed_cross_province_request_forwarded_by_the_hub_opens_at_the_local_bureau(
    tls_node: RabbitNode,
    deployment: tuple[Settings, Participants, dict[str, str]],
    sealed_world: SealedWorld,
    sealed_router: Router,
) -> None:
    request = msg(Kind.ASSISTANCE_REQUEST, COUNTY, [LOCAL], body={"questions": [f"who is {PERSON['name']}?"]})
    with sealed_client(deployment, tls_node, sealed_world, COUNTY) as county:
        county.publish(request)
    with sealed_client(deployment, tls_node, sealed_world, HUB) as hub:
        ((received, delivered),) = receive(hub)
        assert delivered.rule == "regional.hub_inbound" and received.body.questions == request.body.questions
        forward = msg(
            Kind.ASSISTANCE_REQUEST,
            HUB,
            [LOCAL],
            body=received.body.model_dump(mode="json"),
            forwards=received.envelope.message_id,
            case_id=received.envelope.case_id,
        )
        hub.publish(forward)  # re-sealed for the bureau the hub chose, from what it was delivered
    with sealed_client(deployment, tls_node, sealed_world, LOCAL) as local:
        ((got, delivered),) = receive(local)
    assert delivered.rule == "regional.forward" and got.envelope.forwards == request.envelope.message_id
    assert got.body.questions == request.body.questions
    with sealed_client(deployment, tls_node, sealed_world, HOME_HUB) as home:
        ((copy, _),) = receive(home)  # the home province's hub gets its copy, sealed for it too
    assert copy.envelope.message_id == request.envelope.message_id
