"""Each simulated participant's own client: its own RabbitMQ user, so the router can prove who sent
what (validated user_id), publishing with envelopes stamped at simulated time."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from broker.domain.address import Address
from broker.domain.messages import Kind, Message
from broker.domain.routing import RoutingRefused
from broker.participants import Participants
from broker.sealing import SealingError
from broker.sealing.participant import Sealing
from broker.settings import Settings, with_query
from broker.tools.demo.clock import ScaledClock
from broker.transport.client import BrokerError, ParticipantClient

MAX_OPEN = 48
"""Participant connections the demo keeps open at once."""

BeforePublish = Callable[[Address, Message | bytes, str], None]
"""Called with (publisher, message, message id) just before each publish: the ledger's hook."""


class SimulatedClient(ParticipantClient):
    """A ParticipantClient whose replies carry the simulated sent_at, and that reconnects once when
    an idle connection was dropped."""

    def __init__(
        self,
        url: str,
        address: Address,
        clock: ScaledClock,
        before: BeforePublish,
        sealing: Sealing | None = None,
    ) -> None:
        super().__init__(url, address, sealing=sealing)
        self.clock = clock
        self.before = before
        self.published = 0
        self.republished = 0

    def publish(self, message: Message | bytes, message_id: str | None = None) -> None:
        if isinstance(message, Message):
            message_id = str(message.envelope.message_id)
        if message_id is None:
            raise ValueError("raw bytes need a message id")
        self.before(self.address, message, message_id)
        if isinstance(message, Message) and self.sealing is not None:
            plain = message
            try:
                message = self.sealing.wire(plain)
            except (SealingError, RoutingRefused):
                # The campaign's deliberate mistakes (a forged sender, an addressee nobody
                # provisioned): a real client stops here, before sending; the demo publishes them
                # unsealed, so the router is seen refusing them too.
                message = plain.model_dump_json(exclude_none=True).encode("utf-8")
        try:
            super().publish(message, message_id)
        except (BrokerError, OSError):
            # An idle connection may have been dropped. If the first try did reach the broker, the
            # router drops the second as a duplicate of the same id.
            self.close()
            self.republished += 1
            super().publish(message, message_id)
        self.published += 1

    @property
    def is_connected(self) -> bool:
        return self._connection is not None and bool(self._connection.is_open)

    def reply(self, original: Message, kind: Kind, body: dict[str, Any], **envelope: Any) -> Message:
        envelope.setdefault("sent_at", self.clock.now().isoformat())
        return super().reply(original, kind, body, **envelope)


class Desks:
    """One client per participant, connected when it publishes. At most `max_open` connections stay
    open; the least recently used is closed first (and reopens on its next publish). A broker's
    sockets are a shared budget: 166 idle connections would be a poor neighbour."""

    def __init__(
        self,
        settings: Settings,
        participants: Participants,
        passwords: dict[str, str],
        clock: ScaledClock,
        before: BeforePublish,
        max_open: int = MAX_OPEN,
        sealing: Callable[[Address], Sealing | None] = lambda _: None,
    ) -> None:
        """`sealing`: each participant's sealing (broker/tools/demo/sealing.py), None for plaintext."""
        self.sealing = sealing
        self.settings = settings
        self.max_open = max_open
        self.participants = participants
        self.passwords = passwords
        self.clock = clock
        self.before = before
        self._clients: OrderedDict[Address, SimulatedClient] = OrderedDict()

    def url_for(self, address: Address) -> str:
        user = self.participants.username(address)
        # a long heartbeat: most of these connections sit idle between two messages
        return with_query(self.settings.amqp_url_for(user, self.passwords[user]), "heartbeat=600")

    def __getitem__(self, address: Address) -> SimulatedClient:
        client = self._clients.get(address)
        if client is None:
            client = SimulatedClient(
                self.url_for(address), address, self.clock, self.before, self.sealing(address)
            )
            self._clients[address] = client
        self._clients.move_to_end(address)
        self._limit_open()
        return client

    def _limit_open(self) -> None:
        open_clients = [c for c in self._clients.values() if c.is_connected]
        for client in open_clients[: max(0, len(open_clients) - self.max_open + 1)]:
            client.close()

    @property
    def published(self) -> int:
        return sum(c.published for c in self._clients.values())

    @property
    def republished(self) -> int:
        return sum(c.republished for c in self._clients.values())

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
