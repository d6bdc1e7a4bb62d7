"""In-memory fakes of the router pipeline's ports (broker/router/ports.py) and a pipeline built on
them, for tests of the router's steps without a broker or a database."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from broker.domain.address import Address
from broker.domain.jurisdictions import default_registry
from broker.domain.messages import Message
from broker.domain.routing import InMemoryRoutingMemory, RoutedRecord
from broker.participants import Participants
from broker.router.bodies import Bodies
from broker.router.counting import Counters
from broker.router.decide import Policy
from broker.router.outputs import Destinations
from broker.router.pipeline import Pipeline
from broker.router.ports import Seen, State, Token
from broker.tools.records import PARTICIPANTS

SENDER = "bureau:330681"
PEOPLE = Participants.of(PARTICIPANTS)
TO = Destinations(deliver="deliver", quarantine="quarantine", routing_log="log", retry_queue="retry")


# ---- in-memory fakes of the ports ----


@dataclass
class FakeInbound:
    delivery_tag: int
    body: bytes
    properties: dict[str, Any]
    settled: list[tuple[str, int, bool]]
    """Shared by a batch's inputs: (ack or reject, delivery tag, multiple or requeue), in order."""
    transport_problems: list[tuple[str, str]] | None = None

    def ack(self, multiple: bool = False) -> None:
        self.settled.append(("ack", self.delivery_tag, multiple))

    def reject(self, requeue: bool = False) -> None:
        self.settled.append(("reject", self.delivery_tag, requeue))


@dataclass
class Published:
    token: Token
    body: bytes
    exchange: str
    routing_key: str
    mandatory: bool
    properties: dict[str, Any]


@dataclass
class FakePublisher:
    """Confirms everything except what `refuse(published)` says the broker refused."""

    refuse: Callable[[Published], bool] = lambda p: False
    raise_on: Callable[[Published], BaseException | None] = lambda p: None
    published: list[Published] = field(default_factory=list)
    waits: int = 0
    _outstanding: list[Published] = field(default_factory=list)

    def publish(
        self,
        token: Token,
        body: bytes,
        exchange: str,
        routing_key: str,
        mandatory: bool = False,
        **properties: Any,
    ) -> None:
        p = Published(token, body, exchange, routing_key, mandatory, properties)
        error = self.raise_on(p)
        if error is not None:
            raise error
        self.published.append(p)
        self._outstanding.append(p)

    def wait(self) -> set[Token]:
        self.waits += 1
        nacked = {p.token for p in self._outstanding if self.refuse(p)}
        self._outstanding.clear()
        return nacked

    def to(self, exchange: str) -> list[Published]:
        return [p for p in self.published if p.exchange == exchange]


@dataclass
class FakeMemory(InMemoryRoutingMemory):
    """Outbox and routing index in dicts."""

    states: dict[UUID, Seen] = field(default_factory=dict)
    taken_by_replica: set[UUID] = field(default_factory=set)
    """Ids another router replica records first: begin() leaves them out."""
    confirms: list[tuple[dict[UUID, list[Address]], set[UUID]]] = field(default_factory=list)

    def seen(self, message_ids: list[UUID]) -> dict[UUID, Seen]:
        return {m: self.states[m] for m in message_ids if m in self.states}

    def begin(self, records: list[tuple[RoutedRecord, str]]) -> set[UUID]:
        recorded = set()
        for record, digest in records:
            if record.message_id in self.taken_by_replica:
                continue
            self.remember(record)
            self.states[record.message_id] = Seen(
                State.ROUTING, digest, frozenset(a for a, _ in record.deliveries)
            )
            recorded.add(record.message_id)
        return recorded

    def confirmed(self, done: dict[UUID, list[Address]], finished: set[UUID]) -> None:
        self.confirms.append((done, finished))
        for message_id, recipients in done.items():
            seen = self.states[message_id]
            state = State.ROUTED if message_id in finished else seen.state
            self.states[message_id] = Seen(state, seen.digest, seen.pending - set(recipients))


def pipeline(memory: FakeMemory | None = None, bodies: Bodies | None = None) -> Pipeline:
    return Pipeline(
        PEOPLE,
        memory if memory is not None else FakeMemory(),
        Policy(default_registry(), PEOPLE.addresses, timedelta(minutes=5)),
        TO,
        Counters(),
        clock=lambda: datetime.now(UTC),
        is_infrastructure=lambda error: isinstance(error, ConnectionError),
        bodies=bodies or Bodies(),
    )


def body_of(message: Message) -> bytes:
    return message.model_dump_json(exclude_none=True).encode("utf-8")


def user(address: str) -> str:
    return PEOPLE.username(Address.parse(address))


def inputs(*bodies: bytes, sender: str = SENDER) -> list[FakeInbound]:
    settled: list[tuple[str, int, bool]] = []
    return [
        FakeInbound(tag, body, {"user_id": user(sender), "message_id": "m"}, settled)
        for tag, body in enumerate(bodies, start=1)
    ]
