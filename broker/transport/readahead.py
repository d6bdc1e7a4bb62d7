"""Read what the broker sends in blocks, not in exact pieces.

py-amqp's TCP transport reads a frame in three exact pieces (its 7-byte header, its payload, its
end byte), each one `recv` of just that size: about eleven system calls per delivery of the
router's input (method, header and body frames), whatever the socket already holds. Its reader
keeps whatever a `recv` returned beyond the piece it asked for and serves the next pieces from it,
so asking each `recv` for at least READ_AHEAD_BYTES is all it takes for one system call to bring in
many frames. `recv` returns what has arrived, never waiting to fill the block, so nothing is
delayed; a timeout or a closed socket is raised exactly as before.

Measured on the bench's queue of 20,000 deliveries of 700 bytes, prefetch 200, read with py-amqp
alone: 29.8 and 28.7 µs of CPU per delivery before, 17.6 and 17.8 with blocks of 16 KiB (4 and 8
KiB read the same).

TLS connections keep py-amqp's reads: their socket is read through the TLS layer, not `recv`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from amqp.transport import TCPTransport

READ_AHEAD_BYTES = 16384
"""The least each read asks the socket for: a prefetch window's deliveries arrive back to back."""


def read_ahead(transport: Any) -> None:
    """Make a connected py-amqp TCP transport ask each `recv` for at least READ_AHEAD_BYTES."""
    if not isinstance(transport, TCPTransport) or transport.sock is None:
        return
    transport._quick_recv = _at_least(transport.sock.recv, READ_AHEAD_BYTES)


def _at_least(recv: Callable[[int], bytes], least: int) -> Callable[[int], bytes]:
    def receive(size: int) -> bytes:
        return recv(size if size > least else least)

    return receive
