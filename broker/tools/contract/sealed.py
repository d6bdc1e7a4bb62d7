"""JSON Schemas of the sealed form of each kind (schemas/sealing/FORMAT.md): the kind's own envelope,
its routing facts (the body's fields of broker/domain/sealed_view.py ROUTING_FACTS, with the body's
own definitions) and the sealed member. Written as schemas/v<version>/<kind>.sealed.schema.json and
named in the AsyncAPI document, so a validator in another language checks a sealed message's shape
as the router does; the cryptography is FORMAT.md's and the vectors'."""

from __future__ import annotations

from typing import Any

from broker.domain.kinds import PUBLISHED, Kind
from broker.domain.messages import MESSAGE_TYPES, SCHEMA_VERSION
from broker.domain.sealed_view import ROUTING_FACTS, UNSEALABLE, SealedBody
from broker.tools.contract.schema import _reachable, _refine, kind_definitions, schema_file

Schema = dict[str, Any]

SEALABLE = [k for k in MESSAGE_TYPES if k in PUBLISHED and k not in UNSEALABLE]
"""The kinds a participant may publish sealed, in the contract's order."""


def _sealed_body() -> dict[str, Schema]:
    """SealedBody and SealedRecipient, from the models the router validates the sealed member with."""
    raw = SealedBody.model_json_schema(mode="validation", ref_template="#/$defs/{model}")
    defs: dict[str, Schema] = raw.pop("$defs")
    defs["SealedBody"] = raw
    for definition in defs.values():
        _refine(definition)
    return defs


def _legal_basis_routing(legal_basis: Schema) -> Schema:
    """A referral's legal basis as the router reads it: the body's offence, nothing else."""
    return {
        "title": "LegalBasisRouting",
        "description": "A referral's legal basis as the router reads it: the offence only.",
        "type": "object",
        "additionalProperties": False,
        "required": ["offence"],
        "properties": {"offence": legal_basis["properties"]["offence"]},
    }


def sealed_definitions(kind: Kind, version: str = SCHEMA_VERSION) -> tuple[str, dict[str, Schema]]:
    """The named definitions of a kind's sealed form and the name of its schema (Sealed<Kind>)."""
    name, defs = kind_definitions(kind, version)
    plain = defs.pop(name)
    body_name = plain["properties"]["body"]["$ref"].removeprefix("#/$defs/")
    body = defs.pop(body_name)
    facts = ROUTING_FACTS.get(kind, ())
    routing: Schema = {
        "title": f"{name}Routing",
        "description": "The body fields the router routes this kind on, in clear and signed"
        if facts
        else "None: this kind is routed on its envelope alone",
        "type": "object",
        "additionalProperties": False,
        "properties": {},
    }
    for field in facts:
        if field == "legal_basis":
            routing["properties"][field] = {"$ref": "#/$defs/LegalBasisRouting"}
            defs["LegalBasisRouting"] = _legal_basis_routing(defs["LegalBasis"])
        else:
            routing["properties"][field] = body["properties"][field]
    if required := [f for f in body.get("required", []) if f in facts]:
        routing["required"] = required
    sealed_name = f"Sealed{name}"
    root: Schema = {
        "title": sealed_name,
        "description": f"A {kind.value} with its body sealed (schemas/sealing/FORMAT.md).",
        "type": "object",
        "additionalProperties": False,
        "required": ["envelope", "sealed", *(["routing"] if facts else [])],
        "properties": {
            "envelope": {"$ref": f"#/$defs/{name}Envelope"},
            "routing": {"$ref": f"#/$defs/{name}Routing"},
            "sealed": {"$ref": "#/$defs/SealedBody"},
        },
    }
    defs[f"{name}Routing"] = routing
    defs.update(_sealed_body())
    reachable = _reachable(root, defs)
    kept = {n: d for n, d in defs.items() if n in reachable}
    kept[sealed_name] = root
    return sealed_name, kept


def sealed_schema(kind: Kind, version: str = SCHEMA_VERSION) -> Schema:
    """One kind's sealed schema file, self-contained as the plaintext ones are."""
    return schema_file(f"{kind.value}.sealed.schema.json", *sealed_definitions(kind, version))
