"""Steps waiting for their simulated time: a priority queue, earliest first, ties in order of arrival."""

from __future__ import annotations

import heapq
import itertools
from datetime import datetime
from typing import Generic, TypeVar

T = TypeVar("T")


class Agenda(Generic[T]):
    def __init__(self) -> None:
        self._heap: list[tuple[datetime, int, T]] = []
        self._order = itertools.count()

    def __len__(self) -> int:
        return len(self._heap)

    def at(self, when: datetime, step: T) -> None:
        heapq.heappush(self._heap, (when, next(self._order), step))

    def due(self, now: datetime) -> list[tuple[datetime, T]]:
        """Remove and return every step whose time has come, with its time, in time order."""
        out = []
        while self._heap and self._heap[0][0] <= now:
            when, _, step = heapq.heappop(self._heap)
            out.append((when, step))
        return out

    def next_at(self) -> datetime | None:
        return self._heap[0][0] if self._heap else None

    def clear(self) -> int:
        """Drop every step still waiting; returns how many there were."""
        dropped = len(self._heap)
        self._heap.clear()
        return dropped
