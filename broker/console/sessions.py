"""Logged-in operators, in memory: a random token in an HttpOnly cookie names a session, which
ends after IDLE without a request or LIFETIME after the login, whichever comes first. A restart of
the console logs everyone out, which is what a lost secret should do anyway."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field

from broker.console.accounts import Operator

IDLE_S = 30 * 60.0
LIFETIME_S = 12 * 3600.0
COOKIE = "rb_console"


@dataclass
class Session:
    operator: Operator
    csrf: str
    """Sent with every form that changes something; a request without it is refused."""
    started: float = field(default_factory=time.monotonic)
    seen: float = field(default_factory=time.monotonic)


class Sessions:
    def __init__(self, idle_s: float = IDLE_S, lifetime_s: float = LIFETIME_S) -> None:
        self.idle_s = idle_s
        self.lifetime_s = lifetime_s
        self._by_token: dict[str, Session] = {}
        self._lock = threading.Lock()

    def start(self, operator: Operator) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._expire()
            self._by_token[token] = Session(operator, secrets.token_urlsafe(24))
        return token

    def get(self, token: str | None) -> Session | None:
        """The live session of a token (touching it), or None when unknown or expired."""
        if not token:
            return None
        now = time.monotonic()
        with self._lock:
            session = self._by_token.get(token)
            if session is None:
                return None
            if now - session.seen > self.idle_s or now - session.started > self.lifetime_s:
                del self._by_token[token]
                return None
            session.seen = now
            return session

    def end(self, token: str | None) -> Session | None:
        with self._lock:
            return self._by_token.pop(token or "", None)

    def _expire(self) -> None:
        now = time.monotonic()
        for token, s in list(self._by_token.items()):
            if now - s.seen > self.idle_s or now - s.started > self.lifetime_s:
                del self._by_token[token]
