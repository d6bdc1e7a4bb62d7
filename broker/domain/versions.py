"""The contract versions this broker reads and what each minor version added. Pure.

2.1 is additive: every 2.0 message is a 2.1 message but for its ``schema_version``. So one set of
models (messages.py) describes both, and this table says what a 2.0 message may not use: the kinds
and the optional fields that came with 2.1. A 2.0 message that uses one is refused naming it, as
a validator of 2.0 (schemas/v2.0/) refuses it, since the contract forbids unknown fields and kinds.
A later minor version adds its entry here, and its schemas are generated beside the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from broker.domain.kinds import Kind


@dataclass(frozen=True)
class Additions:
    """What a minor version added to the one before it."""

    kinds: frozenset[Kind]
    case_fields: frozenset[str] = frozenset()
    """Optional fields of the envelope's case facts (CaseFacts)."""
    body_fields: dict[Kind, frozenset[str]] = field(default_factory=dict)
    """Optional body fields, per kind."""


ADDED_IN: dict[str, Additions] = {
    "2.1": Additions(
        kinds=frozenset(
            {
                Kind.DELIVERY_REFUSED,
                Kind.TRANSFER_DECLINED,
                Kind.RECONSIDERATION_DECISION,
                Kind.SUPERVISION_SUGGESTION,
                Kind.JURISDICTION_REQUEST,
                Kind.ADMINISTRATIVE_INTERVIEW,
                Kind.JOINT_ACTION,
                Kind.SUPERVISION_REPORT,
                Kind.ASSESSMENT_REQUEST,
                Kind.ASSESSMENT_RESULT,
            }
        ),
        case_fields=frozenset(
            {"own_lawful_business", "profit_from_use_cny", "other_especially_serious_circumstances"}
        ),
        body_fields={Kind.POLICE_REFERRAL: frozenset({"legal_basis"})},
    ),
}
"""Per version: what it added. Kinds and fields not named here are those of 2.0."""

READ_VERSIONS: tuple[str, ...] = ("2.0", *ADDED_IN)
"""The versions this broker reads, oldest first; the last is messages.SCHEMA_VERSION, the one it writes."""

BASE_VERSION = READ_VERSIONS[0]


def _later(version: str) -> list[tuple[str, Additions]]:
    return [(v, a) for v, a in ADDED_IN.items() if READ_VERSIONS.index(v) > READ_VERSIONS.index(version)]


def kinds_of(version: str) -> frozenset[Kind]:
    """The kinds of one version this broker reads."""
    later = {k for _, a in _later(version) for k in a.kinds}
    return frozenset(k for k in Kind if k not in later)


def added_in(kind: Kind) -> str:
    """The version that introduced a kind."""
    return next((v for v, a in ADDED_IN.items() if kind in a.kinds), BASE_VERSION)


def case_fields_after(version: str) -> frozenset[str]:
    """The case-fact fields a message of this version may not use."""
    return frozenset(f for _, a in _later(version) for f in a.case_fields)


def body_fields_after(version: str, kind: Kind) -> frozenset[str]:
    """The body fields of this kind a message of this version may not use."""
    return frozenset(f for _, a in _later(version) for f in a.body_fields.get(kind, ()))


def later_fields(version: str, kind: Kind, data: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, reason) for each field of a later version this message uses, by its presence in the
    decoded JSON (a field given with its default value is still unknown to a validator of `version`)."""
    if version == READ_VERSIONS[-1]:
        return []  # the current version has everything (and is what nearly every message is)
    found: list[tuple[str, str]] = []
    envelope, body = data.get("envelope"), data.get("body")
    case = envelope.get("case") if isinstance(envelope, dict) else None
    for where, given, names in (
        ("envelope.case", case, case_fields_after(version)),
        ("body", body, body_fields_after(version, kind)),
    ):
        if isinstance(given, dict):
            for name in sorted(names & set(given)):
                found.append((f"{where}.{name}", _reason(version, name)))
    return found


def _reason(version: str, name: str) -> str:
    since = next(
        v
        for v, a in _later(version)
        if name in a.case_fields | {f for s in a.body_fields.values() for f in s}
    )
    return f"not part of contract {version}: added in {since}; send schema_version {since}"


def oldest_for(kind: Kind, data: dict[str, Any]) -> str:
    """The oldest version that carries this message (its kind and every field it uses): what the
    broker writes its own messages in, so a recipient still validating an older version reads them
    (a deadline_notice stays 2.0 for a 2.0 reader; a delivery_refused is 2.1, its kind's version)."""
    version = added_in(kind)
    return version if not later_fields(version, kind, data) else READ_VERSIONS[-1]
