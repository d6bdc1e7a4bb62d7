"""The sealing setup of one side, loaded once: what the client and the router call.

    sealing = Sealing.load("national", "key-directory.json", "deployment.public.json", "bureau.keyring.json")
    wire = sealing.seal(message, participants, memory=own_memory)     # client, before publishing
    sealing.check(json.loads(raw), decision.recipients)               # router, before delivering
    plain = sealing.open(json.loads(raw))                             # recipient, on delivery

Verification works on the message as parsed from the wire, never on a model dumped again: the
signature covers the sender's JSON, and a re-serialisation may differ (defaults, omitted nulls).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from broker.domain.address import Address
from broker.domain.messages import Message
from broker.domain.routing import InMemoryRoutingMemory, NotAParticipant, RoutingMemory, Rule
from broker.domain.routing_values import received_record
from broker.domain.sealed_view import UNSEALABLE, routing_facts, same_facts
from broker.domain.validation import ContractError, validate_message
from broker.sealing import directory, keys
from broker.sealing.directory import KeyDirectory
from broker.sealing.errors import SealingError
from broker.sealing.keys import DeploymentKey, KeyRing
from broker.sealing.recipients import recipients_of
from broker.sealing.sealed import check_for_router, open_message, seal_message
from broker.sealing.suites import Suite, suite
from broker.settings import SealingSettings


@dataclass(frozen=True)
class Sealing:
    suite: Suite
    trusted: DeploymentKey
    directory: KeyDirectory
    ring: KeyRing | None = None
    """The participant's own keys; None for the router, which opens nothing."""
    received: InMemoryRoutingMemory = field(default_factory=InMemoryRoutingMemory, compare=False)
    """What this participant was delivered, for the recipients of its answers and forwards."""

    @classmethod
    def load(
        cls,
        suite_name: str,
        directory_path: str | Path,
        deployment_public_path: str | Path,
        keyring_path: str | Path | None = None,
    ) -> Sealing:
        trusted = keys.load_deployment_public(deployment_public_path)
        ring = keys.load_keyring(keyring_path) if keyring_path is not None else None
        return cls(suite(suite_name), trusted, directory.load(directory_path, trusted), ring)

    @classmethod
    def of_participant(cls, settings: SealingSettings) -> Sealing | None:
        """A participant's sealing from RB_KEYRING, RB_KEY_DIRECTORY, RB_DEPLOYMENT_PUBLIC_KEY and
        RB_SEALING_SUITE; None when no key ring is configured (bodies go in clear)."""
        if not settings.keyring:
            return None
        s = settings
        return cls.load(s.suite, s.key_directory, s.deployment_public_key, s.keyring)

    def with_directory(self, document: object) -> Sealing:
        """The setup with a newly published directory, verified, and refused when older than the one
        held: a replayed old directory would bring back revoked keys."""
        new = directory.verify(document, self.trusted)
        if new.issued_at < self.directory.issued_at:
            raise SealingError("directory.issued_at", "is older than the directory already held")
        return replace(self, directory=new)

    def seal(
        self,
        message: Message,
        participants: Iterable[Address | str],
        *,
        memory: RoutingMemory | None = None,
        at: datetime | None = None,
    ) -> dict[str, Any]:
        """The wire form of the message, sealed for the recipients the router will choose."""
        if self.ring is None:
            raise SealingError("keyring", "sealing needs the participant's key ring")
        plain = json.loads(message.model_dump_json(exclude_none=True))
        try:
            recipients = recipients_of(message, participants, memory=memory)
        except NotAParticipant as exc:  # among the participants the directory lists, that is
            raise SealingError(
                "recipients",
                f"{exc.recipient}, a recipient of this message, has no keys in the key directory: nothing "
                "can be sealed for it until it hands over its public keys (or it is not provisioned)",
            ) from None
        return seal_message(
            plain,
            recipients,
            ring=self.ring,
            directory=self.directory,
            the_suite=self.suite,
            at=at or datetime.now(UTC),
            routing=routing_facts(message),
        )

    def open(self, wire: object, at: datetime | None = None) -> dict[str, Any]:
        """The plaintext message {"envelope", "body"}, once its signature verified and its clear
        routing facts found to be its body's (the router routed on them); for validate_message."""
        return self._opened(wire, at)[0]

    def _opened(self, wire: object, at: datetime | None) -> tuple[dict[str, Any], Message]:
        """The plaintext message and its model, once verified, opened and its routing facts checked."""
        if self.ring is None:
            raise SealingError("keyring", "opening needs the participant's key ring")
        plain = open_message(
            wire, ring=self.ring, directory=self.directory, at=at or datetime.now(UTC), expected=self.suite
        )
        try:
            message = validate_message(plain)
        except ContractError as exc:
            raise SealingError(f"opened {exc.field}", f"breaks the contract: {exc}") from None
        stated = wire.get("routing") if isinstance(wire, dict) else None
        body_model: type[Any] = type(message.body)
        if not same_facts(message.KIND, body_model, stated, routing_facts(message)):
            raise SealingError(
                "routing", "differs from the opened body: the router routed on facts the body does not state"
            )
        return plain, message

    def check(self, wire: object, recipients: Iterable[Address | str], at: datetime | None = None) -> None:
        """The router's check: the sender's signature, and that each recipient it decided on can open."""
        check_for_router(
            wire,
            [str(r) for r in recipients],
            directory=self.directory,
            at=at or datetime.now(UTC),
            expected=self.suite,
        )

    # ---- for the client library (broker/transport/client.py) ----

    def wire(self, message: Message) -> bytes:
        """The sealed message's bytes, for the recipients the router will choose among the
        directory's participants, with what this participant was delivered as the router's memory."""
        if message.KIND in UNSEALABLE:  # the broker reads it, or writes it: never sealed
            return message.model_dump_json(exclude_none=True).encode("utf-8")
        participants = {g.address for g in self.directory.entries}
        sealed = self.seal(message, participants, memory=self.received)
        return json.dumps(sealed, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    def take(self, data: object, rule: str | None) -> Message:
        """A delivered message, opened when sealed (a plaintext one, from a sender in the transitional
        mode, is taken as it is), validated, and remembered for the recipients of its answers."""
        sealed = isinstance(data, dict) and "sealed" in data
        message = self._opened(data, None)[1] if sealed else validate_message(data)
        if self.ring is not None and rule is not None and rule in Rule._value2member_map_:
            self.received.remember(received_record(message, Address.parse(self.ring.address), Rule(rule)))
        return message
