"""Login throttling: failed logins counted per account and per client address. After FREE failures
of either, each further failure locks it for twice as long as the one before (2 s, 4 s, 8 s … up
to MAX_LOCK_S); a failure older than FORGET_S is forgotten. While either is locked, an attempt is
refused without its password being looked at. Pure (the clock is given).

An account is counted by the login typed, whether or not it exists: an unknown login and a wrong
password are counted, locked and answered alike, so the answers tell no one which logins exist.
The account's lock also delays its owner (someone guessing can keep an operator out for up to
MAX_LOCK_S at a time); the address's lock is what stops one client trying many accounts.

An attempt is counted from the moment it begins (`begin`), not only once its password is found
wrong: a password check takes a while, and guesses sent at once would otherwise all pass the check
before the first failure is counted. While failures are still free, as many attempts as there are
free failures left may run at once; past them, one at a time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

FREE = 3
"""Failures allowed before the first lock (typing mistakes)."""
FIRST_LOCK_S = 2.0
MAX_LOCK_S = 15 * 60.0
FORGET_S = 60 * 60.0
"""A key with no failure for this long starts again from nothing."""
MAX_KEYS = 100_000
"""Keys remembered at most (someone trying many logins must not fill the memory)."""


@dataclass
class _Failures:
    count: int
    last: float
    locked_until: float
    in_flight: int = 0
    """Attempts begun and not yet found right or wrong."""


@dataclass(frozen=True)
class Refusal:
    """Why an attempt is not looked at: what is locked and for how much longer."""

    what: str
    """'account' or 'address'."""
    wait_s: float


class LoginThrottle:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._keys: dict[tuple[str, str], _Failures] = {}
        self._lock = threading.Lock()

    def refusal(self, login: str, address: str) -> Refusal | None:
        """None when an attempt may be tried now, else the longer of the two locks."""
        now = self.clock()
        with self._lock:
            return self._locked(login, address, now)

    def begin(self, login: str, address: str) -> Refusal | None:
        """Like `refusal`, and when the attempt may go ahead, count it as running until `failed`,
        `succeeded` or `abandoned` ends it; refused too when as many attempts already run as the
        failures still free allow (one, past them). One hold of the lock: no failure can lock the
        account between the check and the count."""
        now = self.clock()
        with self._lock:
            refusal = self._locked(login, address, now)
            if refusal is not None:
                return refusal
            if len(self._keys) >= MAX_KEYS:
                self._forget(now)
            keys = [(key[0], self._current(key, now)) for key in self._pair(login, address)]
            for what, f in keys:
                if f.in_flight and f.count + f.in_flight >= FREE:
                    return Refusal(what, FIRST_LOCK_S)
            for _, f in keys:
                f.in_flight += 1
        return None

    def _locked(self, login: str, address: str, now: float) -> Refusal | None:
        """The longer of the two locks still running at `now`, if any (the caller holds the lock)."""
        waits = [
            (f.locked_until - now, what)
            for what, f in ((w, self._keys.get((w, k))) for w, k in self._pair(login, address))
            if f is not None and f.locked_until > now
        ]
        if not waits:
            return None
        wait, what = max(waits)
        return Refusal(what, wait)

    def abandoned(self, login: str, address: str) -> None:
        """An attempt begun that ended without an answer (an error while checking it)."""
        with self._lock:
            self._end(login, address)

    def failed(self, login: str, address: str) -> None:
        now = self.clock()
        with self._lock:
            self._end(login, address)
            if len(self._keys) >= MAX_KEYS:
                self._forget(now)
            for key in self._pair(login, address):
                f = self._current(key, now)
                f.count += 1
                f.last = now
                if f.count > FREE:
                    f.locked_until = now + min(MAX_LOCK_S, FIRST_LOCK_S * 2 ** (f.count - FREE - 1))

    def succeeded(self, login: str, address: str | None = None) -> None:
        """The account's failures are forgotten; the address's are not (one's own good login must
        not reset a count of guesses at others). `address`: the attempt began there (`begin`)."""
        with self._lock:
            if address is not None:
                self._end(login, address)
            self._keys.pop(("account", login), None)

    def _current(self, key: tuple[str, str], now: float) -> _Failures:
        f = self._keys.get(key)
        if f is None or (now - f.last > FORGET_S and not f.in_flight):
            f = self._keys[key] = _Failures(0, now, now)
        return f

    def _end(self, login: str, address: str) -> None:
        for key in self._pair(login, address):
            f = self._keys.get(key)
            if f is not None and f.in_flight:
                f.in_flight -= 1

    @staticmethod
    def _pair(login: str, address: str) -> tuple[tuple[str, str], tuple[str, str]]:
        return ("account", login), ("address", address)

    def _forget(self, now: float) -> None:
        for key in [k for k, f in self._keys.items() if now - f.last > FORGET_S and not f.in_flight]:
            del self._keys[key]
        if len(self._keys) >= MAX_KEYS:  # still full: the oldest half goes
            oldest = sorted(self._keys, key=lambda k: self._keys[k].last)[: MAX_KEYS // 2]
            for key in oldest:
                del self._keys[key]
