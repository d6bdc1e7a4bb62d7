"""Free TCP ports on the loopback interface for the servers the tools and the tests start (RabbitMQ
nodes, PostgreSQL instances)."""

from __future__ import annotations

import random
import socket

LOWEST = 20_000
HIGHEST = 30_000
"""Blocks are taken from this range: below the kernel's ephemeral ports (32768 and up), and low
enough that RabbitMQ's CLI tools, which listen at the distribution port + 10000, stay in range."""


def is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_block(size: int, also: tuple[int, ...] = ()) -> int:
    """The first port of `size` consecutive free ports, each also free at the offsets in `also`."""
    rng = random.Random()
    for _ in range(200):
        first = rng.randrange(LOWEST, HIGHEST - size)
        wanted = [first + n + offset for n in range(size) for offset in (0, *also)]
        if all(is_free(port) for port in wanted):
            return first
    raise RuntimeError(f"no block of {size} free ports between {LOWEST} and {HIGHEST}")
