"""The demo's sealed bodies: keys for every participant of the cast, made here as each participant's
`keys generate` would on its own machine, a key directory signed by a deployment key of the demo's
own, each simulated participant's Sealing, and the router's body policy (sealed bodies only).

The simulated clock runs in the campaign's year while sealing happens now: the keys are valid from
the campaign's start to a year from now, so both the senders' and the router's times fall inside.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from broker.domain.address import Address
from broker.domain.routing import InMemoryRoutingMemory
from broker.router.bodies import Bodies
from broker.sealing import INTERNATIONAL, Sealing
from broker.sealing.registration import make_keys
from broker.tools.demo.clock import ScaledClock


@dataclass(frozen=True)
class DemoKeys:
    parties: dict[str, Sealing]
    bodies: Bodies

    def for_party(self, address: Address, memory: InMemoryRoutingMemory) -> Sealing:
        """The party's sealing, computing recipients from `memory` (the ledger's, which holds every
        decision the campaign led to, a superset of what the party was delivered)."""
        return replace(self.parties[str(address)], received=memory)


def demo_keys(addresses: frozenset[Address], start: datetime, clock: ScaledClock) -> DemoKeys:
    now = datetime.now(UTC)
    since = min(start, now) - timedelta(days=1)
    valid_for = now - since + timedelta(days=365)
    made = make_keys([str(a) for a in addresses], INTERNATIONAL, since, valid_for, now)
    return DemoKeys(made.parties, Bodies(plaintext=False, sealing=made.router, clock=clock.now))
