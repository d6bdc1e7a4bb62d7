"""The thin client that bureau, department and police systems embed (pika, blocking).

    client = ParticipantClient(url, "bureau:330681")
    notice = new_message(Kind.CASE_NOTICE, "bureau:330681", ["bureau:330600"], "CASE-1", body, case=facts)
    client.publish(notice)
    client.consume(lambda message, meta: print(message.envelope.kind))   # manual acks, duplicates dropped
    client.reply(original, Kind.RECEIPT_ACK, {"summary": "received"})

Every publish waits for the broker's confirm and sets the validated user_id, so the router can prove
who sent it. A system in another language does the same three things; see schemas/asyncapi.yaml.

`url` may list several broker addresses (the nodes of a cluster, separated by commas or semicolons,
as RB_AMQP_URL in broker/settings.py): the client connects to the first live one, and a publish
whose connection is lost, refused or blocked reconnects and sends again, to any node, until it is
confirmed or `connect_timeout_s` has passed. The client raises only the exceptions below
(BrokerError and its subclasses), never pika's own.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel
from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_exponential

from broker.domain.address import Address

# re-exported for callers that still import it from here; it lives in the pure domain
from broker.domain.factory import new_message as new_message
from broker.domain.messages import Kind, Message
from broker.domain.validation import validate_message
from broker.sealing.participant import Sealing
from broker.settings import TlsSettings, broker_addresses
from broker.transport import shard_key, topology
from broker.transport import tls as tls_options

SEEN_WINDOW = 100_000
"""Message ids a consumer remembers to drop duplicates (at-least-once delivery can repeat one)."""


BLOCKED_TIMEOUT_S = 30.0
"""A connection the broker blocks (memory or disk alarm) longer than this is dropped, so a publish
fails over, and in the end raises BrokerUnavailable, instead of hanging for the whole alarm. An
address's own `blocked_connection_timeout` URL parameter takes precedence."""


CONFIRM_TIMEOUT_S = 10.0
"""Longest wait for the broker's confirm of one publish attempt (less when the publish's whole
budget, connect_timeout_s, ends sooner). A connection the broker keeps open but never confirms on
(a quorum queue whose leader died while the publish was in flight can stay silent well past its
election) is dropped after it, and the message sent again on a new connection, with the same id."""


class BrokerError(Exception):
    """Base of every error the client raises about the broker (contract errors are ContractError)."""


class BrokerUnavailable(BrokerError, ConnectionError):
    """No broker address accepted a connection, or the connection was lost or stayed blocked (alarm)
    and no node took the message within the client's timeout. The message may or may not have
    arrived: send it again later with the same message id; the router drops repeats."""


class NotAuthorised(BrokerError):
    """The broker refused this user: wrong name or password, no access to the vhost, an operation
    outside its permissions (403) or a user_id that is not its own (406). Retrying will not help."""


class PublishRefused(BrokerError):
    """The broker did not confirm the message (nacked, e.g. a queue at its limit, or unroutable)
    within the client's timeout; it was not accepted."""


def _as_broker_error(error: BaseException) -> BrokerError:
    """pika's exception (or a socket error) as one of ours, with a message that names no secret."""
    what = type(error).__name__
    if isinstance(error, BrokerError):
        return error
    reason = tls_options.verification_failure(error)
    if reason is not None:
        return BrokerUnavailable(
            f"TLS verification of the broker's certificate failed ({reason}): check RB_TLS_CA_FILE "
            "(the CA that signs the broker's certificate) and that the address names a host the "
            "certificate carries (or RB_TLS_SERVER_NAME)"
        )
    if isinstance(
        error,
        pika.exceptions.ProbableAuthenticationError
        | pika.exceptions.ProbableAccessDeniedError
        | pika.exceptions.AuthenticationError,
    ):
        return NotAuthorised(f"the broker refused the login ({what}: {str(error)[:200]})")
    if isinstance(error, pika.exceptions.ChannelClosedByBroker | pika.exceptions.ConnectionClosedByBroker):
        reason = f"{error.reply_code} {error.reply_text[:200]}"
        if error.reply_code in (403, 406):
            return NotAuthorised(f"the broker refused the operation: {reason}")
        if isinstance(error, pika.exceptions.ConnectionClosedByBroker):
            return BrokerUnavailable(f"the broker closed the connection: {reason}")
        return BrokerError(f"the broker closed the channel: {reason}")
    if isinstance(error, pika.exceptions.NackError | pika.exceptions.UnroutableError):
        return PublishRefused(f"the broker did not accept the message ({what})")
    if isinstance(
        error,
        pika.exceptions.AMQPConnectionError
        | pika.exceptions.ConnectionWrongStateError
        | pika.exceptions.ChannelWrongStateError
        | pika.exceptions.StreamLostError
        | OSError,
    ):
        return BrokerUnavailable(f"no connection to the broker ({what})")
    return BrokerError(f"broker error ({what})")


def _worth_retrying(error: BaseException) -> bool:
    """Lost, refused or blocked connections and nacks (a quorum queue electing a new leader nacks
    for a few seconds) are retried; what the broker refuses for good is not."""
    if isinstance(error, pika.exceptions.UnroutableError):
        return False
    if tls_options.verification_failure(error) is not None:
        return False  # an untrusted certificate stays untrusted
    return isinstance(_as_broker_error(error), BrokerUnavailable | PublishRefused)


class ConfirmNotReceived(BrokerUnavailable):
    """The broker did not confirm a publish within its deadline; the connection was dropped, and the
    publish is tried again on a new one while its budget lasts."""


@contextlib.contextmanager
def _confirm_deadline(connection: pika.BlockingConnection, seconds: float) -> Iterator[None]:
    """Drop the connection when a publish inside is not confirmed within `seconds`.

    pika's blocking channel waits for a confirm with no limit of its own, and its timers run only in
    process_data_events. This arms a timer on the connection's I/O loop, which the wait for the
    confirm does run, and ends the stream from it with ConfirmNotReceived: the mechanism pika's own
    blocked_connection_timeout uses (Connection._on_blocked_connection_timeout)."""
    impl = connection._impl
    timer = impl._adapter_call_later(
        seconds,
        lambda: impl._terminate_stream(ConfirmNotReceived(f"no confirm within {seconds:.1f} s")),
    )
    try:
        yield
    finally:
        impl._adapter_remove_timeout(timer)


def connection_parameters(url: str, tls: TlsSettings | None = None) -> list[pika.URLParameters]:
    """pika's parameters for each address in `url`, in order; pika tries them one after another.
    amqps:// addresses get TLS with verification and, with a client certificate and no password,
    certificate login (`tls` defaults to the environment's RB_TLS_*, see broker/settings.py)."""
    tls = TlsSettings() if tls is None else tls
    addresses = broker_addresses(url, "url")
    tls.check(addresses, "url")
    parameters = []
    for address in addresses:
        each = tls_options.pika_parameters(address, tls)
        if each.blocked_connection_timeout is None:
            each.blocked_connection_timeout = BLOCKED_TIMEOUT_S
        parameters.append(each)
    return parameters


@dataclass(frozen=True)
class Delivered:
    """Transport facts about a message taken from the inbox."""

    sender_user: str | None
    """The validated user_id of the original sender (set by RabbitMQ, kept by the router)."""
    rule: str | None
    redelivered: bool


class ParticipantClient:
    """A participant's connection. `connect_timeout_s`: how long connecting, and each publish with
    its reconnects, failovers and resends, may take before BrokerUnavailable or PublishRefused."""

    def __init__(
        self,
        url: str,
        address: str | Address,
        connect_timeout_s: float = 30.0,
        inbox: str | None = None,
        tls: TlsSettings | None = None,
        sealing: Sealing | None = None,
    ) -> None:
        """`sealing`: the participant's suite, key ring and key directory (broker/sealing/participant.py):
        each message published is sealed and signed, each sealed one delivered opened and verified."""
        self.sealing = sealing
        self.address = address if isinstance(address, Address) else Address.parse(address)
        self._inbox = inbox
        tls = TlsSettings() if tls is None else tls
        self.parameters = connection_parameters(url, tls)
        self.username = tls_options.login_user(url, tls)
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._connect_timeout_s = connect_timeout_s
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None

    def _retrying(self) -> Retrying:
        return Retrying(
            retry=retry_if_exception(_worth_retrying),
            wait=wait_exponential(multiplier=0.2, max=5),
            stop=stop_after_delay(self._connect_timeout_s),
            before_sleep=lambda _: self._drop(),
            reraise=True,
        )

    def _open(self) -> BlockingChannel:
        try:
            for attempt in self._retrying():
                with attempt:
                    return self._open_once()
        except Exception as exc:
            raise _as_broker_error(exc) from None
        raise AssertionError("unreachable")  # pragma: no cover - Retrying reraises

    def _open_once(self) -> BlockingChannel:
        if self._channel is not None and self._channel.is_open:
            return self._channel
        self._drop()
        self._connection = pika.BlockingConnection(self.parameters)  # the first live address
        self._channel = self._connection.channel()
        self._channel.confirm_delivery()
        return self._channel

    def _drop(self) -> None:
        """Forget a connection that failed, closing it if it still can be."""
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            with contextlib.suppress(Exception):  # already broken; nothing to hand back
                connection.close()

    def close(self) -> None:
        self._drop()

    def __enter__(self) -> ParticipantClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @classmethod
    def from_credentials(
        cls, broker_url: str, address: str | Address, credentials_file: str, **options: Any
    ) -> ParticipantClient:
        """A client for the participant's entry in the credentials file provision wrote (mode 600):
        its password and its inbox. broker_url names the broker without a user, e.g. amqp://host:5672/vh.
        With a client certificate (`tls=` or RB_TLS_CERT_FILE) it logs in with the certificate and
        takes only the user and the inbox from the file."""
        from broker import credentials
        from broker.settings import Settings

        address = address if isinstance(address, Address) else Address.parse(address)
        tls = options.pop("tls", None) or TlsSettings()
        entries = credentials.load_file(credentials_file)
        user = next((u for u, e in entries.items() if e.get("address") == str(address)), None)
        password = None if tls.cert_file or user is None else entries[user].get("password")
        if user is None or not (password or tls.cert_file):
            wanted = "no entry" if tls.cert_file else "no entry with a password"
            raise credentials.CredentialsError(f"{credentials_file}: {wanted} for {address}")
        url = Settings(amqp_url=broker_url, tls=tls).amqp_url_for(user, password)
        return cls(url, address, inbox=entries[user].get("inbox"), tls=tls, **options)

    @property
    def inbox(self) -> str:
        """The inbox's name, as provision handed it over: it carries a token nobody else can compute."""
        if not self._inbox:
            raise ValueError(
                f"inbox: not known for {self.address}; pass inbox= (the `inbox` of this participant's "
                "entry in the credentials file provision wrote) or use ParticipantClient.from_credentials"
            )
        return self._inbox

    def publish(self, message: Message | bytes, message_id: str | None = None) -> None:
        """Publish to rb.inbound and wait for the broker's confirm, reconnecting (to any configured
        address) and sending again while the connection fails or the broker nacks, for up to
        connect_timeout_s. Raises PublishRefused, BrokerUnavailable or NotAuthorised."""
        if isinstance(message, Message):
            sealing = self.sealing
            body = sealing.wire(message) if sealing else message.model_dump_json(exclude_none=True).encode()
            message_id = str(message.envelope.message_id)
            key = shard_key.of_case(message.envelope.case_id)
        else:
            body, key = message, shard_key.of_body(message)
        properties = pika.BasicProperties(
            content_type="application/json",
            content_encoding="utf-8",
            delivery_mode=pika.DeliveryMode.Persistent,
            message_id=message_id,
            user_id=self.username,
        )
        ends = time.monotonic() + self._connect_timeout_s
        try:
            for attempt in self._retrying():
                with attempt:
                    channel = self._open_once()
                    assert self._connection is not None
                    with _confirm_deadline(
                        self._connection, max(1.0, min(CONFIRM_TIMEOUT_S, ends - time.monotonic()))
                    ):
                        channel.basic_publish(
                            topology.INBOUND_EXCHANGE, key, body, properties, mandatory=True
                        )
        except Exception as exc:
            error = _as_broker_error(exc)
            raise type(error)(f"message {message_id}: {error}") from None

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
        A lost connection raises BrokerUnavailable: call consume again (it reconnects, to any
        configured address); unacked messages come back and those already handled are dropped.
        """
        try:
            return self._consume(handler, max_messages, idle_timeout_s, prefetch)
        except _HandlerFailed as failed:
            raise failed.error from None
        except Exception as exc:
            self._drop()
            raise _as_broker_error(exc) from None

    def _consume(
        self,
        handler: Callable[[Message, Delivered], None],
        max_messages: int | None,
        idle_timeout_s: float | None,
        prefetch: int,
    ) -> int:
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
                rule = (props.headers or {}).get("x-rule")
                data = json.loads(raw)
                message = validate_message(data) if self.sealing is None else self.sealing.take(data, rule)
                handler(message, Delivered(props.user_id, rule, bool(method.redelivered)))
            except Exception as exc:
                channel.basic_nack(method.delivery_tag, requeue=True)
                time.sleep(0.1)
                raise _HandlerFailed(exc) from exc
            self._remember(message_id)  # before the ack: if the ack is lost, the redelivery is dropped
            channel.basic_ack(method.delivery_tag)
            handled += 1
            if max_messages is not None and handled >= max_messages:
                break
        channel.cancel()
        return handled

    def _remember(self, message_id: str) -> None:
        self._seen[message_id] = None
        if len(self._seen) > SEEN_WINDOW:
            self._seen.popitem(last=False)


class _HandlerFailed(Exception):
    """Carries the handler's own exception past the translation of broker errors."""

    def __init__(self, error: Exception) -> None:
        self.error = error
