"""Simulated time for the demo: a clock running `factor` times faster than real time.

It implements the tracker's Clock protocol (broker/tracker/clock.py); the router takes its `now`
to stamp routed_at, and the simulated participants stamp their envelopes' sent_at with it, so the
router, the tracker and the participants all live on the same compressed calendar.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


class ScaledClock:
    """Stands at `start` until run(), then advances `factor` simulated seconds per real second,
    until freeze() stops it."""

    def __init__(self, start: datetime, factor: float) -> None:
        if start.tzinfo is None:
            raise ValueError("ScaledClock needs a timezone-aware start")
        if factor <= 0:
            raise ValueError("the compression factor must be positive")
        self.start_at = start.astimezone(UTC)
        self.factor = factor
        self._lock = threading.Lock()
        self._started: float | None = None
        self._frozen: datetime | None = None

    def run(self) -> None:
        with self._lock:
            if self._started is None:
                self._started = time.monotonic()

    def now(self) -> datetime:
        with self._lock:
            if self._frozen is not None:
                return self._frozen
            if self._started is None:
                return self.start_at
            return self.start_at + timedelta(seconds=(time.monotonic() - self._started) * self.factor)

    def freeze(self) -> datetime:
        """Stop simulated time where it is; returns that time."""
        now = self.now()
        with self._lock:
            self._frozen = now
        return now

    def real_seconds(self, simulated: timedelta) -> float:
        """How long a simulated span takes in real time."""
        return simulated.total_seconds() / self.factor

    def simulated(self, real_seconds: float) -> timedelta:
        """The simulated span that passes in this many real seconds."""
        return timedelta(seconds=real_seconds * self.factor)
