"""Jurisdiction disputes over a transferred case (SAMR administrative penalty procedure rules, Art. 14
as recalled: a bureau that receives a case by transfer and disputes its jurisdiction reports to the
common superior, which designates, and may not transfer it on itself): who holds the case by
transfer, who handed it over, and which superior designates. Pure: the router's memory is the one
input.

No stored text of the SAMR rules' jurisdiction articles was found, so the article number is our
recollection; the rule itself (受移送的…对管辖权有异议的，应当报请共同上一级…指定管辖，不得再自行移送)
is confirmed by a stored text of the rules they replaced (the SAIC administrative penalty procedure
rules, Art. 11) and by the Administrative Penalty Law's own rule (对管辖发生争议的，报请共同的上一级
行政机关指定管辖; a stored text of the 1996 law, Art. 21)."""

from __future__ import annotations

from dataclasses import dataclass

from broker.domain.address import Address
from broker.domain.jurisdictions import Registry
from broker.domain.messages import Kind
from broker.domain.routing_values import RoutedRecord, RoutingMemory, bureau_of


@dataclass(frozen=True)
class Held:
    """A case a bureau received by transfer, forward or designation."""

    received: RoutedRecord
    """The latest message by which it received the case."""
    how: str
    """How the case was recognised, for the routing reason (never the company's code)."""


def held_by_transfer(
    memory: RoutingMemory, case_id: str, subjects: frozenset[str], bureau: Address
) -> Held | None:
    """The case this bureau holds by transfer: by its case id, or by what it is about (the same
    company and violation under another number, since every bureau numbers cases its own way)."""
    received = memory.received_by_transfer(case_id, bureau)
    if received is not None:
        return Held(received, f"case {case_id}")
    received = memory.subject_received_by_transfer(subjects, bureau)
    if received is not None:
        return Held(received, "a case about the same company and violation")
    return None


def transferor(received: RoutedRecord, memory: RoutingMemory) -> Address:
    """Who handed the case to the bureau: the sender of the transfer, the origin of a transfer a
    provincial hub forwarded, or the superior that designated the bureau."""
    if received.forwards is not None:
        original = memory.original(received.forwards)
        if original is not None:
            return original.sender
    return received.sender


def designator(received: RoutedRecord, holder: Address, memory: RoutingMemory, registry: Registry) -> Address:
    """The superior that designates when ``holder`` disputes the case it received: the common superior
    of the bureau that transferred it and the holder, the two parties of the dispute (not the holder
    and whoever it would pass the case to); a superior that already designated the holder decides
    again."""
    if received.kind is Kind.JURISDICTION_DESIGNATION:
        return received.sender
    return bureau_of(registry.designating_superior(transferor(received, memory).code, holder.code))


def dispute_reason(held: Held, holder: Address, common: Address, memory: RoutingMemory) -> str:
    if held.received.kind is Kind.JURISDICTION_DESIGNATION:
        who = f"the superior {common} that designated it decides again"
    else:
        who = f"{common}, the common superior of it and {transferor(held.received, memory)}, designates"
    return (
        f"{holder} received {held.how} by transfer and may not transfer it on; {who} (SAMR procedure "
        "rules on jurisdiction, Art. 14 as recalled)"
    )


def parties(original: RoutedRecord, memory: RoutingMemory) -> list[Address]:
    """Who a designation answering ``original`` (a disputed re-transfer or a jurisdiction request)
    concerns besides the designated bureau: its sender, whom it named, and, for a disputed transfer,
    the bureau that transferred the case to its sender."""
    out = [original.sender, *original.to]
    if original.kind is Kind.CASE_TRANSFER:
        held = held_by_transfer(memory, original.case_id, original.subjects, original.sender)
        if held is not None and held.received.kind is not Kind.JURISDICTION_DESIGNATION:
            out.append(transferor(held.received, memory))
    return out
