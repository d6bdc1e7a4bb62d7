"""Who a message will be delivered to, computed on the sender's side before sealing.

The routing decision is a pure function of the message, the participants list and what the router
remembers; the client runs the same function (broker/domain/routing.py `decide`), so it seals for
exactly the recipients the router will choose. The router's memory is the one input a client does
not have in full: for replies, forwards and transfers the client passes a memory of the messages it
took part in (an `InMemoryRoutingMemory` of the RoutedRecords of what it sent and received, which
needs the router to tell each recipient the decision's deliveries with its copy). Where the
client's view falls short (a transfer the router reroutes to the common superior), the router finds
a recipient that cannot open the message and refuses it with a notice, as for any wrong sealing.
"""

from __future__ import annotations

from collections.abc import Iterable

from broker.domain.address import Address
from broker.domain.jurisdictions import Registry, default_registry
from broker.domain.messages import Message
from broker.domain.routing import InMemoryRoutingMemory, RoutingContext, RoutingMemory, decide


def recipients_of(
    message: Message,
    participants: Iterable[Address | str],
    *,
    memory: RoutingMemory | None = None,
    registry: Registry | None = None,
) -> tuple[str, ...]:
    """The addresses the router will deliver this message to, in its decision's order. Raises the
    router's RoutingRefused when it would refuse the message, so the sender learns before sending."""
    context = RoutingContext(
        registry=registry or default_registry(),
        participants=frozenset(p if isinstance(p, Address) else Address.parse(p) for p in participants),
        memory=memory if memory is not None else InMemoryRoutingMemory(),
    )
    return tuple(str(a) for a in decide(message, context).recipients)
