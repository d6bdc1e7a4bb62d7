"""Publish messages whose AMQP properties are given as raw bytes, as a hostile participant would.

Client libraries only encode what they can represent (a `datetime`, a `str`); RabbitMQ forwards
whatever is well-formed on the wire: short strings that are not UTF-8, table timestamps past year
9999, decimals with any scale, tables nested as deep as the frame allows. This module writes such
frames through py-amqp, replacing only the property list of the content header.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import amqp
from amqp.basic_message import Message as AmqpContent

FieldValue = tuple[str, Any]
"""(AMQP 0-9-1 field type letter as RabbitMQ reads it, value): ('S', bytes), ('T', int),
('D', (scale, int)), ('F', [(key bytes, FieldValue), ...]), ('A', [FieldValue, ...]), ('t', bool),
('b', int), ('s', int), ('I', int), ('l', int), ('f', float), ('d', float), ('x', bytes), ('V', None)."""


def shortstr(value: bytes) -> bytes:
    return bytes([len(value)]) + value


def field_value(value: FieldValue) -> bytes:
    kind, data = value
    body: bytes
    if kind in ("S", "x"):
        body = struct.pack(">I", len(data)) + data
    elif kind == "T":
        body = struct.pack(">Q", data)
    elif kind == "D":
        scale, unscaled = data
        body = struct.pack(">Bi", scale, unscaled)
    elif kind == "F":
        body = table(data)
    elif kind == "A":
        items = b"".join(field_value(v) for v in data)
        body = struct.pack(">I", len(items)) + items
    elif kind == "t":
        body = b"\x01" if data else b"\x00"
    elif kind == "b":
        body = struct.pack(">b", data)
    elif kind == "s":
        body = struct.pack(">h", data)
    elif kind == "I":
        body = struct.pack(">i", data)
    elif kind == "l":
        body = struct.pack(">q", data)
    elif kind == "f":
        body = struct.pack(">f", data)
    elif kind == "d":
        body = struct.pack(">d", data)
    elif kind == "V":
        body = b""
    else:
        raise ValueError(f"field type {kind!r} is not one RabbitMQ accepts")
    return kind.encode() + body


def table(items: Sequence[tuple[bytes, FieldValue]]) -> bytes:
    encoded = b"".join(shortstr(key) + field_value(value) for key, value in items)
    return struct.pack(">I", len(encoded)) + encoded


def property_list(properties: dict[str, bytes]) -> bytes:
    """Flags and property list from each property's already-encoded bytes (see `encode`)."""
    flags = 0
    parts = []
    for bit, (name, _) in zip(range(15, 1, -1), AmqpContent.PROPERTIES, strict=False):
        if name in properties:
            flags |= 1 << bit
            parts.append(properties[name])
    return struct.pack(">H", flags) + b"".join(parts)


def encode(name: str, value: Any) -> bytes:
    """One property's wire bytes: bytes for short strings, a FieldValue list for the headers."""
    kind = dict(AmqpContent.PROPERTIES)[name]
    if kind == "s":
        return shortstr(value)
    if kind == "F":
        return table(value)
    if kind == "o":
        return bytes([value])
    return struct.pack(">Q", value)


class RawMessage(amqp.Message):  # type: ignore[misc]
    """A message whose content header carries exactly the given property bytes."""

    def __init__(self, body: bytes, raw_properties: bytes) -> None:
        super().__init__(body)
        self.raw_properties = raw_properties

    def _serialize_properties(self) -> bytes:
        return self.raw_properties


@dataclass
class RawPublisher:
    """A participant's own connection, publishing raw frames to an exchange with confirms."""

    url: str

    def __post_init__(self) -> None:
        from kombu.utils.url import parse_url

        parts = parse_url(self.url)
        self.connection = amqp.Connection(
            host=f"{parts['hostname']}:{parts['port'] or 5672}",
            userid=parts["userid"],
            password=parts["password"],
            virtual_host=parts["virtual_host"] or "/",
        )
        self.connection.connect()
        self.channel = self.connection.channel()
        self.channel.confirm_select()

    def publish(
        self, exchange: str, body: bytes, properties: dict[str, Any], routing_key: bytes = b""
    ) -> None:
        raw = property_list({name: encode(name, value) for name, value in properties.items()})
        message = RawMessage(body, raw)
        # basic_publish encodes the routing key as a short string; bytes pass through unchanged
        self.channel.basic_publish_confirm(message, exchange=exchange, routing_key=routing_key)

    def close(self) -> None:
        self.connection.close()
