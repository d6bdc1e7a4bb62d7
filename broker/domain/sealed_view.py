"""What the router reads of a sealed message: its envelope, and the few body fields a rule needs.

A sealed message (schemas/sealing/FORMAT.md) carries its body only as ciphertext. Most kinds route on
the envelope alone; for the kinds below a rule or the decision record reads a body field (who the
head referred on which clauses, which departments took part, which bureau is designated, whether a
reply completes the request). Those fields, and only those, travel in clear beside the ciphertext as
`routing`, signed with it; each recipient checks that they are the opened body's (`routing_facts`),
so a sender cannot route on facts its body does not state. None of them holds personal data: a
legal basis is routed on its offence only, never its citation or reason.

    {"envelope": {...}, "routing": {"approved_at": ..., "level": ..., ...}, "sealed": {...}}

The router validates the envelope and `routing` with the kind's own models (the errors are those of
a plaintext message, with `routing.` in place of `body.`), then its sealing check (broker/router/
bodies.py) verifies the signature and that each recipient it decided on can open the body.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Literal, cast

from pydantic import Field, create_model

from broker.domain.kinds import FROM_SYSTEM, GENERATED_ONLY, Kind
from broker.domain.messages import Message
from broker.domain.strict import StrictModel

ROUTING_FACTS: dict[Kind, tuple[str, ...]] = {
    Kind.POLICE_REFERRAL: ("approved_at", "threshold_version", "level", "clauses", "legal_basis"),
    Kind.JOINT_ACTION: ("departments",),
    Kind.JURISDICTION_DESIGNATION: ("designated",),
    Kind.ASSISTANCE_REPLY: ("complete",),
    Kind.EXTENSION_REQUEST: ("extra_working_days",),
    Kind.EXTENSION_DECISION: ("granted", "extra_working_days"),
    Kind.FILING_DECISION: ("decision",),
    Kind.DIRECTIVE: ("directive_type",),
}
"""The body fields each kind's routing reads (broker/domain/routing.py, decision_record.py); the
`routing` member of a sealed message holds exactly these. Other kinds route on the envelope alone."""

UNSEALABLE: frozenset[Kind] = FROM_SYSTEM | GENERATED_ONLY | {Kind.ASSESSMENT_REQUEST}
"""Kinds never sealed: the broker writes them (deadline notices, results; they name offices and
times, never people), or reads them itself (an assessment request, whose facts are in the envelope)."""


_B64U = r"^[A-Za-z0-9_-]+$"
_KID = r"^(sha256|sm3):[0-9a-f]{64}$"


class SealedRecipient(StrictModel):
    """The content key wrapped for one recipient's encryption key (kid); epk in rb-intl-1 only."""

    kid: str = Field(pattern=_KID, description="The recipient's encryption key fingerprint.")
    epk: str | None = Field(default=None, pattern=_B64U, max_length=100)
    wrapped: str = Field(pattern=_B64U, max_length=400)


class SealedBody(StrictModel):
    """The body sealed for its recipients and signed: the shape of schemas/sealing/FORMAT.md, format 1.
    Its cryptography (the signature, the recipients' keys) is the router's sealing check."""

    v: Literal[1] = Field(description="The sealing format's version.")
    suite: Literal["rb-intl-1", "rb-sm-1"]
    recipients: list[SealedRecipient] = Field(min_length=1, max_length=100)
    nonce: str = Field(pattern=r"^[A-Za-z0-9_-]{16}$", description="12 bytes, b64u.")
    ciphertext: str = Field(pattern=r"^[A-Za-z0-9_-]{22,}$", description="AEAD(body) with its tag, b64u.")
    signer: str = Field(pattern=_KID, description="The sender's signing key fingerprint.")
    signature: str = Field(pattern=_B64U, max_length=200)


class LegalBasisRouting(StrictModel):
    """A referral's legal basis as the router reads it: the offence, not the citation or the reason."""

    offence: Literal["infringing_personal_information", "other_offence"]


_REPLACED: dict[str, tuple[Any, Any]] = {"legal_basis": (LegalBasisRouting | None, None)}
"""Routing facts that are not the body's field as it is (a legal basis: its offence only)."""


class SealedMessage:
    """Marks a message model whose body is the routing facts of a sealed message, not the body."""


def is_sealed(message: Message) -> bool:
    return isinstance(message, SealedMessage)


@cache
def routing_model(kind: Kind, body_model: type[StrictModel]) -> type[StrictModel]:
    """The model of a kind's `routing` member: its ROUTING_FACTS fields, as the body model has them."""
    names = ROUTING_FACTS.get(kind, ())
    fields: dict[str, Any] = {}
    for name in names:
        if name in _REPLACED:
            fields[name] = _REPLACED[name]
        else:
            info = body_model.model_fields[name]
            fields[name] = (info.annotation, info)
    return create_model(f"{body_model.__name__}Routing", __base__=StrictModel, **fields)


@cache
def sealed_model(model: type[Message]) -> type[Message]:
    """The message model of a sealed `model`: the same envelope rules, its body the routing facts."""
    body_model = model.model_fields["body"].annotation
    assert isinstance(body_model, type) and issubclass(body_model, StrictModel)
    facts = routing_model(model.KIND, body_model)
    namespace = {
        "__module__": __name__,
        "__annotations__": {"body": facts, "sealed": SealedBody},
        "body": Field(default_factory=facts),
    }
    return cast(type[Message], type(f"Sealed{model.__name__}", (model, SealedMessage), namespace))


def routing_facts(message: Message) -> dict[str, Any]:
    """The `routing` member for this (plaintext) message: the body fields its routing reads, as JSON.
    Empty for kinds that route on the envelope alone."""
    names = ROUTING_FACTS.get(message.KIND, ())
    if not names:
        return {}
    body = message.body.model_dump(mode="json", include=set(names), exclude_none=True)
    if isinstance(body.get("legal_basis"), dict):
        body["legal_basis"] = {"offence": body["legal_basis"]["offence"]}
    body_model: type[StrictModel] = type(message.body)
    model = routing_model(message.KIND, body_model)
    return model.model_validate(body).model_dump(mode="json", exclude_none=True)


def same_facts(kind: Kind, body_model: type[StrictModel], routing: Any, opened: dict[str, Any]) -> bool:
    """Whether a sealed message's clear `routing` member states what its opened body does."""
    model = routing_model(kind, body_model)
    try:
        stated = model.model_validate(routing or {}).model_dump(mode="json", exclude_none=True)
    except ValueError:
        return False
    return stated == opened
