"""A consuming connection reads the broker's frames in blocks (broker/transport/readahead.py) and
still hands over every delivery byte for byte: bodies of no bytes, of one, around the block's size,
and past the frame size (a body in several frames), then a wait that times out with nothing to
read, then more."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from amqp import Message as AmqpMessage
from kombu import Connection

from broker.settings import Settings
from broker.transport.inbound import TRANSPORT_OPTIONS, Delivery, consume, serve
from broker.transport.management import scratch_vhost
from broker.transport.readahead import READ_AHEAD_BYTES
from tests.support.waiting import wait_for

pytestmark = pytest.mark.rabbitmq

EDGES = [0, 1, 700, READ_AHEAD_BYTES - 9, READ_AHEAD_BYTES, READ_AHEAD_BYTES + 1, 300_000]
"""Body sizes; 300,000 bytes cross py-amqp's frame size (131,072) twice."""


def _bodies(sizes: list[int], mark: int) -> list[bytes]:
    return [bytes((mark + i + j) % 251 for j in range(size)) for i, size in enumerate(sizes)]


def _publish(url: str, queue: str, bodies: list[bytes]) -> None:
    with Connection(url) as conn:
        channel = conn.channel()
        channel.confirm_select()
        for body in bodies:
            channel.basic_publish(AmqpMessage(body), "", queue)


def _counting_reads(transport: Any) -> list[tuple[int, int]]:
    """From now on, each read of the transport's reader: the bytes it needed, the bytes it got."""
    asked: list[tuple[int, int]] = []
    receive: Callable[[int], bytes] = transport._quick_recv

    def counted(size: int) -> bytes:
        data = receive(size)
        asked.append((size, len(data)))
        return data

    transport._quick_recv = counted
    return asked


def _served_until(conn: Any, got: list[Delivery], count: int) -> bool:
    return wait_for(lambda: serve(conn, 0.2) is not None and len(got) >= count, timeout=30, interval=0)


def test_deliveries_arrive_whole_in_far_fewer_reads_than_frames(broker_root: Settings) -> None:
    first = _bodies(EDGES + [700] * 400, 0)
    then = _bodies([700, READ_AHEAD_BYTES * 3], 7)
    with (
        scratch_vhost(broker_root, "readahead") as scratch,
        Connection(scratch.amqp_url, transport_options=TRANSPORT_OPTIONS) as conn,
    ):
        conn.connect()
        channel = conn.channel()
        queue, _, _ = channel.queue_declare("", exclusive=True)
        _publish(scratch.amqp_url, queue, first)
        asked = _counting_reads(conn.connection.transport)
        got: list[Delivery] = []
        channel.basic_qos(0, 1000, False)
        consume(channel, queue, got.append)

        assert _served_until(conn, got, len(first))
        assert [d.body for d in got] == first
        # one method, one header and one or more body frames each, three reads a frame before
        assert len(asked) < len(first) // 4
        # a recv given the size py-amqp needs never returns more: these asked for a block
        assert any(got_bytes > needed for needed, got_bytes in asked)

        assert serve(conn, 0.2) is False  # a wait with nothing to read times out as before
        _publish(scratch.amqp_url, queue, then)
        assert _served_until(conn, got, len(first) + len(then))
        assert [d.body for d in got[len(first) :]] == then
        channel.basic_ack(got[-1].delivery_tag, multiple=True)
