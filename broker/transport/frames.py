"""Read frames whose values a participant chose without letting any of them stop a worker.

py-amqp decodes a delivery's method arguments and content header eagerly, inside
`Connection.drain_events`: an AMQP short string that is not UTF-8 (a `message_id` of b"\\xff\\xfe", a
routing key), a table timestamp past year 9999, or tables nested deeper than Python's recursion
limit raise there, before the worker sees a message, and the whole prefetch window is handed back.
RabbitMQ passes such values through unchanged, so any participant can send them.

`tolerant_frame_handler` wraps py-amqp's own frame handler (passed to `amqp.Connection` through
kombu's `transport_options`). It checks each content-bearing method frame and content header with
py-amqp's own decoders first; only when one of them fails does it rewrite the frame: the offending
short strings become empty, the offending properties are dropped, and the application headers are
replaced by one header, TRANSPORT_FAULT_HEADER, listing what was dropped and why. The worker then
quarantines the message (stage `transport`) instead of crashing on it. Well-formed frames are
passed through untouched.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from amqp import spec
from amqp.basic_message import Message as AmqpContent
from amqp.method_framing import frame_handler
from amqp.serialization import decode_properties_basic, dumps, loads

TRANSPORT_FAULT_HEADER = "x-rb-transport-fault"
"""Set by the frame handler only: `property:problem` pairs, comma-separated, from FAULT_NAMES and
PROBLEMS. A participant that sets it itself only gets its own message quarantined."""

PROBLEMS = {
    "utf8": "is not valid UTF-8",
    "range": "holds a value out of range (a timestamp or number no client can represent)",
    "depth": "is nested too deeply",
    "malformed": "cannot be decoded",
}
"""What can be wrong with a property, in words that hold none of its value."""

_CONTENT_METHOD_ARGS: dict[tuple[int, int], tuple[tuple[str, str], ...]] = {
    spec.Basic.Deliver: (
        ("consumer_tag", "s"),
        ("delivery_tag", "L"),
        ("redelivered", "b"),
        ("exchange", "s"),
        ("routing_key", "s"),
    ),
    spec.Basic.GetOk: (
        ("delivery_tag", "L"),
        ("redelivered", "b"),
        ("exchange", "s"),
        ("routing_key", "s"),
        ("message_count", "l"),
    ),
    spec.Basic.Return: (("reply_code", "B"), ("reply_text", "s"), ("exchange", "s"), ("routing_key", "s")),
}
"""Arguments of the methods that carry a message; their short strings may come from a publisher."""

_FIXED_SIZE = {"o": 1, "b": 1, "B": 2, "l": 4, "L": 8}

FAULT_NAMES = frozenset(
    [name for name, _ in AmqpContent.PROPERTIES]
    + [name for args in _CONTENT_METHOD_ARGS.values() for name, _ in args]
    + ["properties"]
)
"""Every name a fault may carry: the basic properties, the method arguments, or `properties` when
the property list itself is broken."""

_HEADER_PREFIX = 12
"""class id (2), weight (2) and body size (8) precede the property flags in a content header."""
_HEADERS_FLAG = 1 << (15 - [name for name, _ in AmqpContent.PROPERTIES].index("application_headers"))

Fault = tuple[str, str]
"""(property or argument name, problem key in PROBLEMS)"""


def problem_of(error: BaseException) -> str:
    if isinstance(error, UnicodeError):
        return "utf8"
    if isinstance(error, RecursionError):
        return "depth"
    if isinstance(error, OverflowError | ValueError | OSError):
        return "range"
    return "malformed"


def tolerant_frame_handler(
    connection: Any, callback: Callable[..., Any], **kwargs: Any
) -> Callable[..., Any]:
    """A drop-in for py-amqp's `frame_handler` that never raises on a value a publisher chose."""
    inner = frame_handler(connection, callback, **kwargs)
    method_faults: dict[int, list[Fault]] = {}

    def on_frame(frame: tuple[int, int, Any]) -> Any:
        frame_type, channel, buf = frame
        if frame_type == 1:
            buf, faults = safe_method_frame(buf)
            if faults:
                method_faults[channel] = faults
            else:
                method_faults.pop(channel, None)
        elif frame_type == 2:
            buf = safe_content_header(buf, method_faults.pop(channel, []))
        return inner((frame_type, channel, buf))

    return on_frame


def safe_method_frame(buf: Any) -> tuple[Any, list[Fault]]:
    """The method frame as is, or, for a message-carrying method whose short strings do not decode,
    the frame with those strings emptied and the faults found."""
    if len(buf) < 4:
        return buf, []
    args = _CONTENT_METHOD_ARGS.get(struct.unpack_from(">HH", buf, 0))
    if args is None:
        return buf, []
    try:
        loads("".join(kind for _, kind in args), buf, 4)
        return buf, []
    except Exception:  # any value the decoder cannot take is rewritten below
        pass
    raw = bytes(buf)
    out, faults, offset = [raw[:4]], [], 4
    for name, kind in args:
        if kind == "s":
            end = offset + 1 + raw[offset]
            try:
                raw[offset + 1 : end].decode("utf-8")
                out.append(raw[offset:end])
            except UnicodeDecodeError:
                out.append(b"\x00")
                faults.append((name, "utf8"))
        else:
            end = offset + _FIXED_SIZE[kind]
            out.append(raw[offset:end])
        offset = end
    out.append(raw[offset:])
    return b"".join(out), faults


def safe_content_header(buf: Any, faults: list[Fault]) -> Any:
    """The content header as is, or rewritten without the properties that do not decode and with
    TRANSPORT_FAULT_HEADER naming them (and any faults of the method frame before it)."""
    if not faults:
        try:
            decode_properties_basic(buf, _HEADER_PREFIX)
            return buf
        except Exception:  # rewritten below
            pass
    raw = bytes(buf)
    kept, found = _decodable_properties(raw)
    faults = [*faults, *found]
    kept["application_headers"] = dumps("F", [{TRANSPORT_FAULT_HEADER: format_faults(faults)}])
    flags = 0
    parts = []
    for bit, (name, _) in zip(range(15, 1, -1), AmqpContent.PROPERTIES, strict=False):
        if name in kept:
            flags |= 1 << bit
            parts.append(kept[name])
    assert flags & _HEADERS_FLAG
    return raw[:_HEADER_PREFIX] + struct.pack(">H", flags) + b"".join(parts)


def _decodable_properties(raw: bytes) -> tuple[dict[str, bytes], list[Fault]]:
    """Each property's encoded bytes that py-amqp decodes on their own, and a fault for each that
    it does not. A property list that cannot even be walked yields nothing but that fault."""
    kept: dict[str, bytes] = {}
    faults: list[Fault] = []
    try:
        (flags,) = struct.unpack_from(">H", raw, _HEADER_PREFIX)
        offset = _HEADER_PREFIX + 2
        if flags & 1:
            raise ValueError("continued property flags are not used by the basic class")
        for bit, (name, kind) in zip(range(15, 1, -1), AmqpContent.PROPERTIES, strict=False):
            if not flags & (1 << bit):
                continue
            if kind == "s":
                end = offset + 1 + raw[offset]
            elif kind == "F":
                end = offset + 4 + struct.unpack_from(">I", raw, offset)[0]
            else:
                end = offset + _FIXED_SIZE[kind]
            if end > len(raw):
                raise ValueError("property list shorter than its flags say")
            encoded = raw[offset:end]
            offset = end
            try:
                loads(kind, encoded, 0)
            except Exception as error:  # the value, not the frame: drop this property only
                faults.append((name, problem_of(error)))
                continue
            kept[name] = encoded
    except (struct.error, IndexError, ValueError):
        return {}, [*faults, ("properties", "malformed")]
    return kept, faults


def format_faults(faults: list[Fault]) -> str:
    return ",".join(f"{name}:{problem}" for name, problem in faults)


def parse_faults(value: object) -> list[Fault] | None:
    """The faults in a TRANSPORT_FAULT_HEADER value, or None when the value is not one the frame
    handler writes (a participant set the header itself)."""
    if not isinstance(value, str):
        return None
    faults: list[Fault] = []
    for item in value.split(","):
        name, _, problem = item.partition(":")
        if name not in FAULT_NAMES or problem not in PROBLEMS:
            return None
        faults.append((name, problem))
    return faults or None
