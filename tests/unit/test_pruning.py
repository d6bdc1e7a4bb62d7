"""The router's pruning of its memory (broker/router/pruning.py): between batches, a bounded number
at a time, hourly once nothing is left, at once while idle and every ten seconds while busy when
there is more; a failure is tried again later and never raised. The SQL memory's own prune:
tests/integration/test_memory_pruning.py."""

from __future__ import annotations

from broker.router.pruning import BUSY_EVERY_S, PRUNE_EVERY_S, RETRY_S, Pruning
from broker.store.memory import RETENTION_DAYS


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class Forgetting:
    """A memory holding `left` messages past their retention."""

    def __init__(self, left: int) -> None:
        self.left = left
        self.calls: list[tuple[float, int]] = []
        self.failing = False

    def __call__(self, older_than_days: float, limit: int) -> int:
        self.calls.append((older_than_days, limit))
        if self.failing:
            raise ConnectionError("database away")
        removed = min(limit, self.left)
        self.left -= removed
        return removed


def test_it_prunes_on_its_first_turn_then_hourly_and_goes_on_at_once_while_idle() -> None:
    memory, clock = Forgetting(12), Clock()
    pruning = Pruning(memory, batch=5, clock=clock)
    assert [pruning.turn(caught_up=True) for _ in range(4)] == [5, 5, 2, 0]
    assert memory.calls[0] == (RETENTION_DAYS, 5) and len(memory.calls) == 3  # the 4th was not due
    memory.left = 3
    clock.now += PRUNE_EVERY_S - 1
    assert pruning.turn(caught_up=True) == 0
    clock.now += 1
    assert pruning.turn(caught_up=False) == 3 and pruning.forgotten == 15  # hourly, busy or not


def test_under_steady_traffic_it_still_forgets_one_batch_every_ten_seconds() -> None:
    memory, clock = Forgetting(12), Clock()
    pruning = Pruning(memory, batch=5, clock=clock)
    assert pruning.turn(caught_up=False) == 5  # never a half second of silence: it prunes anyway
    assert pruning.turn(caught_up=False) == 0
    clock.now += BUSY_EVERY_S - 1
    assert pruning.turn(caught_up=False) == 0
    clock.now += 1
    assert pruning.turn(caught_up=False) == 5
    clock.now += BUSY_EVERY_S
    assert pruning.turn(caught_up=False) == 2
    clock.now += BUSY_EVERY_S
    assert pruning.turn(caught_up=False) == 0 and len(memory.calls) == 3  # the rest is hourly


def test_a_failed_prune_is_tried_again_a_minute_later_and_never_raised() -> None:
    memory, clock = Forgetting(4), Clock()
    pruning = Pruning(memory, batch=10, clock=clock)
    memory.failing = True
    assert pruning.turn(caught_up=True) == 0
    memory.failing = False
    clock.now += RETRY_S - 1
    assert pruning.turn(caught_up=True) == 0 and len(memory.calls) == 1
    clock.now += 1
    assert pruning.turn(caught_up=True) == 4
