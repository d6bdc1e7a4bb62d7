"""Look at, replay and discard the messages held in rb.quarantine and rb.dead-letter (pika).

Each run looks at every held message once: `basic_get` without an ack, so the messages it does not
settle stay unacked until the channel closes and RabbitMQ puts them back. Neither queue has a
delivery limit (topology.holding), so looking never costs a message. A replay is published with a
confirm before its quarantined copy is acked; a discard is an ack.

Replay keeps the original sender's proof, the validated user_id, which only the router's user may
set on another's behalf (the `impersonator` tag): so `replay` runs as the router's user, like
`dead-letter refeed`. The user it sets is the `x-original-user-id` header, which only the router
writes: participants may publish to rb.inbound only, the router does not copy their headers onto a
quarantined message, and the operator's user may publish nowhere. The replayed input then goes
through every check again, so a replay can make a message count only as sent by the user that did
publish it, and an input that had no validated user_id is never replayed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

from broker.domain import quarantine_ids as ids
from broker.transport import shard_key, topology
from broker.transport.client import connection_parameters
from broker.transport.deadletter import died_in

QUEUES = {"quarantine": topology.QUARANTINE, "dead-letter": topology.DEAD_LETTER_QUEUE}
"""The holding queues operators work on, by the CLI's name for them."""

SHOWN_HEADERS = (
    "x-quarantine-stage",
    "x-quarantine-field",
    "x-quarantine-reason",
    "x-quarantined-at",
    "x-original-user-id",
    "x-quarantine-digest",
    "x-quarantine-body",
    "x-quarantine-size",
    "x-first-death-queue",
    "x-first-death-reason",
)
"""Headers `show` prints: the router's and RabbitMQ's own, never a participant's."""


class OperatorError(RuntimeError):
    """An operator action that cannot be done; the text says why and what to do."""


@dataclass(frozen=True)
class Held:
    """One message held in a holding queue, as an operator sees it."""

    queue: str
    id: str
    digest: str
    stage: str
    field: str
    reason: str
    user_id: str | None
    """The sender's validated user (the router's x-original-user-id, or a dead letter's user_id)."""
    at: str | None
    facts: ids.Facts
    size: int
    headers: dict[str, str]
    properties: Any
    body: bytes
    delivery_tag: int

    def summary(self) -> dict[str, Any]:
        """Envelope metadata and the router's headers; never the body."""
        return {
            "id": self.id,
            "queue": self.queue,
            "stage": self.stage,
            "field": self.field,
            "reason": self.reason,
            "quarantined_at": self.at,
            "user_id": self.user_id,
            "kind": self.facts.kind,
            "sender": self.facts.sender,
            "case_id": self.facts.case_id,
            "size": self.size,
            "digest": self.digest,
        }


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def _uuid(value: Any) -> str | None:
    try:
        return str(UUID(value)) if isinstance(value, str) else None
    except ValueError:
        return None


def held_message(queue: str, delivery_tag: int, properties: Any, body: bytes) -> Held:
    headers = {k: _text(v) for k, v in (properties.headers or {}).items() if k in SHOWN_HEADERS}
    body_digest = ids.digest(body)
    facts = ids.envelope_facts(body)
    if queue == topology.QUARANTINE:
        stage = headers.get("x-quarantine-stage", "")
        field, reason = headers.get("x-quarantine-field", ""), headers.get("x-quarantine-reason", "")
        user_id = headers.get("x-original-user-id") or None
        at = headers.get("x-quarantined-at")
    else:
        origin = died_in(properties.headers) or "?"
        headers["x-first-death-queue"] = origin
        stage, field = "dead-letter", "$"
        reason = f"{headers.get('x-first-death-reason', 'dead-lettered')} in {origin}"
        user_id = properties.user_id or None
        at = None
    return Held(
        queue=queue,
        id=ids.quarantine_id(facts, _uuid(properties.message_id), body_digest),
        digest=body_digest,
        stage=stage,
        field=field,
        reason=reason,
        user_id=user_id,
        at=at,
        facts=facts,
        size=len(body),
        headers=headers,
        properties=properties,
        body=body,
        delivery_tag=delivery_tag,
    )


@dataclass(frozen=True)
class Filter:
    stage: str | None = None
    sender: str | None = None
    """An address, or a division code (any party there)."""
    since: datetime | None = None

    def admits(self, held: Held) -> bool:
        if self.stage and held.stage != self.stage:
            return False
        if self.sender:
            sender = held.facts.sender or ""
            wanted = self.sender
            if sender != wanted and not (":" not in wanted and sender.endswith(f":{wanted}")):
                return False
        if self.since is not None:
            if held.at is None:
                return False
            try:
                at = datetime.fromisoformat(held.at)
            except ValueError:
                return False
            since = self.since if self.since.tzinfo else self.since.replace(tzinfo=at.tzinfo)
            if at < since:
                return False
        return True


class HoldingQueue:
    """One channel on one holding queue, for one run of one command."""

    def __init__(self, channel: BlockingChannel, queue: str) -> None:
        self.channel = channel
        self.queue = queue

    def held(self) -> list[Held]:
        """Every message held now, each looked at once (unacked until settled or the run ends)."""
        waiting = self.channel.queue_declare(self.queue, passive=True).method.message_count
        out = []
        # at least one get, even on an empty queue: a passive declare checks no permission
        for _ in range(max(waiting, 1)):
            method, properties, body = self.channel.basic_get(self.queue)
            if method is None:
                break
            out.append(held_message(self.queue, method.delivery_tag, properties, body))
        return out

    def discard(self, held: Held) -> None:
        self.channel.basic_ack(held.delivery_tag)

    def replay(self, held: Held) -> None:
        """Publish a quarantined input to rb.inbound as its original sender, then drop the copy."""
        if not held.user_id:
            raise OperatorError(
                f"{held.id} cannot be replayed: it came without a validated user_id, so nothing proves "
                "who sent it; discard it and ask the sender to publish again"
            )
        if held.headers.get("x-quarantine-body") == "withheld":
            raise OperatorError(
                f"{held.id} cannot be replayed: its body was not kept (its sender had used up its "
                "quarantine share for the hour, and was told to publish the corrected message itself); "
                "discard it"
            )
        recorded = held.headers.get("x-quarantine-digest")
        if recorded and recorded != held.digest:
            raise OperatorError(f"{held.id}: its body does not match the digest the router recorded")
        props = held.properties
        properties = pika.BasicProperties(
            content_type=props.content_type,
            content_encoding=props.content_encoding,
            delivery_mode=2,
            message_id=_uuid(props.message_id),
            user_id=held.user_id,
        )
        try:
            key = shard_key.of_body(held.body)
            self.channel.basic_publish(topology.INBOUND_EXCHANGE, key, held.body, properties, mandatory=True)
        except (pika.exceptions.NackError, pika.exceptions.UnroutableError) as exc:
            raise OperatorError(
                f"the broker refused the replay of {held.id} ({type(exc).__name__}); it stays in quarantine"
            ) from None
        self.channel.basic_ack(held.delivery_tag)


def select(held: list[Held], wanted: list[str]) -> tuple[list[Held], list[str]]:
    """The held messages the operator named, and the names that matched none."""
    chosen = [h for h in held if any(ids.matches(w, h.id, h.digest) for w in wanted)]
    missing = [w for w in wanted if not any(ids.matches(w, h.id, h.digest) for h in held)]
    return chosen, missing


@contextmanager
def holding_queue(url: str, name: str) -> Iterator[HoldingQueue]:
    """A channel with publisher confirms on `name`; closing it returns every unsettled message."""
    connection = pika.BlockingConnection(connection_parameters(url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        yield HoldingQueue(channel, name)
    except pika.exceptions.ChannelClosedByBroker as exc:
        raise OperatorError(_refusal(exc, name)) from None
    finally:
        if connection.is_open:
            connection.close()


def _refusal(exc: pika.exceptions.ChannelClosedByBroker, queue: str) -> str:
    text = f"{exc.reply_code} {exc.reply_text[:200]}"
    if exc.reply_code == 403 and "rb.inbound" in exc.reply_text:
        return (
            f"the broker refused the replay ({text}): replay runs as the router's user, which may keep "
            "the original sender's user_id; set RB_AMQP_URL to the router's URL"
        )
    if exc.reply_code == 406 and "user_id" in exc.reply_text:
        return (
            f"the broker refused the replay ({text}): only the router's user (the impersonator) may "
            "publish as the original sender; set RB_AMQP_URL to the router's URL"
        )
    if exc.reply_code == 403:
        return (
            f"the broker refused access to {queue} ({text}): use the operator's user that `provision` "
            "creates (referral-operator), or the router's"
        )
    if exc.reply_code == 404:
        return f"{queue} does not exist on this vhost ({text}): run `referral-broker declare` first"
    return f"the broker closed the channel: {text}"
