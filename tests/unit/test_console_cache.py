"""The console's short cache: one request computes a figure, the others asking at the same time
wait for it, and a figure older than its time to live is computed again."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

from broker.console.accounts import Accounts
from broker.console.app import Console


def console(tmp_path: Any) -> Console:
    # cached() needs neither the broker nor the database: none is reached here
    return Console("amqp://nobody@127.0.0.1:1/none", None, Accounts(tmp_path / "ops.json"), follow=False)  # type: ignore[arg-type]


def test_operators_asking_at_once_share_one_computation(tmp_path: Any) -> None:
    c = console(tmp_path)
    calls: list[int] = []

    def slow() -> int:
        calls.append(1)
        time.sleep(0.2)
        return len(calls)

    got: list[int] = []
    threads = [threading.Thread(target=lambda: got.append(c.cached("k", 5.0, slow))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [1] and got == [1] * 8


def test_a_figure_past_its_time_to_live_is_computed_again(tmp_path: Any) -> None:
    c = console(tmp_path)
    counter = iter(range(100))
    assert c.cached("k", 0.05, lambda: next(counter)) == 0
    assert c.cached("k", 0.05, lambda: next(counter)) == 0
    assert c.cached("other", 0.05, lambda: next(counter)) == 1  # another key, its own value
    time.sleep(0.06)
    assert c.cached("k", 0.05, lambda: next(counter)) == 2


def test_keys_whose_computation_fails_are_not_kept_for_ever(tmp_path: Any) -> None:
    c = console(tmp_path)

    def failing() -> int:
        raise OSError("the database is away")

    for second in range(5000):  # a figure asked for every second of a long outage
        with contextlib.suppress(OSError):
            c.cached(("overdue", second), 1.0, failing)
    assert len(c._computing) <= 2001
    assert c.cached("k", 5.0, lambda: 7) == 7
