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
from broker.sealing import INTERNATIONAL, Sealing, directory, keys
from broker.tools.demo.clock import ScaledClock


@dataclass(frozen=True)
class DemoKeys:
    parties: dict[Address, Sealing]
    bodies: Bodies

    def for_party(self, address: Address, memory: InMemoryRoutingMemory) -> Sealing:
        """The party's sealing, computing recipients from `memory` (the ledger's, which holds every
        decision the campaign led to, a superset of what the party was delivered)."""
        return replace(self.parties[address], received=memory)


def demo_keys(addresses: frozenset[Address], start: datetime, clock: ScaledClock) -> DemoKeys:
    now = datetime.now(UTC)
    since = min(start, now) - timedelta(days=1)
    valid_for = now - since + timedelta(days=365)
    deployment = keys.generate_deployment_key(INTERNATIONAL)
    rings = {a: keys.generate(str(a), INTERNATIONAL, since, valid_for) for a in sorted(addresses)}
    found, _ = directory.build([g for ring in rings.values() for g in ring.public()], deployment, now)
    trusted = replace(deployment, private=None)
    parties = {a: Sealing(INTERNATIONAL, trusted, found, ring) for a, ring in rings.items()}
    bodies = Bodies(plaintext=False, sealing=Sealing(INTERNATIONAL, trusted, found), clock=clock.now)
    return DemoKeys(parties, bodies)
