"""The frames of a publish, encoded as py-amqp encodes them, with less Python per message.

py-amqp serializes a message's properties through its general `dumps` (a loop over every property,
a BytesIO per table, a `struct.pack` per item) and the method's arguments the same way for every
publish: about a third of the router's CPU per publish. The router publishes only short strings,
the delivery mode and flat header tables of strings and integers, to a few thousand routing keys,
so:

- `encode_properties` writes exactly the bytes py-amqp's `Message._serialize_properties` writes
  (property flags, then the values in py-amqp's property order) for properties of those types, and
  returns None for anything else (a timestamp, a nested table, a float, a text too long for a short
  string), which the caller then hands to py-amqp unchanged: its errors stay its own;
- `publish_arguments` keeps the encoded arguments of basic.publish for each (exchange, routing key,
  mandatory), encoded by py-amqp's own `dumps`;
- `publish_frames` gives the method, header and body frames py-amqp's frame writer sends for such a
  publish, as parts, so that a publisher can send many publishes in one socket write.

tests/unit/test_transport_encode.py checks all three against py-amqp's encoders byte for byte.
"""

from __future__ import annotations

import struct
from functools import lru_cache
from typing import Any

from amqp.basic_message import Message as AmqpMessage
from amqp.serialization import dumps

_FLAG = {name: 1 << (15 - position) for position, (name, _) in enumerate(AmqpMessage.PROPERTIES)}
_KIND = dict(AmqpMessage.PROPERTIES)
_ORDER = {name: position for position, (name, _) in enumerate(AmqpMessage.PROPERTIES)}
_INT32 = 2147483647
"""py-amqp writes an int header value as a signed 32-bit `I` within ±_INT32, else as 64-bit `L`."""

_pack_short = struct.Struct(">H").pack
_pack_long = struct.Struct(">I").pack
_pack_int = struct.Struct(">i").pack


def _shortstr(value: Any) -> bytes | None:
    if not isinstance(value, str):
        return None
    encoded = value.encode("utf-8", "surrogatepass")
    return bytes((len(encoded),)) + encoded if len(encoded) <= 255 else None


def _table(headers: Any) -> bytes | None:
    if not isinstance(headers, dict):
        return None
    parts: list[bytes] = []
    for key, value in headers.items():
        name = _shortstr(key)
        if name is None:
            return None
        parts.append(name)
        if isinstance(value, str):
            text = value.encode("utf-8", "surrogatepass")
            parts += (b"S", _pack_long(len(text)), text)
        elif type(value) is int and -_INT32 <= value <= _INT32:  # not bool: py-amqp writes `t`
            parts += (b"I", _pack_int(value))
        else:
            return None
    data = b"".join(parts)
    return _pack_long(len(data)) + data


def encode_properties(properties: dict[str, Any]) -> bytes | None:
    """The property flags and list py-amqp writes for `properties` (None values left out), or None
    when one of them is of a type this does not encode."""
    flags = 0
    values: list[tuple[int, bytes]] = []
    for name, value in properties.items():
        if value is None:
            continue
        kind = _KIND.get(name)
        if kind == "s":
            encoded = _shortstr(value)
        elif kind == "o":
            encoded = bytes((value,)) if type(value) is int and 0 <= value <= 255 else None
        elif kind == "F":
            encoded = _table(value)
        else:
            return None  # a timestamp, or a name py-amqp does not know
        if encoded is None:
            return None
        flags |= _FLAG[name]
        values.append((_ORDER[name], encoded))
    values.sort()
    return _pack_short(flags) + b"".join(encoded for _, encoded in values)


@lru_cache(maxsize=16384)
def publish_arguments(exchange: str, routing_key: str, mandatory: bool) -> bytes:
    """basic.publish's arguments (ticket, exchange, routing key, mandatory, immediate), encoded."""
    encoded: bytes = dumps("Bssbb", (0, exchange, routing_key, mandatory, False))
    return encoded


_BASIC_PUBLISH = struct.pack(">HH", 60, 40)
_FRAME_HEAD = struct.Struct(">BHI").pack
_CONTENT_HEADER = struct.Struct(">HHQ").pack
_FRAME_END = b"\xce"


def publish_frames(
    channel: int, arguments: bytes, properties: bytes, body: bytes, frame_max: int
) -> list[bytes]:
    """The frames of a basic.publish, as py-amqp's frame writer writes them: the method, the content
    header (class 60, the body's size, the encoded properties), the body in frames of at most
    frame_max - 8 bytes (none for an empty body). Parts to join, not yet one buffer."""
    method = _BASIC_PUBLISH + arguments
    header = _CONTENT_HEADER(60, 0, len(body)) + properties
    parts = [_FRAME_HEAD(1, channel, len(method)), method, _FRAME_END]
    parts += (_FRAME_HEAD(2, channel, len(header)), header, _FRAME_END)
    chunk = frame_max - 8
    for start in range(0, len(body), chunk):
        piece = body[start : start + chunk]
        parts += (_FRAME_HEAD(3, channel, len(piece)), piece, _FRAME_END)
    return parts
