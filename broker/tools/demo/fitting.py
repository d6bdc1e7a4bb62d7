"""Making drawn cases add up to the report: exact quotas, and amounts fitted to two classifications.

- ``deal``: n labels whose counts follow given weights as closely as integers can (largest
  remainder), in a seeded random order;
- ``fit``: per-case amounts (records, fines) scaled so that their sums by sector and by violation
  both meet the report's totals (iterative proportional fitting), each amount kept within the bounds
  its case allows (a case under the criminal threshold cannot hold 6,000 records);
- ``choose``: exactly k cases, by weight (which cases reach the criminal threshold);
- ``spread``: a whole number of events (joint actions, interviews) spread over the cases.
"""

from __future__ import annotations

import math
import random
from collections.abc import Hashable, Mapping, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)

ROUNDS = 20
"""Alternations between the two classifications; the shares settle well within it."""
STEPS = 40
"""Bisection steps when a group's bounds stop a plain proportional scaling."""


def deal(rng: random.Random, n: int, weights: dict[K, float]) -> list[K]:
    total = sum(weights.values())
    exact = {k: n * w / total for k, w in weights.items()}
    counts = {k: math.floor(x) for k, x in exact.items()}
    by_remainder = sorted(weights, key=lambda k: exact[k] - counts[k], reverse=True)
    for k in by_remainder[: n - sum(counts.values())]:
        counts[k] += 1
    labels = [k for k in weights for _ in range(counts[k])]
    rng.shuffle(labels)
    return labels


def _scale(
    values: list[float], members: list[int], bounds: Sequence[tuple[float, float]], target: float
) -> None:
    """Scale the members' values by one factor, clamped to their bounds, so that they sum to target
    (as near as the bounds allow)."""

    def total(factor: float) -> float:
        return sum(min(max(values[i] * factor, bounds[i][0]), bounds[i][1]) for i in members)

    low, high = 1e-9, 1e9
    if total(low) >= target:
        factor = low
    elif total(high) <= target:
        factor = high
    else:
        current = sum(values[i] for i in members)
        factor = target / current if current > 0 else 1.0
        if not math.isclose(total(factor), target, rel_tol=1e-6):
            for _ in range(STEPS):
                middle = math.sqrt(low * high)
                low, high = (middle, high) if total(middle) < target else (low, middle)
            factor = math.sqrt(low * high)
    for i in members:
        values[i] = min(max(values[i] * factor, bounds[i][0]), bounds[i][1])


def fit(
    initial: Sequence[float],
    bounds: Sequence[tuple[float, float]],
    margins: Sequence[tuple[Sequence[str], Mapping[str, float]]],
) -> list[float]:
    """Amounts near ``initial`` (same proportions within a group) whose sums per label of each
    margin (the cases' labels, the target per label) meet the targets as far as the bounds allow."""
    values = [min(max(v, lo), hi) for v, (lo, hi) in zip(initial, bounds, strict=True)]
    groups = []
    for labels, targets in margins:
        members: dict[str, list[int]] = {}
        for i, label in enumerate(labels):
            members.setdefault(label, []).append(i)
        groups.append([(members[k], t) for k, t in targets.items() if k in members])
    for _ in range(ROUNDS):
        for margin in groups:
            for members_of, target in margin:
                _scale(values, members_of, bounds, target)
    return values


def choose(rng: random.Random, k: int, weights: Sequence[float]) -> list[bool]:
    """Exactly ``k`` of the cases, each case's chance by its weight (weighted sampling without
    replacement, Efraimidis-Spirakis keys)."""
    keys = [rng.random() ** (1.0 / w) if w > 0 else 0.0 for w in weights]
    chosen = set(sorted(range(len(weights)), key=keys.__getitem__, reverse=True)[:k])
    return [i in chosen for i in range(len(weights))]


def spread(rng: random.Random, total: int, weights: Sequence[float]) -> list[int]:
    """``total`` events over the cases, each case's chance by its weight."""
    counts = [0] * len(weights)
    if not weights:
        return counts
    for i in rng.choices(range(len(weights)), weights=weights, k=total):
        counts[i] += 1
    return counts
