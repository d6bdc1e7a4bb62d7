"""How a quarantined message is named, and what of its envelope may be told about it. Pure.

The router quarantines input it could not route unchanged, so nothing about it is trusted: the
AMQP message_id is copied only when it is a UUID, and the envelope may not parse at all. Every
quarantined message therefore gets a stable id an operator can type:

- the envelope's `message_id` when it can be read and is a UUID (so `trace`, `tail` and the
  sender's own records agree on it);
- else the AMQP message_id when it is a UUID;
- else `sha256:` and the first 16 hex digits of the SHA-256 of the body, which the router also
  writes in full as the `x-quarantine-digest` header. The same bytes always get the same id.

Kind, sender and case id are read from the envelope only when each passes its own contract check
(a known kind, a well-formed address, a case number of the 2.0 shape), so a value a participant
chose that might hold personal data never reaches a header, a record or a terminal.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from broker.domain.address import Address, AddressError
from broker.domain.case import CASE_ID_PATTERN
from broker.domain.messages import Kind

DIGEST_PREFIX = "sha256:"
DIGEST_ID_LENGTH = 16
"""Hex digits of the body's digest in an id: 64 bits, no collision among any realistic quarantine."""

MAX_ENVELOPE_BYTES = 4 << 20
"""Larger bodies are not parsed for the facts (the router's contract check refuses them anyway)."""

_CASE_ID = re.compile(CASE_ID_PATTERN)


def digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def digest_id(body_digest: str) -> str:
    return f"{DIGEST_PREFIX}{body_digest[:DIGEST_ID_LENGTH]}"


@dataclass(frozen=True)
class Facts:
    """What could be read of a quarantined message's envelope; None where it could not."""

    message_id: str | None = None
    kind: str | None = None
    sender: str | None = None
    case_id: str | None = None


def canonical_uuid(value: Any) -> str | None:
    """`value` as a canonical UUID string when it is one, else None: never other text."""
    if not isinstance(value, str):
        return None
    try:
        return str(UUID(value))
    except ValueError:
        return None


def envelope_facts(body: bytes) -> Facts:
    """The envelope's id, kind, claimed sender and case id, each only if it is well formed."""
    if len(body) > MAX_ENVELOPE_BYTES:
        return Facts()
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return Facts()
    envelope = document.get("envelope") if isinstance(document, dict) else None
    if not isinstance(envelope, dict):
        return Facts()
    kind = envelope.get("kind")
    sender = envelope.get("sender")
    case_id = envelope.get("case_id")
    return Facts(
        message_id=canonical_uuid(envelope.get("message_id")),
        kind=kind if isinstance(kind, str) and kind in Kind._value2member_map_ else None,
        sender=_address(sender),
        case_id=case_id if isinstance(case_id, str) and _CASE_ID.fullmatch(case_id) else None,
    )


def _address(value: Any) -> str | None:
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        return str(Address.parse(value))
    except AddressError:
        return None


def quarantine_id(facts: Facts, amqp_message_id: str | None, body_digest: str) -> str:
    """The operator's name for a quarantined message (see the module's docstring)."""
    return facts.message_id or canonical_uuid(amqp_message_id) or digest_id(body_digest)


def matches(wanted: str, quarantine_id_: str, body_digest: str) -> bool:
    """Whether an id an operator typed names this message: its id, or its digest (whole, or with
    or without the prefix, at least DIGEST_ID_LENGTH digits of it)."""
    wanted = wanted.strip().lower()
    if wanted == quarantine_id_.lower():
        return True
    hex_part = wanted.removeprefix(DIGEST_PREFIX)
    return len(hex_part) >= DIGEST_ID_LENGTH and body_digest.startswith(hex_part)
