"""Health (router and tracker up, queue depths, the age of the last decision) and the scoreboard
summed per province."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from broker.store.tracker.model import PartyStats
from broker.transport import topology
from broker.transport.observe import QueueState, queue_states, watched_queues

if TYPE_CHECKING:
    from broker.console.app import Console

CACHE_S = 2.0
"""Health is looked up at most this often (one broker connection), however many operators look."""
STALE_DECISION_S = 300.0
"""A last decision older than this, with input waiting, is shown as a warning."""


@dataclass(frozen=True)
class Health:
    router_up: bool
    tracker_up: bool
    queues: list[QueueState]
    last_decision_age_s: float | None
    """Seconds since the console last saw a routing-log record; None when it saw none yet."""
    log_bound: bool
    log_error: str | None
    checked_at: float

    @property
    def stalled(self) -> bool:
        waiting = sum(q.messages or 0 for q in self.queues if topology.is_router_queue(q.name))
        age = self.last_decision_age_s
        return waiting > 0 and (age is None or age > STALE_DECISION_S)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["stalled"] = self.stalled
        return out


def check(console: Console) -> Health:
    watched = watched_queues(console.router_shards)
    queues: list[QueueState] = console.cached(
        ("queues",), CACHE_S, lambda: queue_states(console.amqp_url, watched)
    )
    now = time.time()
    consumers = {q.name: q.consumers or 0 for q in queues}
    inputs = [shard.queue for shard in topology.shards(console.router_shards)]
    last = console.log.last()
    follower = console.follower
    return Health(
        router_up=all(consumers.get(q, 0) > 0 for q in inputs),
        tracker_up=consumers.get(topology.TRACKER_QUEUE, 0) > 0,
        queues=queues,
        last_decision_age_s=now - last.received if last is not None else None,
        log_bound=follower is not None and follower.bound.is_set(),
        log_error=follower.last_error if follower is not None else None,
        checked_at=now,
    )


@dataclass(frozen=True)
class ProvinceStats:
    party: str
    """The province's two digits (shown where a party's address is)."""
    obligations: int
    open: int
    overdue: int
    on_time: int
    late: int
    share_on_time: float | None
    median_answer_s: None = None
    """Not summed: a median of medians would be no one's median."""


def by_province(parties: list[PartyStats]) -> list[ProvinceStats]:
    sums: dict[str, list[int]] = {}
    for s in parties:
        code = s.party.rpartition(":")[2]
        key = "national" if code == "000000" else code[:2]
        t = sums.setdefault(key, [0, 0, 0, 0, 0])
        for i, v in enumerate((s.obligations, s.open, s.overdue, s.on_time, s.late)):
            t[i] += v
    out = []
    for key in sorted(sums):
        n, open_, overdue, on_time, late = sums[key]
        judged = on_time + late + overdue
        out.append(ProvinceStats(key, n, open_, overdue, on_time, late, on_time / judged if judged else None))
    return out
