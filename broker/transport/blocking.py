"""Know when RabbitMQ blocks a connection (memory or disk alarm), so a worker can wait it out.

An alarm blocks every publishing connection of the whole cluster ("Memory and Disk Alarms"): a
new connection, to any node, is blocked as soon as it publishes. Reconnecting therefore gains
nothing and costs each unacknowledged input one more delivery towards the queue's delivery limit.
So a worker keeps its blocked connection and stops counting the time towards its confirm timeout;
the broker's `connection.blocked` / `connection.unblocked` notifications, which py-amqp passes to
the `on_blocked` / `on_unblocked` callbacks of its Connection (kombu hands them over in
`transport_options`), say when the clock stops and starts again:
https://www.rabbitmq.com/docs/connection-blocked

    watch = BlockedWatch()
    with Connection(url, transport_options=watch.transport_options(TRANSPORT_OPTIONS)) as conn:
        ...
        if watch.blocked:                        # in a confirm wait: the timeout starts again
            deadline = time.monotonic() + timeout_s
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import structlog

log = structlog.get_logger("referral_broker.blocking")


class BlockedWatch:
    """Whether the broker has blocked one connection now, and for how long it has been."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._since: float | None = None
        self._blocked_s = 0.0
        self.blocks = 0
        """How many times the broker blocked this connection."""

    def transport_options(self, base: dict[str, Any] | None = None) -> dict[str, Any]:
        """kombu `transport_options` with the two callbacks added to `base`."""
        return {**(base or {}), "on_blocked": self.on_blocked, "on_unblocked": self.on_unblocked}

    def on_blocked(self, reason: str = "") -> None:
        with self._lock:
            if self._since is None:
                self._since = self._clock()
                self.blocks += 1
        log.warning("connection blocked by the broker (memory or disk alarm); waiting", reason=reason[:200])

    def on_unblocked(self) -> None:
        with self._lock:
            if self._since is None:
                return
            lasted = self._clock() - self._since
            self._blocked_s += lasted
            self._since = None
        log.info("connection unblocked by the broker", blocked_s=round(lasted, 2))

    @property
    def blocked(self) -> bool:
        return self._since is not None

    def blocked_s(self) -> float:
        """Seconds spent blocked in all, the block in progress included."""
        with self._lock:
            ongoing = self._clock() - self._since if self._since is not None else 0.0
            return self._blocked_s + ongoing
