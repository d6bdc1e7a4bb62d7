"""The router as a running service: the consumer loop of broker/transport/consumer.py feeding the
pipeline of broker/router/pipeline.py, with the store's memory behind the pipeline's protocols.

Guarantees (README "Reliability"):
- an input is acked only after the broker confirmed every output it caused (copies, quarantine,
  decision record);
- decisions are recorded before publishing, so a redelivered message is not routed twice;
- anything that cannot be routed goes to rb.quarantine with x-quarantine-* headers saying why;
- lost connections (broker or database) are retried with backoff; unacked input returns by itself;
- SIGTERM finishes the batch in hand, hands back the rest (unacked) and exits.

Messages are handled in batches of whatever has arrived (up to the prefetch): one database read,
one write before publishing, streamed confirms, one write after.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from broker.domain.jurisdictions import Registry, default_registry
from broker.domain.plausible_time import CLOCK_SKEW
from broker.domain.validation import contract_names
from broker.participants import Participants
from broker.router.bodies import Bodies
from broker.router.counting import Counters, log
from broker.router.decide import Policy
from broker.router.outputs import Destinations
from broker.router.pipeline import Pipeline
from broker.router.ports import RouterMemory
from broker.router.pruning import Pruning
from broker.router.rates import SenderRates
from broker.router.shares import QuarantineShares, ShareLimits
from broker.store.outage import ride_out_database
from broker.transport import topology
from broker.transport.confirms import ConfirmedPublisher
from broker.transport.consumer import BatchConsumer, Worker
from broker.transport.inbound import Delivery
from broker.transport.reconnect import is_infrastructure_error

T = TypeVar("T")

HOLD_S = 1.0
"""How long an input whose copy the broker refused waits before the refused copies are retried."""

DEFAULT_PREFETCH = 256
"""Unacked deliveries the router holds, and the largest batch; all return to the queue if it dies."""

ISOLATION_DELIVERIES = 2 * DEFAULT_PREFETCH
"""After a batch failed with an error that was neither the broker's nor the database's (a bug some
input triggers), the router hands the batch back and takes deliveries one at a time until this many
have been handled: the input that caused it then fails alone and is quarantined alone (stage
`internal`), and its innocent neighbours were redelivered once, never up to the delivery limit."""


def destinations(shard: topology.Shard) -> Destinations:
    """Where a router publishes; the retry queue is its shard's, so a parked input comes back to it."""
    return Destinations(
        deliver=topology.DELIVER_EXCHANGE,
        quarantine=topology.QUARANTINE,
        routing_log=topology.ROUTING_LOG,
        retry_queue=shard.retry_queue,
    )


class Router(Worker):
    pipeline_class: type[Pipeline] = Pipeline
    """What handles each batch; a test may put a subclass here."""

    def __init__(
        self,
        amqp_url: str,
        participants: Participants,
        memory: RouterMemory,
        registry: Registry | None = None,
        prefetch: int = DEFAULT_PREFETCH,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        clock_skew: timedelta = CLOCK_SKEW,
        quarantine_share: ShareLimits | None = None,
        sender_rates: SenderRates | None = None,
        shard: topology.Shard = topology.UNSHARDED,
        bodies: Bodies | None = None,
    ) -> None:
        """`shard`: which shard of the input this router consumes (by default the one queue,
        rb.router.inbound); routers of several shards share `memory` (PostgreSQL). `bodies`: which
        bodies it takes (broker/router/bodies.py; by default plaintext only, no key directory)."""
        # the field names a refusal may echo, read from the contract's JSON schemas (about 0.3 s):
        # made now, not while the router's first batch with an unknown field waits for it
        contract_names()
        self.participants = participants
        self.shard = shard
        self.memory = memory
        self.counters = Counters()
        self.pruning = Pruning(memory.prune)
        """Forgets what was routed more than 400 days ago, between batches (broker/router/pruning.py)."""
        self.consumer = BatchConsumer(
            amqp_url,
            shard.queue,
            self,
            prefetch,
            HOLD_S,
            ISOLATION_DELIVERIES,
            log=log,
            on_turn=self._on_turn,
        )
        self.pipeline = self.pipeline_class(
            participants,
            memory,
            Policy(
                registry or default_registry(),
                participants.addresses,
                clock_skew,
            ),
            destinations(shard),
            self.counters,
            clock,  # the demo passes a compressed clock
            guard=self._database,
            is_infrastructure=is_infrastructure_error,
            shares=QuarantineShares(quarantine_share or ShareLimits()),
            rates=sender_rates or SenderRates(),
            bodies=bodies or Bodies(),
        )

    # ---- the consumer's handler ----

    def on_session(self) -> None:
        self.counters.sessions += 1
        log.info("connected", queue=self.shard.queue, participants=len(self.participants))

    def handle_batch(
        self, batch: list[Delivery], publisher: ConfirmedPublisher, holding: bool
    ) -> list[Delivery]:
        return self.pipeline.handle_batch(batch, publisher, holding)

    def handle_alone(self, delivery: Delivery, publisher: ConfirmedPublisher, error: BaseException) -> None:
        self.pipeline.quarantine_alone(delivery, publisher, error)

    def _on_turn(self, publisher: ConfirmedPublisher, caught_up: bool) -> None:
        del publisher  # pruning publishes nothing
        self.pruning.turn(caught_up)

    def _database(self, operation: Callable[[], T], what: str) -> T:
        return ride_out_database(operation, self.consumer.stopping, self.consumer.keepalive, what)
