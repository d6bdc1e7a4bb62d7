"""The thin client that bureau, department and police systems embed (pika, blocking).

    client = ParticipantClient(url, "bureau:330681")
    notice = new_message(Kind.CASE_NOTICE, "bureau:330681", ["bureau:330600"], "CASE-1", body, case=facts)
    client.publish(notice)
    client.consume(lambda message, meta: print(message.envelope.kind))   # manual acks, duplicates dropped
    client.reply(original, Kind.RECEIPT_ACK, {"summary": "received"})

Every publish waits for the broker's confirm and sets the validated user_id, so the router can prove
who sent it. A system in another language does the same three things; see schemas/asyncapi.yaml.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential

from broker.domain.address import Address
from broker.domain.messages import SCHEMA_VERSION, Kind, Message
from broker.domain.validation import validate_message
from broker.transport import topology

SEEN_WINDOW = 100_000
"""Message ids a consumer remembers to drop duplicates (at-least-once delivery can repeat one)."""


class PublishRefused(RuntimeError):
    """The broker did not confirm the message (nacked or unroutable); it was not accepted."""


def new_message(
    kind: Kind,
    sender: str,
    to: list[str],
    case_id: str,
    body: dict[str, Any],
    **envelope: Any,
) -> Message:
    """Build and validate a message with a fresh id and the current time."""
    data = {
        "envelope": {
            "message_id": str(uuid4()),
            "kind": kind.value,
            "schema_version": SCHEMA_VERSION,
            "sender": sender,
            "to": to,
            "case_id": case_id,
            "sent_at": datetime.now(UTC).isoformat(),
            **{k: v for k, v in envelope.items() if v is not None},
        },
        "body": body,
    }
    return validate_message(_jsonable(data))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, UUID):
        return str(value)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", exclude_none=True)
    return value


@dataclass(frozen=True)
class Delivered:
    """Transport facts about a message taken from the inbox."""

    sender_user: str | None
    """The validated user_id of the original sender (set by RabbitMQ, kept by the router)."""
    rule: str | None
    redelivered: bool


class ParticipantClient:
    def __init__(self, url: str, address: str | Address, connect_timeout_s: float = 30.0) -> None:
        self.address = address if isinstance(address, Address) else Address.parse(address)
        self.parameters = pika.URLParameters(url)
        self.username = self.parameters.credentials.username
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._connect_timeout_s = connect_timeout_s
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None

    def _open(self) -> BlockingChannel:
        if self._channel is not None and self._channel.is_open:
            return self._channel
        for attempt in Retrying(
            retry=retry_if_exception_type(pika.exceptions.AMQPConnectionError),
            wait=wait_exponential(multiplier=0.2, max=5),
            stop=stop_after_delay(self._connect_timeout_s),
            reraise=True,
        ):
            with attempt:
                self._connection = pika.BlockingConnection(self.parameters)
        assert self._connection is not None
        self._channel = self._connection.channel()
        self._channel.confirm_delivery()
        return self._channel

    def close(self) -> None:
        if self._connection is not None and self._connection.is_open:
            self._connection.close()
        self._connection = self._channel = None

    def __enter__(self) -> ParticipantClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def inbox(self) -> str:
        return topology.inbox_name(self.address)

    def publish(self, message: Message | bytes, message_id: str | None = None) -> None:
        """Publish to rb.inbound and wait for the broker's confirm. Raises PublishRefused."""
        if isinstance(message, Message):
            body = message.model_dump_json(exclude_none=True).encode("utf-8")
            message_id = str(message.envelope.message_id)
        else:
            body = message
        properties = pika.BasicProperties(
            content_type="application/json",
            content_encoding="utf-8",
            delivery_mode=pika.DeliveryMode.Persistent,
            message_id=message_id,
            user_id=self.username,
        )
        channel = self._open()
        try:
            channel.basic_publish(topology.INBOUND_EXCHANGE, "", body, properties, mandatory=True)
        except (pika.exceptions.NackError, pika.exceptions.UnroutableError) as exc:
            raise PublishRefused(
                f"broker did not accept message {message_id}: {type(exc).__name__}"
            ) from None

    def reply(self, original: Message, kind: Kind, body: dict[str, Any], **envelope: Any) -> Message:
        """Answer a message: same case, in_reply_to set; the router sends it back to the original sender."""
        message = new_message(
            kind,
            str(self.address),
            [],
            original.envelope.case_id,
            body,
            in_reply_to=original.envelope.message_id,
            **envelope,
        )
        self.publish(message)
        return message

    def consume(
        self,
        handler: Callable[[Message, Delivered], None],
        max_messages: int | None = None,
        idle_timeout_s: float | None = None,
        prefetch: int = 32,
    ) -> int:
        """Handle messages from this participant's inbox, acking each after handler returns.

        A handler that raises gets the message back later (requeued; after the queue's delivery
        limit it is dead-lettered). Duplicates (same message id) are acked without calling handler.
        Returns the number of messages handled; stops after max_messages or idle_timeout_s of quiet.
        """
        channel = self._open()
        channel.basic_qos(prefetch_count=prefetch)
        handled = 0
        for method, props, raw in channel.consume(
            self.inbox, auto_ack=False, inactivity_timeout=idle_timeout_s
        ):
            if method is None:
                break
            message_id = props.message_id or ""
            if message_id in self._seen:
                channel.basic_ack(method.delivery_tag)
                continue
            try:
                message = validate_message(_loads(raw))
                handler(
                    message,
                    Delivered(props.user_id, (props.headers or {}).get("x-rule"), bool(method.redelivered)),
                )
            except Exception:
                channel.basic_nack(method.delivery_tag, requeue=True)
                time.sleep(0.1)
                raise
            channel.basic_ack(method.delivery_tag)
            self._remember(message_id)
            handled += 1
            if max_messages is not None and handled >= max_messages:
                break
        channel.cancel()
        return handled

    def _remember(self, message_id: str) -> None:
        self._seen[message_id] = None
        if len(self._seen) > SEEN_WINDOW:
            self._seen.popitem(last=False)


def _loads(raw: bytes) -> Any:
    import json

    return json.loads(raw)
