"""broker/transport/encode.py writes the bytes py-amqp's own encoders write, or declines."""

from __future__ import annotations

from typing import Any

import amqp
import pytest
from amqp.method_framing import frame_writer
from amqp.serialization import dumps
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.transport.encode import encode_properties, publish_arguments, publish_frames

SHORT_STRINGS = ["content_type", "content_encoding", "correlation_id", "message_id", "user_id", "type"]

text = st.text(max_size=90)  # any text, CJK and astral characters included
header_values = st.one_of(text, st.integers(min_value=-(2**31) + 1, max_value=2**31 - 1))
properties = st.fixed_dictionaries(
    {},
    optional={
        **{name: st.one_of(st.none(), text) for name in SHORT_STRINGS},
        "delivery_mode": st.one_of(st.none(), st.integers(0, 255)),
        "application_headers": st.dictionaries(st.text(max_size=40), header_values, max_size=8),
    },
)


def amqp_bytes(props: dict[str, Any]) -> bytes:
    present = {k: v for k, v in props.items() if v is not None}
    encoded: bytes = amqp.Message(b"", **present)._serialize_properties()
    return encoded


@settings(max_examples=400, deadline=None)
@given(properties, st.randoms())
def test_properties_are_encoded_as_py_amqp_encodes_them(props: dict[str, Any], rnd: Any) -> None:
    items = list(props.items())
    rnd.shuffle(items)  # the order of the dict does not matter: py-amqp's property order is kept
    assert encode_properties(dict(items)) == amqp_bytes(props)


def test_the_router_copys_properties_as_py_amqp() -> None:
    props = {
        "content_type": "application/json",
        "content_encoding": "utf-8",
        "delivery_mode": 2,
        "message_id": "0b0c5b55-2e0f-4d59-9d39-4d3c4b8a1f5e",
        "user_id": "bureau-330681",
        "correlation_id": None,
        "application_headers": {"x-sender": "bureau:330681", "x-rule": "vertical", "x-rb-publish-seq": 7},
    }
    assert encode_properties(props) == amqp_bytes(props)


@pytest.mark.parametrize(
    "props",
    [
        {"timestamp": 1_700_000_000},
        {"application_headers": {"nested": {"a": 1}}},
        {"application_headers": {"flag": True}},
        {"application_headers": {"ratio": 0.5}},
        {"application_headers": {"big": 2**40}},
        {"application_headers": {"nothing": None}},
        {"message_id": "x" * 256},
        {"message_id": b"bytes"},
        {"delivery_mode": 256},
        {"unknown_property": "x"},
    ],
)
def test_anything_else_is_left_to_py_amqp(props: dict[str, Any]) -> None:
    assert encode_properties(props) is None


@given(st.text(max_size=60), st.text(max_size=60), st.booleans())
def test_publish_arguments_are_py_amqps(exchange: str, routing_key: str, mandatory: bool) -> None:
    assert publish_arguments(exchange, routing_key, mandatory) == dumps(
        "Bssbb", (0, exchange, routing_key, mandatory, False)
    )


class _Wire:
    """What py-amqp's frame writer needs of a connection and a transport: frame_max, a sent count,
    and a write that keeps the bytes."""

    def __init__(self, frame_max: int) -> None:
        self.frame_max = frame_max
        self.bytes_sent = 0
        self.written = bytearray()

    def write(self, data: Any) -> None:
        self.written += bytes(data)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 2047),
    st.binary(max_size=9000),
    properties,
    st.sampled_from([4096, 4104, 131072]),
    st.text(max_size=30),
)
def test_publish_frames_are_the_frames_py_amqp_writes(
    channel: int, body: bytes, props: dict[str, Any], frame_max: int, routing_key: str
) -> None:
    """One frame or many (a body over frame_max - 8 bytes is split), an empty body (no body frame)."""
    encoded = encode_properties(props)
    assert encoded is not None
    arguments = publish_arguments("rb.deliver", routing_key, False)
    wire = _Wire(frame_max)
    present = {k: v for k, v in props.items() if v is not None}
    frame_writer(wire, wire)(1, channel, amqp.spec.Basic.Publish, arguments, amqp.Message(body, **present))
    assert b"".join(publish_frames(channel, arguments, encoded, body, frame_max)) == bytes(wire.written)
