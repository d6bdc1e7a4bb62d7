"""The routing log as the console holds it: the last CAPACITY records, numbered in arrival order,
with an index by case, filtered per request. Thread-safe: the follower appends from its thread."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from broker.console.scope import Scope, record_parties

CAPACITY = 100_000
"""Records kept; older ones are dropped (the tracker's database keeps the history of cases)."""


@dataclass(frozen=True)
class Entry:
    seq: int
    received: float
    """time.time() when the console got it."""
    record: dict[str, Any]


@dataclass(frozen=True)
class LogFilter:
    bureau: str | None = None
    """An address, or a division code (any party there), as sender or recipient."""
    case: str | None = None
    kind: str | None = None
    rule: str | None = None
    outcome: str | None = None
    """The record's event: routed or quarantined."""

    def admits(self, record: dict[str, Any]) -> bool:
        fields = ((self.case, "case_id"), (self.kind, "kind"), (self.outcome, "event"))
        if any(wanted and record.get(name) != wanted for wanted, name in fields):
            return False
        return self._by_rule(record) and self._by_bureau(record)

    def _by_rule(self, record: dict[str, Any]) -> bool:
        return not self.rule or any(
            isinstance(d, dict) and d.get("rule") == self.rule for d in record.get("deliveries") or []
        )

    def _by_bureau(self, record: dict[str, Any]) -> bool:
        wanted = self.bureau
        if not wanted:
            return True
        return any(
            p == wanted or (":" not in wanted and p.endswith(f":{wanted}")) for p in record_parties(record)
        )

    def query(self) -> dict[str, str]:
        return {k: v for k, v in vars(self).items() if v}


class RoutingLog:
    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._entries: deque[Entry] = deque(maxlen=capacity)
        self._by_case: dict[str, deque[Entry]] = {}
        self._lock = threading.Lock()
        self._seq = 0

    def append(self, record: dict[str, Any]) -> None:
        with self._lock:
            self._seq += 1
            entry = Entry(self._seq, time.time(), record)
            if len(self._entries) == self._entries.maxlen:
                old = self._entries[0]
                case = self._by_case.get(str(old.record.get("case_id")))
                if case and case[0] is old:
                    case.popleft()
                    if not case:
                        del self._by_case[str(old.record.get("case_id"))]
            self._entries.append(entry)
            case_id = record.get("case_id")
            if case_id:
                self._by_case.setdefault(str(case_id), deque()).append(entry)

    @property
    def last_seq(self) -> int:
        return self._seq

    def last(self) -> Entry | None:
        with self._lock:
            return self._entries[-1] if self._entries else None

    def __len__(self) -> int:
        return len(self._entries)

    def newest(
        self, wanted: LogFilter, scope: Scope, after: int = 0, limit: int = 200
    ) -> tuple[list[Entry], int]:
        """The newest `limit` entries after `after` that the filter and the scope admit, newest
        first, and the number of the last record looked at (the next call's `after`)."""
        with self._lock:
            # a copy of the references (a fraction of a millisecond for 100,000) so that the
            # follower is not held up while a page filters
            source = list(self._by_case.get(wanted.case, ()) if wanted.case else self._entries)
            upto = self._seq
        out: list[Entry] = []
        for entry in reversed(source):
            if entry.seq <= after:
                break
            if wanted.admits(entry.record) and scope.admits_record(entry.record):
                out.append(entry)
                if len(out) >= limit:
                    break
        return out, max(upto, after)

    def of_case(self, case_id: str) -> list[Entry]:
        with self._lock:
            return list(self._by_case.get(case_id, ()))
