"""The key directory: address → encryption and signing public keys, fingerprints, validity window,
revocation; signed by the deployment's key so a participant that trusts that one key trusts them all.

    {"format": "rb-key-directory/1", "issued_at": "...Z",
     "signer": {"suite", "kid", "public"},          # the deployment's key
     "entries": [generation, ...],                  # broker/sealing/keys.py Generation.to_json()
     "signature": "..."}                            # over JCS of the document without "signature"

Sealing uses an address's newest generation valid and unrevoked now; verifying looks a signer up by
its fingerprint and refuses it when revoked or outside its window at the time of verification.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from broker.sealing.encoding import b64u, canonical, parse_timestamp, timestamp, unb64u
from broker.sealing.errors import SealingError
from broker.sealing.keys import DeploymentKey, Generation, _document, _list, _public_key, _read
from broker.sealing.suites import Suite, suite

DIRECTORY_FORMAT = "rb-key-directory/1"


@dataclass(frozen=True)
class KeyDirectory:
    issued_at: datetime
    signer: DeploymentKey
    entries: tuple[Generation, ...]

    def sealing_key(self, address: str, the_suite: Suite, at: datetime) -> Generation:
        """The generation to seal for at this time: the address's newest one of this suite that is valid
        and not revoked. Refuses, naming the address and why, when there is none."""
        own = [g for g in self.entries if g.address == address]
        if not own:
            raise SealingError("recipients", f"{address} has no keys in the key directory")
        same_suite = [g for g in own if g.suite.id == the_suite.id]
        if not same_suite:
            raise SealingError("recipients", f"{address} has no {the_suite.id} keys (wrong suite)")
        refusals = []
        for generation in sorted(same_suite, key=lambda g: g.not_before, reverse=True):
            refusal = generation.refusal_at(at)
            if refusal is None:
                return generation
            refusals.append(refusal)
        raise SealingError("recipients", refusals[0])

    def by_signing_kid(self, kid: str) -> Generation | None:
        return next((g for g in self.entries if g.signing.kid == kid), None)

    def by_encryption_kid(self, kid: str) -> Generation | None:
        return next((g for g in self.entries if g.encryption.kid == kid), None)

    def revoked(self, kid: str, at: datetime) -> KeyDirectory:
        """The directory with the generation holding this key (encryption or signing) revoked."""
        hits = [g for g in self.entries if kid in (g.signing.kid, g.encryption.kid)]
        if not hits:
            raise SealingError("revoke", f"no key {kid} in the directory")
        return replace(
            self,
            entries=tuple(
                replace(g, revoked_at=g.revoked_at or at) if g in hits else g for g in self.entries
            ),
        )

    def unsigned_json(self) -> dict[str, Any]:
        return {
            "format": DIRECTORY_FORMAT,
            "issued_at": timestamp(self.issued_at),
            "signer": {k: v for k, v in self.signer.public_json().items() if k != "format"},
            "entries": [g.to_json() for g in self.entries],
        }


def build(
    generations: Iterable[Generation], deployment: DeploymentKey, at: datetime
) -> tuple[KeyDirectory, dict[str, Any]]:
    """A directory of these generations and its signed JSON. A fingerprint listed twice (two
    participants sharing a key, a file given twice) is refused."""
    entries = tuple(generations)
    seen: dict[str, str] = {}
    for g in entries:
        for kid in (g.encryption.kid, g.signing.kid):
            if kid in seen:
                raise SealingError(
                    "entries", f"key {kid} is listed for {seen[kid]} and again for {g.address}"
                )
            seen[kid] = g.address
    directory = KeyDirectory(at, replace(deployment, private=None), entries)
    return directory, sign(directory, deployment)


def carried(previous: KeyDirectory | None, generations: Iterable[Generation]) -> list[Generation]:
    """These generations, each as the directory before lists it when it does: a revocation is never
    undone by a participant's public keys file listing the key again."""
    held = {} if previous is None else {g.signing.kid: g for g in previous.entries}
    return [held.get(g.signing.kid, g) for g in generations]


def sign(directory: KeyDirectory, deployment: DeploymentKey) -> dict[str, Any]:
    if deployment.private is None:
        raise SealingError("deployment key", "the private deployment key is needed to sign the directory")
    document = replace(directory, signer=replace(deployment, private=None)).unsigned_json()
    signature = deployment.suite.sign(deployment.private, deployment.signing.public, canonical(document))
    return {**document, "signature": b64u(signature)}


def verify(document: object, trusted: DeploymentKey) -> KeyDirectory:
    """The directory, once its signature is checked against the deployment key the participant was
    given (never the key the document names itself)."""
    if not isinstance(document, dict):
        raise SealingError("directory", "must be a JSON object")
    if document.get("format") != DIRECTORY_FORMAT:
        raise SealingError("directory.format", f"must be {DIRECTORY_FORMAT!r}")
    signer = document.get("signer")
    if not isinstance(signer, dict):
        raise SealingError("directory.signer", "must be a JSON object")
    signer_suite = suite(signer.get("suite"), "directory.signer.suite")
    named = _public_key(signer, signer_suite, "directory.signer")
    if signer_suite.id != trusted.suite.id or named.public != trusted.signing.public:
        raise SealingError(
            "directory.signer", f"is {named.kid}, not the trusted deployment key {trusted.signing.kid}"
        )
    unsigned = {k: v for k, v in document.items() if k != "signature"}
    signature = unb64u(document.get("signature"), "directory.signature")
    if not trusted.suite.verify(trusted.signing.public, canonical(unsigned), signature):
        raise SealingError(
            "directory.signature", "does not verify with the deployment key: the directory was altered"
        )
    entries = tuple(
        Generation.from_json(e, f"directory.entries.{i}")
        for i, e in enumerate(_list(document.get("entries"), "directory.entries"))
    )
    issued = parse_timestamp(document.get("issued_at"), "directory.issued_at")
    return KeyDirectory(issued, trusted, entries)


def save(document: dict[str, Any], path: str | Path) -> None:
    Path(path).write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def load(path: str | Path, trusted: DeploymentKey) -> KeyDirectory:
    return verify(_document(_read(path), DIRECTORY_FORMAT, str(path)), trusted)
