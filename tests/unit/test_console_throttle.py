"""Login throttling (pure, on a given clock): per account and per address, a few failures free,
then locks doubling up to a cap; an unknown login is counted like a known one."""

from __future__ import annotations

import pytest

from broker.console import throttle
from broker.console.throttle import LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fail(t: LoginThrottle, times: int, login: str = "alice", address: str = "10.0.0.1") -> None:
    for _ in range(times):
        t.failed(login, address)


def test_a_few_failures_are_free_then_each_lock_doubles() -> None:
    clock = Clock()
    t = LoginThrottle(clock)
    fail(t, throttle.FREE)
    assert t.refusal("alice", "10.0.0.1") is None
    waits = []
    for _ in range(4):
        fail(t, 1)
        refusal = t.refusal("alice", "10.0.0.2")  # another address: the account is locked
        assert refusal is not None and refusal.what == "account"
        waits.append(refusal.wait_s)
    assert waits == [throttle.FIRST_LOCK_S * 2**n for n in range(4)]
    clock.now += waits[-1]
    assert t.refusal("alice", "10.0.0.2") is None  # the lock ran out; the count stays


def test_locks_stop_at_the_cap_and_failures_are_forgotten_after_an_hour() -> None:
    clock = Clock()
    t = LoginThrottle(clock)
    fail(t, throttle.FREE + 40)
    refusal = t.refusal("alice", "10.0.0.9")
    assert refusal is not None and refusal.wait_s == throttle.MAX_LOCK_S
    clock.now += throttle.FORGET_S + 1
    fail(t, 1)
    assert t.refusal("alice", "10.0.0.1") is None  # counting from nothing again


def test_one_address_trying_many_logins_is_locked_by_its_address() -> None:
    t = LoginThrottle(Clock())
    for n in range(throttle.FREE + 1):
        t.failed(f"guess{n}", "10.0.0.7")
    refusal = t.refusal("someone-else", "10.0.0.7")
    assert refusal is not None and refusal.what == "address"
    assert t.refusal("someone-else", "10.0.0.8") is None


@pytest.mark.parametrize("login", ["alice", "nobody-by-that-name"])
def test_known_and_unknown_logins_are_counted_alike(login: str) -> None:
    t = LoginThrottle(Clock())
    fail(t, throttle.FREE + 1, login=login)
    refusal = t.refusal(login, "10.0.0.2")
    assert refusal is not None and (refusal.what, refusal.wait_s) == ("account", throttle.FIRST_LOCK_S)


def test_a_good_login_clears_its_account_but_not_its_address() -> None:
    t = LoginThrottle(Clock())
    fail(t, throttle.FREE + 1)
    t.succeeded("alice")
    assert t.refusal("alice", "10.0.0.2") is None
    refusal = t.refusal("bob", "10.0.0.1")
    assert refusal is not None and refusal.what == "address"


def test_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(throttle, "MAX_KEYS", 10)
    t = LoginThrottle(Clock())
    for n in range(50):
        t.failed(f"guess{n}", f"10.0.1.{n}")
    assert len(t._keys) <= 10


def test_guesses_sent_at_once_are_counted_from_when_they_begin() -> None:
    """Password checks take a while: guesses that all begin before the first is found wrong may not
    all pass. As many run at once as failures are still free; past them, one at a time."""
    t = LoginThrottle(Clock())
    begun = [t.begin("alice", "10.0.0.1") for _ in range(throttle.FREE + 5)]
    assert begun[: throttle.FREE] == [None] * throttle.FREE
    assert all(r is not None and r.what == "account" for r in begun[throttle.FREE :])
    fail(t, throttle.FREE)  # the three that ran were wrong: the account now locks at the next failure
    assert t.begin("alice", "10.0.0.2") is None
    assert t.begin("alice", "10.0.0.3") is not None  # one at a time past the free failures
    t.succeeded("alice", "10.0.0.2")
    assert t.begin("alice", "10.0.0.3") is None


def test_an_attempt_that_ends_in_an_error_frees_its_place() -> None:
    t = LoginThrottle(Clock())
    fail(t, throttle.FREE)
    assert t.begin("bob", "10.0.0.1") is None
    assert t.begin("carol", "10.0.0.1") is not None  # the address: one at a time now
    t.abandoned("bob", "10.0.0.1")
    assert t.begin("carol", "10.0.0.1") is None
