"""Shared fixtures. Broker tests use a real RabbitMQ: RB_AMQP_URL (default: the local one); where
none answers and a Docker engine runs, a RabbitMQ testcontainer. Each test gets its own vhost and
user prefix, removed afterwards, so tests leave nothing behind and do not depend on each other."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest

from broker.settings import DEFAULT_AMQP_URL, Settings
from broker.tools.records import PARTICIPANTS as TEST_PARTICIPANTS


def _reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5672), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def broker_root() -> Iterator[Settings]:
    """Settings for the admin user on the test broker's default vhost."""
    url = os.environ.get("RB_AMQP_URL") or DEFAULT_AMQP_URL
    if _reachable(url):
        yield Settings(amqp_url=url, management_url=os.environ.get("RB_MANAGEMENT_URL", ""))
        return
    try:
        from testcontainers.rabbitmq import RabbitMqContainer
    except ImportError:  # pragma: no cover
        pytest.skip("no RabbitMQ reachable and testcontainers is not installed")
    try:
        container = RabbitMqContainer("rabbitmq:3.13-management")
        container.start()
    except Exception as exc:  # pragma: no cover - only without a local broker
        pytest.fail(f"no RabbitMQ at {url} and no Docker engine to start one: {exc}")
    host, port = container.get_container_host_ip(), container.get_exposed_port(5672)
    api = f"http://{host}:{container.get_exposed_port(15672)}"
    try:
        yield Settings(amqp_url=f"amqp://guest:guest@{host}:{port}/", management_url=api)
    finally:
        container.stop()


@pytest.fixture
def isolated(broker_root: Settings) -> Iterator[Settings]:
    """A fresh vhost and user prefix on the test broker, deleted afterwards with its users."""
    from broker.transport.management import scratch_vhost

    with scratch_vhost(broker_root, "test") as settings:
        yield settings


@dataclass
class Deployment:
    """A provisioned broker with a router running in a thread."""

    settings: Settings
    participants: Any
    passwords: dict[str, str]
    router: Any = None
    thread: threading.Thread | None = None
    clients: list[Any] = field(default_factory=list)

    def url_for(self, address: str) -> str:
        from broker.domain.address import Address

        username = self.participants.username(Address.parse(address))
        return self.settings.amqp_url_for(username, self.passwords[username])

    def inbox(self, address: str) -> str:
        """The participant's inbox name, as provision hands it over (it needs the deployment's secret)."""
        from broker.domain.address import Address
        from broker.transport import topology

        return topology.inbox_name(Address.parse(address), self.settings.inbox_secret)

    def client(self, address: str) -> Any:
        from broker.transport.client import ParticipantClient

        client = ParticipantClient(self.url_for(address), address, inbox=self.inbox(address))
        self.clients.append(client)
        return client

    @property
    def router_url(self) -> str:
        user = f"{self.settings.user_prefix}referral-router"
        return self.settings.amqp_url_for(user, self.passwords[user])

    def start_router(self, database_url: str = "sqlite://", clock_skew: Any = None) -> None:
        from broker.router.service import Router
        from broker.store.memory import SqlRoutingMemory

        memory = SqlRoutingMemory(database_url)
        skew = {"clock_skew": clock_skew} if clock_skew is not None else {}
        self.router = Router(self.router_url, self.participants, memory, prefetch=32, **skew)
        self.thread = threading.Thread(target=self.router.run, daemon=True)
        self.thread.start()

    def stop_router(self) -> None:
        if self.router is not None and self.thread is not None:
            self.router.stop()
            self.thread.join(timeout=15)
            assert not self.thread.is_alive(), "router did not stop"
            self.router = None


DEFAULT_PARTICIPANTS = list(TEST_PARTICIPANTS)
"""The participants every broker test provisions (shared with the tracker's test helpers)."""
TEST_LIMITS_CONNECTIONS = 1000
"""Per-user connection limit in test deployments: a test opens a client per publish and keeps each
until teardown, which no real system does. The real limits are tested in test_access.py."""


@contextlib.contextmanager
def provisioned_deployment(settings: Settings, **provision_options: Any) -> Iterator[Deployment]:
    """DEFAULT_PARTICIPANTS provisioned in `settings` (keyword arguments go to `provision`); its
    clients closed and its router stopped afterwards."""
    from broker.participants import Participants
    from broker.transport.provision import provision

    participants = Participants.of(DEFAULT_PARTICIPANTS, settings.user_prefix)
    report = provision(settings, participants, **provision_options)
    dep = Deployment(settings, participants, dict(report.created))
    try:
        yield dep
    finally:
        for client in dep.clients:
            with contextlib.suppress(Exception):
                client.close()
        dep.stop_router()


@pytest.fixture
def provisioned(isolated: Settings) -> Iterator[Deployment]:
    """Topology declared and participants provisioned; no router running."""
    from broker.limits import UserLimits

    limits = UserLimits(TEST_LIMITS_CONNECTIONS, 2 * TEST_LIMITS_CONNECTIONS)
    with provisioned_deployment(isolated, limits=limits) as dep:
        yield dep


@pytest.fixture
def deployment(provisioned: Deployment) -> Iterator[Deployment]:
    """A provisioned broker with the router running in a thread."""
    provisioned.start_router()
    yield provisioned
