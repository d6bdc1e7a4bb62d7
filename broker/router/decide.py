"""The routing step: the domain's decision (broker/domain/routing.py) for one checked input."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from broker.domain.address import Address
from broker.domain.jurisdictions import Registry
from broker.domain.routing import RoutingContext, RoutingRefused, decide
from broker.router.outcomes import Attempt, Checked, Quarantine, Route
from broker.router.ports import RoutingIndex


@dataclass(frozen=True)
class Policy:
    """The router's settings its decisions depend on."""

    registry: Registry
    participants: frozenset[Address]
    clock_skew: timedelta
    """How far ahead of the router's clock a sender's sent_at may be (broker/domain/plausible_time.py)."""


def route(
    checked: Checked, attempt: Attempt, index: RoutingIndex, policy: Policy, now: datetime
) -> Route | Quarantine:
    ctx = RoutingContext(
        policy.registry,
        policy.participants,
        index,
        now,
        policy.clock_skew,
    )
    try:
        decision = decide(checked.message, ctx)
    except RoutingRefused as exc:
        return Quarantine("routing", exc.field, exc.reason)
    if attempt.resume is not None:
        return Route(checked.message, decision, checked.digest, checked.body, attempt.resume, new=False)
    return Route(
        checked.message, decision, checked.digest, checked.body, frozenset(decision.recipients), new=True
    )
