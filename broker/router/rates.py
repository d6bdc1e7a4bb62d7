"""Each sender's publish rate: a token bucket per authenticated user, so a participant's runaway
client (a resend loop, a flush gone wrong) cannot take the router's whole capacity from everyone
else. RabbitMQ 3.10 has no per-user publish rate (its user limits cover connections and channels,
which `provision` sets); the router is where every input passes.

An input over its sender's rate is refused like any other (stage `rate`): quarantined within the
sender's share (broker/router/shares.py), its sender told to publish it again later. Refusing keeps
each sender's messages in the order it sends them, which holding some back and routing later ones
would not. The defaults are far above what a bureau sends (the 2019 campaign's busiest province
sent a few thousand messages in six months) and catch only a client gone wrong.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

DEFAULT_RATE = 500.0
"""Messages per second each sender may keep up."""
DEFAULT_BURST = 50_000
"""Messages each sender may send at once above that (a participant catching up after an outage)."""


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class SenderRates:
    rate: float = DEFAULT_RATE
    """Tokens a sender's bucket gains per second; 0 turns the limit off."""
    burst: int = DEFAULT_BURST
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.rate < 0 or self.burst < 1:
            raise ValueError("sender rate: the rate must be ≥ 0 and the burst ≥ 1")

    def take(self, user_id: str | None) -> bool:
        """Whether one more input of `user_id` is within its rate (None: no validated user, one
        bucket for all of them)."""
        if not self.rate:
            return True
        now = self.clock()
        user = user_id or ""
        bucket = self._buckets.get(user)
        if bucket is None:
            if len(self._buckets) > 4096:
                self._forget_full(now)
            bucket = self._buckets[user] = _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        if bucket.tokens < 1:
            return False
        bucket.tokens -= 1
        return True

    def refusal(self) -> str:
        """The reason given to a sender over its rate (no value of its message)."""
        return f"sender over its publish rate ({self.rate:g} messages a second, bursts of {self.burst})"

    def _forget_full(self, now: float) -> None:
        """Drop the buckets that have filled up again: a new one starts full anyway."""
        full = [u for u, b in self._buckets.items() if b.tokens + (now - b.at) * self.rate >= self.burst]
        for user in full:
            del self._buckets[user]
