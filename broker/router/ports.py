"""What the router's pipeline needs from the world, as small protocols: the broker's confirmed
publisher, the outbox (what is recorded of each input before and after publishing), the routing
index (what earlier decisions say about a case) and the input itself. broker/transport and
broker/store implement them; tests implement them in memory."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, TypeVar
from uuid import UUID

from broker.domain.address import Address
from broker.domain.routing import RoutedRecord, RoutingMemory

T = TypeVar("T")

Token = tuple[int, str]
"""What a confirm is matched back to: (input index in the batch, which output)."""


class State(StrEnum):
    ROUTING = "routing"
    """Recorded before publishing; a crash here leaves unconfirmed deliveries to publish again."""
    ROUTED = "routed"
    """Every delivery confirmed by the broker."""


@dataclass(frozen=True)
class Seen:
    state: State
    digest: str
    pending: frozenset[Address]
    """Deliveries not yet confirmed."""


class Inbound(Protocol):
    """One delivery of the router's input queue, as the transport handed it over."""

    @property
    def delivery_tag(self) -> int: ...

    @property
    def body(self) -> bytes: ...

    @property
    def properties(self) -> dict[str, Any]: ...

    @property
    def transport_problems(self) -> list[tuple[str, str]] | None:
        """(property name, what was wrong with it in words) for each property the transport had to
        drop, or None when the delivery arrived whole."""

    def ack(self, multiple: bool = False) -> None: ...

    def reject(self, requeue: bool = False) -> None: ...


class Publisher(Protocol):
    """Publishes without waiting; wait() returns the tokens of what the broker refused."""

    def publish(
        self,
        token: Token,
        body: bytes,
        exchange: str,
        routing_key: str,
        mandatory: bool = False,
        **properties: Any,
    ) -> None: ...

    def wait(self) -> set[Token]: ...


class RoutingIndex(RoutingMemory, Protocol):
    """What earlier decisions say (domain/routing.RoutingMemory)."""


class Outbox(Protocol):
    """Decisions recorded before their outputs are published, and confirms booked after."""

    def seen(self, message_ids: list[UUID]) -> dict[UUID, Seen]:
        """What is remembered of these messages; unknown ids are absent."""

    def begin(self, records: list[tuple[RoutedRecord, str]]) -> set[UUID]:
        """Record decisions (with their digests); returns the ids recorded now, leaving out those
        another router replica recorded first."""

    def confirmed(self, done: dict[UUID, list[Address]], finished: set[UUID]) -> None:
        """Mark confirmed deliveries, and the messages whose every output is confirmed."""


class PipelineMemory(Outbox, RoutingIndex, Protocol):
    """One store serving both, what the pipeline uses."""


class RouterMemory(PipelineMemory, Protocol):
    """The pipeline's memory, which the router also prunes (broker/store/memory.SqlRoutingMemory)."""

    def prune(self, older_than_days: float, limit: int | None = None) -> int:
        """Forget the messages routed more than `older_than_days` ago, the oldest first, at most
        `limit` of them; returns how many were forgotten."""


class Guard(Protocol):
    """Runs one memory operation (`what` names it for the log); the service's guard waits out a
    database that is away while keeping the broker session."""

    def __call__(self, operation: Callable[[], T], what: str) -> T: ...


def unguarded(operation: Callable[[], T], what: str) -> T:
    del what  # only a guard that logs needs it
    return operation()
