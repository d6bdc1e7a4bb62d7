"""Streamed publisher confirms over one py-amqp channel (the channel kombu's pyamqp transport uses).

Publishing and waiting for each confirm in turn costs a round trip per message. Here many messages
are published back to back, each tagged with a token (for the router: the input it belongs to),
and the broker's acks and nacks, single or `multiple`, are matched to tokens as they stream back:
https://www.rabbitmq.com/docs/confirms#publisher-confirms-latency
"""

from __future__ import annotations

import time
from typing import Any

import amqp
from amqp import spec
from kombu import Connection

from broker.transport.blocking import BlockedWatch
from broker.transport.encode import encode_properties, publish_arguments, publish_frames
from broker.transport.inbound import serve

Token = tuple[int, str]
"""What a confirm is matched back to: (input index in the batch, which output)."""

CONFIRM_TIMEOUT_S = 30.0
"""Longest wait for outstanding confirms before the connection is treated as broken."""


RETURN_SEQUENCE_HEADER = "x-rb-publish-seq"
"""On a `mandatory` publish: its sequence number, so a basic.return (which carries no delivery tag)
is matched to its publish. The broker sends the return before the ack of the same publish."""


WRITE_BYTES = 256 * 1024
"""Publishes are kept and sent in one socket write once this much is kept, and before every wait()."""


class ConfirmTimeout(ConnectionError):
    """The broker did not confirm in time; the caller reconnects and its input is redelivered."""


class ConfirmedPublisher:
    def __init__(self, connection: Connection, channel: Any, watch: BlockedWatch | None = None) -> None:
        self.connection = connection
        self.channel = channel
        self.watch = watch
        """The connection's alarm state: time blocked does not count towards the confirm timeout."""
        self._sequence = 0
        self._outstanding: dict[int, Token] = {}
        self.nacked: set[Token] = set()
        self._returned: set[int] = set()
        self._unsent: list[bytes] = []
        """Frames of publishes not yet written to the socket (flush() writes them)."""
        self._unsent_bytes = 0
        channel.confirm_select()
        channel.events["basic_ack"].add(self._on_ack)
        channel.events["basic_nack"].add(self._on_nack)
        channel.events["basic_return"].add(self._on_return)

    def publish(
        self,
        token: Token,
        body: bytes,
        exchange: str,
        routing_key: str,
        mandatory: bool = False,
        **properties: Any,
    ) -> None:
        """Publish without waiting; the confirm is matched to `token` later by wait(). With
        `mandatory`, a publish no queue took is returned by the broker and counted as nacked."""
        self._sequence += 1
        if mandatory:
            headers = dict(properties.get("application_headers") or {})
            headers[RETURN_SEQUENCE_HEADER] = self._sequence
            properties["application_headers"] = headers
        present = {k: v for k, v in properties.items() if v is not None}
        encoded = encode_properties(present) if isinstance(body, bytes) else None
        connection = self._connection()
        arguments = publish_arguments(exchange, routing_key, mandatory)
        if encoded is None:
            # properties broker/transport/encode.py does not write: py-amqp writes the publish, after
            # the ones kept before it
            self.flush()
            try:
                connection.frame_writer(
                    1, self.channel.channel_id, spec.Basic.Publish, arguments, amqp.Message(body, **present)
                )
            except StopIteration:  # as py-amqp's send_method says it
                raise amqp.RecoverableConnectionError("connection already closed") from None
        else:
            # The frames py-amqp's basic_publish would write, kept and written with the others in
            # one socket write (flush) instead of one write each, and without its poll of the socket
            # before every publish on a connection that negotiated connection.blocked
            # (drain_events(timeout=0)). Nothing is lost by either: wait() writes what is kept, then
            # reads a connection.blocked notification with the confirms.
            frames = publish_frames(self.channel.channel_id, arguments, encoded, body, connection.frame_max)
            self._unsent += frames
            self._unsent_bytes += sum(map(len, frames))
            if self._unsent_bytes >= WRITE_BYTES:
                self.flush()
        self._outstanding[self._sequence] = token

    def _connection(self) -> Any:
        """The channel's py-amqp connection; a closed one is a connection error (reconnect)."""
        connection = self.channel.connection
        if not connection:
            raise amqp.RecoverableConnectionError("basic_publish: connection closed")
        return connection

    def flush(self) -> None:
        """Write the frames of the publishes kept so far, in one socket write."""
        if not self._unsent:
            return
        data = b"".join(self._unsent)
        self._unsent.clear()
        self._unsent_bytes = 0
        connection = self._connection()
        connection.transport.write(data)
        connection.bytes_sent += 1  # what py-amqp's writer counts, so heartbeats see traffic

    def wait(self, timeout_s: float = CONFIRM_TIMEOUT_S) -> set[Token]:
        """Wait until every publish so far is acked or nacked; return the nacked tokens and reset."""
        self.flush()
        deadline = time.monotonic() + timeout_s
        while self._outstanding:
            if self.watch is not None and self.watch.blocked:
                deadline = time.monotonic() + timeout_s  # the broker said why it is silent
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ConfirmTimeout(f"{len(self._outstanding)} publishes unconfirmed after {timeout_s:.0f}s")
            serve(self.connection, min(remaining, 1.0))
        nacked, self.nacked = self.nacked, set()
        return nacked

    @property
    def outstanding(self) -> int:
        return len(self._outstanding)

    def _settle(self, delivery_tag: int, multiple: bool) -> list[tuple[int, Token]]:
        if multiple:
            tags = [t for t in self._outstanding if t <= delivery_tag]
        else:
            tags = [delivery_tag] if delivery_tag in self._outstanding else []
        return [(t, self._outstanding.pop(t)) for t in tags]

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        for tag, token in self._settle(delivery_tag, multiple):
            if tag in self._returned:  # confirmed, but no queue took it
                self._returned.discard(tag)
                self.nacked.add(token)

    def _on_return(self, _error: Any, _exchange: str, _routing_key: str, message: Any) -> None:
        headers = message.properties.get("application_headers") or {}
        sequence = headers.get(RETURN_SEQUENCE_HEADER)
        if isinstance(sequence, int) and sequence in self._outstanding:
            self._returned.add(sequence)

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        for tag, token in self._settle(delivery_tag, multiple):
            self._returned.discard(tag)
            self.nacked.add(token)
