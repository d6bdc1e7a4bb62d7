"""The routing log as the console holds it: the last CAPACITY records, numbered in arrival order,
with an index by case, filtered per request. Thread-safe: the follower appends from its thread."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
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
    """A ring of CAPACITY slots: the record numbered `seq` sits in slot `(seq - 1) % capacity`, so
    a page reads the newest records by number, without copying the log or holding the lock while
    it filters (a slot overwritten meanwhile holds another number, and the reader stops there)."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._slots: list[Entry | None] = [None] * capacity
        self._by_case: dict[str, deque[Entry]] = {}
        self._lock = threading.Lock()
        self._seq = 0

    def append(self, record: dict[str, Any]) -> None:
        with self._lock:
            self._seq += 1
            entry = Entry(self._seq, time.time(), record)
            slot = (self._seq - 1) % self.capacity
            old = self._slots[slot]
            if old is not None:
                key = str(old.record.get("case_id"))
                case = self._by_case.get(key)
                if case and case[0] is old:
                    case.popleft()
                    if not case:
                        del self._by_case[key]
            self._slots[slot] = entry
            case_id = record.get("case_id")
            if case_id:
                self._by_case.setdefault(str(case_id), deque()).append(entry)

    @property
    def last_seq(self) -> int:
        return self._seq

    def last(self) -> Entry | None:
        return self._at(self._seq)

    def __len__(self) -> int:
        return min(self._seq, self.capacity)

    def _at(self, seq: int) -> Entry | None:
        """The entry numbered `seq`, or None when it is not held (yet or any more)."""
        if seq < 1:
            return None
        entry = self._slots[(seq - 1) % self.capacity]
        return entry if entry is not None and entry.seq == seq else None

    def newest(
        self, wanted: LogFilter, scope: Scope, after: int = 0, limit: int = 200
    ) -> tuple[list[Entry], int]:
        """The newest `limit` entries after `after` that the filter and the scope admit, newest
        first, and the number of the last record looked at (the next call's `after`)."""
        upto = self._seq
        if wanted.case:
            with self._lock:
                source: Any = list(self._by_case.get(wanted.case, ()))[::-1]
        else:
            source = (self._at(seq) for seq in range(upto, max(after, upto - self.capacity), -1))
        out: list[Entry] = []
        for entry in source:
            if entry is None or entry.seq <= after:
                break  # overwritten while we read (the log went round), or seen already
            if entry.seq <= upto and wanted.admits(entry.record) and scope.admits_record(entry.record):
                out.append(entry)
                if len(out) >= limit:
                    break
        return out, max(upto, after)

    def oldest_first(self) -> Iterator[Entry]:
        """Every entry held, oldest first, as far as the log has not gone round meanwhile."""
        upto = self._seq
        for seq in range(max(1, upto - self.capacity + 1), upto + 1):
            entry = self._at(seq)
            if entry is not None:
                yield entry

    def of_case(self, case_id: str) -> list[Entry]:
        with self._lock:
            return list(self._by_case.get(case_id, ()))
