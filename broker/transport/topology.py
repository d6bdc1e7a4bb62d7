"""The one place that names and declares exchanges, queues and bindings. Declaring is idempotent.

participants ──publish──▶ rb.inbound (fanout) ──▶ rb.router.inbound ──▶ router
  sharded (RB_ROUTER_SHARDS=N): rb.inbound ──▶ rb.router.shards (consistent hash of the routing key)
              ──▶ rb.router.inbound.<k>, k < N (single active consumer) ──▶ the router of shard k
router ──▶ rb.deliver (direct, key = address) ──▶ rb.inbox.<address>.<token>  (one per participant)
router ──▶ rb.quarantine (fanout) ──▶ rb.quarantine        (rejected input, with reason headers)
router ──▶ rb.routing-log (topic, key = event.kind.party.code) (one record per decision)
              └─ routed.# ──▶ rb.tracker.decisions ──▶ tracker
nothing bound ──alternate-exchange──▶ rb.unroutable ──▶ rb.unroutable
rejected / over delivery limit ──dead-letter──▶ rb.dead ──▶ rb.dead-letter
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any, Literal

import amqp.exceptions
from kombu import Connection, Exchange, Queue, binding

from broker.domain.address import Address

INBOUND_EXCHANGE = "rb.inbound"
"""Where every participant publishes. Participants may write here and nowhere else."""
ROUTER_QUEUE = "rb.router.inbound"
RETRY_QUEUE = "rb.router.retry"
"""Quorum queue where the router parks an input whose copies an inbox refused (full): after
RETRY_DELAY_MS it is dead-lettered back to rb.inbound and routed again, sending only the copies not
yet confirmed."""
RETRY_DELAY_MS = 1000
SHARD_EXCHANGE = "rb.router.shards"
"""With RB_ROUTER_SHARDS=N > 1: the consistent-hash exchange (RabbitMQ's
rabbitmq_consistent_hash_exchange plugin) between rb.inbound and the N shard queues. It hashes the
routing key, which participants set to `shard_key.of_case(case_id)`, so every message of one case reaches
one shard, in the order it was published, and one router decides them in that order."""
DELIVER_EXCHANGE = "rb.deliver"
"""Where the router puts each copy; the routing key is the recipient's address."""
INBOX_PREFIX = "rb.inbox."
INBOX_TOKEN_HEX = 32
"""Hex digits of the HMAC in an inbox's name: 128 bits nobody without the deployment's inbox secret
can guess. RabbitMQ answers a passive queue.declare without checking permissions, so a guessable
name would tell anyone an inbox's depth, its consumers and whether that participant exists."""
QUARANTINE = "rb.quarantine"
"""Exchange and queue for input that was not routed; each message carries x-quarantine-* headers."""
UNROUTABLE = "rb.unroutable"
"""Alternate exchange and queue: anything published where no queue is bound lands here."""
DEAD_LETTER = "rb.dead"
DEAD_LETTER_QUEUE = "rb.dead-letter"
ROUTING_LOG = "rb.routing-log"
"""Topic exchange carrying one JSON record per routing decision; `tail` binds a private queue."""

TRACKER_QUEUE = "rb.tracker.decisions"
"""Durable copy of every `routed` decision record, consumed by the deadline tracker."""
TRACKER_BACKLOG = 1_000_000
"""Decision records held for a stopped tracker before the router is pushed back (nacked)."""

DEFAULT_INBOX_LENGTH = 100_000
"""Messages an inbox holds before the broker refuses more (the router then retries later)."""
DEFAULT_DELIVERY_LIMIT = 20
"""Deliveries of one message before a quorum queue dead-letters it as poison."""

# The queues where messages wait for people (rb.quarantine, rb.dead-letter, rb.unroutable) are
# bounded in messages and bytes, so that no participant can fill the nodes' disks through them;
# at the bound the broker refuses more (reject-publish) rather than drop what is already there.
# Prometheus warns at 80% (deploy/prometheus-alerts.yml, HoldingQueueFilling). Quorum queues keep
# every message on each replica's disk and about 32 bytes a message in memory: the three bounds
# together are at most 2.25 GiB of disk and 35 MB of memory per node.
QUARANTINE_MAX_MESSAGES = 500_000
"""Quarantined inputs kept before the broker refuses more."""
QUARANTINE_MAX_BYTES = 1 << 30
"""1 GiB of quarantined bodies. When full, a quarantine publish is nacked: the router keeps the
input (parked and retried) instead of dropping the evidence, and routing of good input goes on."""
DEAD_LETTER_MAX_MESSAGES = 500_000
"""Dead letters kept until an operator re-feeds (`referral-broker dead-letter refeed`) or reads them."""
DEAD_LETTER_MAX_BYTES = 1 << 30
"""1 GiB of dead letters. When full, the queues that dead-letter here keep their dead letters
(at-least-once dead-lettering) and hand them over once there is room."""
UNROUTABLE_MAX_MESSAGES = 100_000
"""Messages published where nothing was bound (a topology fault, never normal traffic)."""
UNROUTABLE_MAX_BYTES = 256 << 20
"""256 MiB. When full, a publish that would land here is nacked: its publisher keeps it and retries."""


@dataclass(frozen=True)
class QueueArguments:
    """Arguments of every queue here, typed. Each maps to one x-argument of RabbitMQ."""

    queue_type: Literal["quorum", "classic"] = "quorum"
    """Replicated, durable queue type for data safety: https://www.rabbitmq.com/docs/quorum-queues"""
    leader_locator: Literal["balanced", "client-local"] | None = "balanced"
    """Leader on the node with the fewest leaders, not the one `declare` is connected to (3.10 also
    takes the older `random`, `least-leaders`): https://www.rabbitmq.com/docs/clustering#replica-placement"""
    dead_letter_exchange: str | None = DEAD_LETTER
    """Where rejected and poison messages go: https://www.rabbitmq.com/docs/dlx"""
    max_length: int | None = None
    """Length limit: https://www.rabbitmq.com/docs/maxlength"""
    max_length_bytes: int | None = None
    """Limit on the total size of message bodies: https://www.rabbitmq.com/docs/maxlength"""
    overflow: Literal["reject-publish", "drop-head"] = "reject-publish"
    """At the limit, refuse new messages (the publisher gets a nack) rather than drop old ones:
    https://www.rabbitmq.com/docs/maxlength#overflow-behaviour"""
    delivery_limit: int | None = DEFAULT_DELIVERY_LIMIT
    """Poison-message handling of quorum queues: https://www.rabbitmq.com/docs/quorum-queues#poison-message-handling"""

    dead_letter_strategy: Literal["at-most-once", "at-least-once"] = "at-least-once"
    """at-least-once keeps a quorum queue's message until the dead-letter target confirmed it, so a
    full rb.dead-letter loses nothing (needs reject-publish overflow):
    https://www.rabbitmq.com/docs/quorum-queues#dead-lettering"""
    dead_letter_routing_key: str | None = None
    """The routing key dead letters get (default: their own): https://www.rabbitmq.com/docs/dlx#routing"""
    message_ttl: int | None = None
    """Milliseconds a message waits before it expires (and is dead-lettered):
    https://www.rabbitmq.com/docs/ttl#per-queue-message-ttl"""

    def as_arguments(self) -> dict[str, Any]:
        args: dict[str, Any] = {"x-queue-type": self.queue_type}
        if self.dead_letter_exchange is not None:
            args["x-dead-letter-exchange"] = self.dead_letter_exchange
        if self.dead_letter_routing_key is not None:
            args["x-dead-letter-routing-key"] = self.dead_letter_routing_key
        if self.max_length is not None:
            args["x-max-length"] = self.max_length
            args["x-overflow"] = self.overflow
        if self.max_length_bytes is not None:
            args["x-max-length-bytes"] = self.max_length_bytes
            args["x-overflow"] = self.overflow
        if self.leader_locator is not None and self.queue_type == "quorum":
            args["x-queue-leader-locator"] = self.leader_locator
        if self.delivery_limit is not None and self.queue_type == "quorum":
            args["x-delivery-limit"] = self.delivery_limit
        if (
            self.dead_letter_exchange is not None
            and self.dead_letter_strategy == "at-least-once"
            and self.queue_type == "quorum"
        ):
            args["x-dead-letter-strategy"] = self.dead_letter_strategy
            args["x-overflow"] = "reject-publish"
        if self.message_ttl is not None:
            args["x-message-ttl"] = self.message_ttl
        return args


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count`: the queue its router consumes and the retry queue it parks in.
    One shard (count 1) is the unsharded topology: rb.router.inbound and rb.router.retry."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(f"shard {self.index} of {self.count}: the index counts from 0 to shards - 1")

    @property
    def queue(self) -> str:
        return ROUTER_QUEUE if self.count == 1 else f"{ROUTER_QUEUE}.{self.index}"

    @property
    def retry_queue(self) -> str:
        return RETRY_QUEUE if self.count == 1 else f"{RETRY_QUEUE}.{self.index}"


UNSHARDED = Shard()


def shards(count: int) -> list[Shard]:
    return [Shard(k, count) for k in range(count)]


def router_queues(count: int = 1) -> list[str]:
    """The queues routers consume with `count` shards; rb.router.inbound first in any case, since
    it exists (unbound) after a deployment went from one router queue to shards, until drained."""
    return [ROUTER_QUEUE] + ([s.queue for s in shards(count)] if count > 1 else [])


def is_router_queue(name: str) -> bool:
    """rb.router.inbound or one of its shards, rb.router.inbound.<k>."""
    prefix, _, index = name.rpartition(".")
    return name == ROUTER_QUEUE or (prefix == ROUTER_QUEUE and index.isdigit())


def inbox_name(address: Address, secret: str) -> str:
    """`rb.inbox.<address>.<token>`, token = HMAC-SHA256(the deployment's inbox secret, address).
    Stable for a given secret, so provisioning stays idempotent; the address keeps it readable."""
    if not secret:
        raise ValueError("inbox secret: empty; inbox names need the deployment's secret (RB_INBOX_SECRET)")
    token = hmac.new(secret.encode("utf-8"), str(address).encode("utf-8"), hashlib.sha256).hexdigest()
    return f"{INBOX_PREFIX}{address}.{token[:INBOX_TOKEN_HEX]}"


def _exchange(name: str, kind: str, alternate: bool = True) -> Exchange:
    arguments = {"alternate-exchange": UNROUTABLE} if alternate else {}
    return Exchange(name, type=kind, durable=True, auto_delete=False, arguments=arguments)


def holding(max_messages: int, max_bytes: int) -> QueueArguments:
    """A queue where messages wait for people: bounded, no delivery limit, dead-lettering nowhere."""
    return QueueArguments(
        dead_letter_exchange=None, delivery_limit=None, max_length=max_messages, max_length_bytes=max_bytes
    )


def _queue(name: str, exchange: Exchange, routing_key: str = "", args: QueueArguments | None = None) -> Queue:
    args = args or QueueArguments()
    return Queue(
        name,
        exchange=exchange,
        routing_key=routing_key,
        durable=True,
        auto_delete=False,
        queue_arguments=args.as_arguments(),
    )


def _retry_queue(name: str, back: QueueArguments) -> Queue:
    # Published to through the default exchange with `mandatory`: a missing queue is a return,
    # never a silent hop to rb.unroutable; quorum, so a parked input outlives its node.
    return Queue(name, durable=True, auto_delete=False, queue_arguments=back.as_arguments())


def _retry_arguments(**back: Any) -> QueueArguments:
    return QueueArguments(
        dead_letter_strategy="at-least-once", message_ttl=RETRY_DELAY_MS, delivery_limit=None, **back
    )


def _shard_entities(count: int) -> list[Exchange | Queue]:
    """The consistent-hash exchange bound to rb.inbound, and per shard its input queue (one active
    consumer at a time, so a second router on the same shard waits as a standby and the order holds)
    and its retry queue, which dead-letters back to that shard's queue, not through the hash."""
    hashed = _exchange(SHARD_EXCHANGE, "x-consistent-hash")
    entities: list[Exchange | Queue] = [hashed]
    for shard in shards(count):
        entities.append(
            Queue(
                shard.queue,
                exchange=hashed,
                routing_key="1",  # with a consistent-hash exchange: the shard's weight
                durable=True,
                auto_delete=False,
                queue_arguments={**QueueArguments().as_arguments(), "x-single-active-consumer": True},
            )
        )
        entities.append(
            _retry_queue(
                shard.retry_queue,
                _retry_arguments(dead_letter_exchange="", dead_letter_routing_key=shard.queue),
            )
        )
    return entities


def core_entities(shard_count: int = 1) -> list[Exchange | Queue]:
    """The fixed part of the topology, in declaration order."""
    unroutable = _exchange(UNROUTABLE, "fanout", alternate=False)
    dead = _exchange(DEAD_LETTER, "fanout", alternate=False)
    inbound = _exchange(INBOUND_EXCHANGE, "fanout")
    quarantine = _exchange(QUARANTINE, "fanout")
    log = _exchange(ROUTING_LOG, "topic", alternate=False)
    return [
        unroutable,
        _queue(UNROUTABLE, unroutable, args=holding(UNROUTABLE_MAX_MESSAGES, UNROUTABLE_MAX_BYTES)),
        dead,
        _queue(DEAD_LETTER_QUEUE, dead, args=holding(DEAD_LETTER_MAX_MESSAGES, DEAD_LETTER_MAX_BYTES)),
        inbound,
        # bound to rb.inbound by declare() unless the input is sharded; then it stays, unbound, so
        # a router of this queue drains what it holds from before
        Queue(ROUTER_QUEUE, durable=True, auto_delete=False, queue_arguments=QueueArguments().as_arguments()),
        _retry_queue(RETRY_QUEUE, _retry_arguments(dead_letter_exchange=INBOUND_EXCHANGE)),
        *(_shard_entities(shard_count) if shard_count > 1 else []),
        _exchange(DELIVER_EXCHANGE, "direct"),
        quarantine,
        _queue(QUARANTINE, quarantine, args=holding(QUARANTINE_MAX_MESSAGES, QUARANTINE_MAX_BYTES)),
        log,
        # the routed records (deadlines) and the quarantined ones (the audit trail, so `trace` shows
        # a refused message before any operator command has looked at the quarantine)
        Queue(
            TRACKER_QUEUE,
            bindings=[binding(log, routing_key="routed.#"), binding(log, routing_key="quarantined.#")],
            durable=True,
            auto_delete=False,
            queue_arguments=QueueArguments(max_length=TRACKER_BACKLOG).as_arguments(),
        ),
    ]


InboxType = Literal["quorum", "classic"]
"""Quorum inboxes in production. Classic ones (same arguments) only where the broker cannot hold a
quorum queue per participant: a node with the common 1,024 file-descriptor limit stops accepting
connections at about a hundred quorum queues (the demo's 166 inboxes would take it down)."""


def inbox_queue(
    address: Address, max_length: int = DEFAULT_INBOX_LENGTH, *, secret: str, queue_type: InboxType = "quorum"
) -> Queue:
    return _queue(
        inbox_name(address, secret),
        _exchange(DELIVER_EXCHANGE, "direct"),
        routing_key=str(address),
        args=QueueArguments(queue_type=queue_type, max_length=max_length),
    )


def declare(
    connection: Connection,
    inboxes: list[Address] | None = None,
    inbox_length: int = DEFAULT_INBOX_LENGTH,
    inbox_secret: str = "",
    inbox_type: InboxType = "quorum",
    shard_count: int = 1,
) -> int:
    """Declare the core topology (with `shard_count` router shards) and the given inboxes (named
    with inbox_secret). Returns how many entities were declared."""
    entities: list[Exchange | Queue] = core_entities(shard_count)
    entities += [
        inbox_queue(a, inbox_length, secret=inbox_secret, queue_type=inbox_type) for a in inboxes or []
    ]
    with connection.channel() as channel:
        for entity in entities:
            try:
                entity.bind(channel).declare()
            except amqp.exceptions.PreconditionFailed as exc:
                raise TopologyMismatch(
                    f"{entity.name}: declared earlier with other arguments ({str(exc.reply_text)[:240]}); "
                    "see deploy/PRODUCTION.md, 'Upgrading the topology'"
                ) from None
            except amqp.exceptions.InvalidCommand as exc:
                if entity.name != SHARD_EXCHANGE:
                    raise
                raise ShardingUnavailable(
                    f"{SHARD_EXCHANGE}: the broker has no x-consistent-hash exchange type "
                    f"({str(exc.reply_text)[:160]}); RB_ROUTER_SHARDS={shard_count} needs the "
                    "rabbitmq_consistent_hash_exchange plugin on every node "
                    "(rabbitmq-plugins enable rabbitmq_consistent_hash_exchange), or RB_ROUTER_SHARDS=1"
                ) from None
        _point_inbound(channel, shard_count)
    return len(entities)


def _point_inbound(channel: Any, shard_count: int) -> None:
    """rb.inbound feeds either rb.router.inbound or the shard exchange, never both (an input would
    be routed twice). Unbinding what is not bound is a no-op; both ends exist by now."""
    if shard_count == 1:
        channel.queue_bind(ROUTER_QUEUE, INBOUND_EXCHANGE, "")
        if _exists(channel, SHARD_EXCHANGE):
            channel.exchange_unbind(SHARD_EXCHANGE, INBOUND_EXCHANGE, "")
    else:
        channel.exchange_bind(SHARD_EXCHANGE, INBOUND_EXCHANGE, "")
        channel.queue_unbind(ROUTER_QUEUE, INBOUND_EXCHANGE, "")


def _exists(channel: Any, exchange: str) -> bool:
    """Whether an exchange exists, asked on a channel of its own (a 404 closes the channel)."""
    with channel.connection.channel() as probe:
        try:
            probe.exchange_declare(exchange, "", passive=True)
        except amqp.exceptions.NotFound:
            return False
    return True


class ShardingUnavailable(RuntimeError):
    """RB_ROUTER_SHARDS > 1 on a broker without the consistent-hash exchange plugin."""


class TopologyMismatch(RuntimeError):
    """A queue or exchange exists with other arguments than this version declares (RabbitMQ cannot
    change them in place: the queue must be emptied, deleted and declared again)."""


def declare_at(url: str, shard_count: int = 1) -> int:
    """Connect to the broker at `url` (TLS settings applied) and declare the core topology."""
    from broker.transport.tls import kombu_options

    with Connection(url, **kombu_options(url)) as connection:
        return declare(connection, shard_count=shard_count)
