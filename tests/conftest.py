"""Shared fixtures. Broker tests use a real RabbitMQ: RB_AMQP_URL (default: the local one); where
none answers and a Docker engine runs, a RabbitMQ testcontainer. Each test gets its own vhost and
user prefix, removed afterwards, so tests leave nothing behind and do not depend on each other."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from broker.settings import DEFAULT_AMQP_URL, Settings
from tests.support.deployment import TEST_LIMITS_CONNECTIONS, Deployment, provisioned_deployment


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


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The common 022, under which a file created without a mode is readable by everyone (the
    tests of private files use it: `pytest.mark.usefixtures("usual_umask")`)."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)
