"""A provisioned broker in a scratch vhost, as the broker tests use it: its participants and their
passwords, a router in a thread, and clients closed afterwards (conftest.py's fixtures hand it out)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from broker.settings import Settings
from broker.tools.records import PARTICIPANTS as TEST_PARTICIPANTS


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

    def start_router(
        self,
        database_url: str = "sqlite://",
        clock_skew: Any = None,
        quarantine_share: Any = None,
        sender_rates: Any = None,
        bodies: Any = None,
    ) -> None:
        from broker.router.service import Router
        from broker.store.memory import SqlRoutingMemory

        memory = SqlRoutingMemory(database_url)
        skew = {"clock_skew": clock_skew} if clock_skew is not None else {}
        self.router = Router(
            self.router_url,
            self.participants,
            memory,
            prefetch=32,
            quarantine_share=quarantine_share,
            sender_rates=sender_rates,
            bodies=bodies,
            **skew,
        )
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
