"""The routing rules without a broker: a world of participants with an in-memory routing memory,
and what a decision's deliveries or refusal look like to an assertion."""

from __future__ import annotations

import pytest

from broker.domain.address import Address
from broker.domain.jurisdictions import default_registry
from broker.domain.messages import Message
from broker.domain.routing import (
    InMemoryRoutingMemory,
    RoutedRecord,
    RoutingContext,
    RoutingDecision,
    RoutingRefused,
    Rule,
    decide,
)

PARTICIPANTS = frozenset(
    Address.parse(a)
    for a in [
        "bureau:000000",
        "bureau:330000",
        "bureau:330600",
        "bureau:330602",
        "bureau:330681",
        "bureau:330100",
        "bureau:330106",
        "bureau:440000",
        "bureau:440300",
        "bureau:110000",
        "bureau:110105",
        "police:330681",
        "procuratorate:330681",
        "telecom:330681",
        "telecom:330600",
    ]
)


class World:
    def __init__(self, participants: frozenset[Address] = PARTICIPANTS) -> None:
        self.memory = InMemoryRoutingMemory()
        self.ctx = RoutingContext(default_registry(), participants, self.memory)

    def route(self, message: Message) -> RoutingDecision:
        decision = decide(message, self.ctx)
        self.memory.remember(RoutedRecord.of(message, decision))
        return decision


def routes(decision: RoutingDecision) -> set[tuple[str, Rule]]:
    return {(str(d.recipient), d.rule) for d in decision.deliveries}


def refused(world: World, message: Message) -> RoutingRefused:
    with pytest.raises(RoutingRefused) as info:
        decide(message, world.ctx)
    return info.value


def mix_records(count: int) -> list[RoutedRecord]:
    """What the router remembers of the first `count` messages of the bench's mix, routed among the
    bench's participants (broker/tools/bench/run.py)."""
    from broker.tools.bench.run import PARTICIPANTS as BENCH_PARTICIPANTS
    from broker.tools.bench.run import mix_message

    context = RoutingContext(
        default_registry(), frozenset(Address.parse(a) for a in BENCH_PARTICIPANTS), InMemoryRoutingMemory()
    )
    return [RoutedRecord.of(m, decide(m, context)) for m in (mix_message(n)[0] for n in range(count))]
