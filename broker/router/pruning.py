"""The router forgets what it routed more than RETENTION_DAYS ago (broker/store/memory.py).

Its memory otherwise grows for ever, and what each message costs grows with it: `bench --parts
--memory-rows` measured the memory's part at about 40 µs of CPU per message on a new database,
80 at 100,000 messages remembered and 105–125 at 1,000,000. Pruning runs between batches, on the
consumer's turns: at most PRUNE_BATCH messages in one transaction (a short write lock, which
routers sharing a PostgreSQL memory take in turn), oldest first. A router prunes on its first
turn, then once an hour; while a batch comes back full there is more to forget, and the next one
follows on the next turn when the input is caught up (nothing came for the consumer's poll, half
a second), or BUSY_EVERY_S later when it is not: a router with steady traffic seldom has half a
second of silence, and must still forget. A message that arrives during a prune waits for it:
5,000 messages took 0.23–0.30 s out of a SQLite memory of 200,000, 1,000 took 68 ms. A failure
(the database away) is logged and tried again a minute later; it never stops the router.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from broker.store.memory import RETENTION_DAYS

log = structlog.get_logger("referral_broker.router")

PRUNE_EVERY_S = 3600.0
"""Between two prunes once nothing was left to forget."""
PRUNE_BATCH = 1_000
"""Messages forgotten in one transaction (68 ms out of a SQLite memory of 200,000)."""
RETRY_S = 60.0
"""Before trying again after a prune failed."""
BUSY_EVERY_S = 10.0
"""Between two batches of a prune that has more to forget while the input keeps coming: 100
messages a second, far more than any deployment routes, for one pause of a batch's length."""


@dataclass
class Pruning:
    prune: Callable[[float, int], int]
    """Forgets what was routed more than N days ago, at most M messages; returns how many."""
    every_s: float = PRUNE_EVERY_S
    batch: int = PRUNE_BATCH
    clock: Callable[[], float] = time.monotonic
    forgotten: int = 0
    """Messages forgotten since start."""
    _due: float | None = None

    def turn(self, caught_up: bool) -> int:
        """On a turn of the consumer's loop: prune if a prune is due (`caught_up`: the input is,
        which lets a prune with more to forget go on at once); returns how many were forgotten."""
        now = self.clock()
        if self._due is not None and now < self._due:
            return 0
        try:
            removed = self.prune(RETENTION_DAYS, self.batch)
        except Exception as exc:
            log.warning(
                "could not prune the routing memory; trying again later",
                error=type(exc).__name__,
                reason=str(exc)[:200],
            )
            self._due = now + RETRY_S
            return 0
        self.forgotten += removed
        if removed < self.batch:
            self._due = now + self.every_s
        else:  # more to forget
            self._due = now if caught_up else now + BUSY_EVERY_S
        if removed:
            log.info("routing memory pruned", forgotten=removed, older_than_days=RETENTION_DAYS)
        return removed
