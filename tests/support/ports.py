"""Free TCP ports on the loopback interface for the servers the tests start: blocks from the tools'
range (broker/tools/ports.py), or one port the system picks."""

from __future__ import annotations

import socket

from broker.tools.ports import free_block, is_free

__all__ = ["free_block", "free_port", "is_free"]


def free_port() -> int:
    """A port nothing listens on now (the system picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
