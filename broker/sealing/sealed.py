"""Seal, open, sign and verify a message. schemas/sealing/FORMAT.md describes the bytes.

A sealed message is the plaintext message with its body replaced:

    {"envelope": {...as before, in clear: the router routes on it...},
     "sealed": {"v": 1, "suite": "rb-intl-1",
                "recipients": [{"kid": "sha256:…", "epk": "…", "wrapped": "…"}, ...],
                "nonce": "…", "ciphertext": "…",          # AEAD(body), tag appended
                "signer": "sha256:…", "signature": "…"}}

The body's AEAD authenticates JCS({"envelope", "suite", "v"}), so a ciphertext moved under another
envelope does not open; the signature covers JCS({"envelope", "sealed" without "signature" and with
the ciphertext's digest in place of the ciphertext}), so the router and each recipient prove who
wrote envelope and body together without opening it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from broker.sealing.directory import KeyDirectory
from broker.sealing.encoding import b64u, canonical, unb64u
from broker.sealing.errors import SealingError
from broker.sealing.keys import Generation, KeyRing
from broker.sealing.suites import NONCE_SIZE, TAG_SIZE, Suite, Unopenable, random_bytes, suite

VERSION = 1
_FINGERPRINT = re.compile(r"(sha256|sm3):[0-9a-f]{64}")
_MEMBERS = {"v", "suite", "recipients", "nonce", "ciphertext", "signer", "signature"}


@dataclass(frozen=True)
class Recipient:
    kid: str
    wrap: dict[str, object]
    """The suite's wrap fields (international: epk and wrapped; national: wrapped)."""


@dataclass(frozen=True)
class Sealed:
    suite: Suite
    recipients: tuple[Recipient, ...]
    nonce: bytes
    ciphertext: bytes
    signer: str
    signature: bytes

    @classmethod
    def parse(cls, data: object) -> Sealed:
        """The sealed member checked for shape; refuses, naming the field, before any cryptography."""
        if not isinstance(data, dict):
            raise SealingError("sealed", "must be a JSON object")
        # Neither unknown names nor values are echoed: a message's fields may hold anything.
        for n, name in enumerate(data, 1):
            if name not in _MEMBERS:
                raise SealingError("sealed", f"member #{n} is not part of the sealed format")
        if data.get("v") != VERSION:
            raise SealingError("sealed.v", f"must be {VERSION}, the version this library reads")
        the_suite = suite(data.get("suite"), "sealed.suite")
        recipients = _recipients(data.get("recipients"))
        nonce = unb64u(data.get("nonce"), "sealed.nonce")
        if len(nonce) != NONCE_SIZE:
            raise SealingError("sealed.nonce", f"must be {NONCE_SIZE} bytes")
        ciphertext = unb64u(data.get("ciphertext"), "sealed.ciphertext")
        if len(ciphertext) < TAG_SIZE:
            raise SealingError("sealed.ciphertext", "is shorter than its authentication tag")
        signer = data.get("signer")
        if not isinstance(signer, str):
            raise SealingError("sealed.signer", "must be the signing key's fingerprint")
        signature = unb64u(data.get("signature"), "sealed.signature")
        return cls(the_suite, recipients, nonce, ciphertext, signer, signature)

    def unsigned_json(self) -> dict[str, Any]:
        return {
            "v": VERSION,
            "suite": self.suite.id,
            "recipients": [{"kid": r.kid, **r.wrap} for r in self.recipients],
            "nonce": b64u(self.nonce),
            "ciphertext": b64u(self.ciphertext),
            "signer": self.signer,
        }

    def to_json(self) -> dict[str, Any]:
        return {**self.unsigned_json(), "signature": b64u(self.signature)}


def _shown(kid: str) -> str:
    """A fingerprint as it goes into an error: only when it is one, since the field may hold anything."""
    return kid if _FINGERPRINT.fullmatch(kid) else "(not a fingerprint)"


def content_aad(envelope: Mapping[str, Any], the_suite: Suite) -> bytes:
    return canonical({"envelope": dict(envelope), "suite": the_suite.id, "v": VERSION})


def signed_bytes(
    envelope: Mapping[str, Any], sealed: Sealed, routing: Mapping[str, Any] | None = None
) -> bytes:
    """JCS of the envelope, the clear routing facts when the message has them, and the sealed member
    without its signature, the ciphertext replaced by its digest: the signature then costs the same
    for any body size (SM2's own SM3 is pure Python, and slow on 64 KiB), and the digest binds the
    ciphertext all the same."""
    unsigned = sealed.unsigned_json()
    del unsigned["ciphertext"]
    unsigned["ciphertext_digest"] = b64u(sealed.suite.digest(sealed.ciphertext))
    signed: dict[str, Any] = {"envelope": dict(envelope), "sealed": unsigned}
    if routing is not None:
        signed["routing"] = dict(routing)
    return canonical(signed)


def seal(
    envelope: Mapping[str, Any],
    body: bytes,
    recipients: Iterable[str],
    *,
    ring: KeyRing,
    directory: KeyDirectory,
    the_suite: Suite,
    at: datetime,
    routing: Mapping[str, Any] | None = None,
) -> Sealed:
    """Seal the body for these addresses' current keys and sign it with the ring's current key.

    Refuses a recipient without a valid, unrevoked key of this suite, and a signing key the directory
    does not list for the envelope's sender or lists as revoked or expired."""
    mine = ring.current(at)
    if mine.public.suite.id != the_suite.id:
        raise SealingError(
            "keyring", f"{ring.address}'s current keys are {mine.public.suite.id}, not {the_suite.id}"
        )
    if envelope.get("sender") != ring.address:
        raise SealingError("envelope.sender", f"is not the key ring's address {ring.address}")
    listed = directory.by_signing_kid(mine.public.signing.kid)
    if listed is None or listed.address != ring.address:
        raise SealingError(
            "keyring", f"{ring.address}'s signing key {mine.public.signing.kid} is not in the key directory"
        )
    if refusal := listed.refusal_at(at):
        raise SealingError("keyring", refusal)
    addresses = sorted(set(recipients))
    if not addresses:
        raise SealingError("recipients", "a sealed message needs at least one recipient")
    keys = [directory.sealing_key(a, the_suite, at) for a in addresses]
    content_key = random_bytes(the_suite.content_key_size)
    nonce = random_bytes(NONCE_SIZE)
    unsigned = Sealed(
        the_suite,
        tuple(
            Recipient(k.encryption.kid, dict(the_suite.wrap(content_key, k.encryption.public))) for k in keys
        ),
        nonce,
        the_suite.encrypt(content_key, nonce, body, content_aad(envelope, the_suite)),
        mine.public.signing.kid,
        b"",
    )
    signature = the_suite.sign(
        mine.signing_private, mine.public.signing.public, signed_bytes(envelope, unsigned, routing)
    )
    return Sealed(unsigned.suite, unsigned.recipients, nonce, unsigned.ciphertext, unsigned.signer, signature)


def verify(
    envelope: Mapping[str, Any],
    sealed: Sealed,
    directory: KeyDirectory,
    at: datetime,
    expected: Suite,
    routing: Mapping[str, Any] | None = None,
) -> Generation:
    """Check who signed: the signer's key must be the envelope sender's, in the directory, valid and
    unrevoked at `at`, and its signature must cover this envelope and sealed body. Returns the
    signer's directory entry."""
    if sealed.suite.id != expected.id:
        raise SealingError("sealed.suite", f"is {sealed.suite.id}; this deployment uses {expected.id}")
    signer = directory.by_signing_kid(sealed.signer)
    if signer is None:
        raise SealingError(
            "sealed.signer", f"unknown fingerprint {_shown(sealed.signer)}: not in the key directory"
        )
    if signer.address != envelope.get("sender"):
        raise SealingError("sealed.signer", f"is a key of {signer.address}, not of the envelope's sender")
    if signer.suite.id != sealed.suite.id:
        raise SealingError("sealed.suite", f"is {sealed.suite.id}, but the signer's key is {signer.suite.id}")
    if refusal := signer.refusal_at(at):
        raise SealingError("sealed.signer", refusal)
    signed = signed_bytes(envelope, sealed, routing)
    if not sealed.suite.verify(signer.signing.public, signed, sealed.signature):
        raise SealingError(
            "sealed.signature", "does not verify: the envelope or sealed body was altered after signing"
        )
    return signer


def open_body(envelope: Mapping[str, Any], sealed: Sealed, ring: KeyRing) -> bytes:
    """The body, opened with whichever of the ring's keys (old generations too) it was sealed for.
    Does not check the signature: call verify as well (open_message does both)."""
    for i, recipient in enumerate(sealed.recipients):
        mine = ring.for_encryption_kid(recipient.kid)
        if mine is None:
            continue
        if mine.public.suite.id != sealed.suite.id:
            raise SealingError(
                "sealed.suite", f"is {sealed.suite.id}, but {recipient.kid} is a {mine.public.suite.id} key"
            )
        try:
            content_key = sealed.suite.unwrap(
                recipient.wrap, mine.encryption_private, mine.public.encryption.public
            )
        except (Unopenable, SealingError) as exc:
            raise SealingError(
                f"sealed.recipients.{i}", f"the wrapped content key does not open ({exc})"
            ) from None
        try:
            return sealed.suite.decrypt(
                content_key, sealed.nonce, sealed.ciphertext, content_aad(envelope, sealed.suite)
            )
        except Unopenable:
            raise SealingError(
                "sealed.ciphertext", "does not authenticate: the body or the envelope was altered"
            ) from None
    raise SealingError("sealed.recipients", f"the message is not sealed for any key of {ring.address}")


def unopenable(sealed: Sealed, recipients: Iterable[str], directory: KeyDirectory, at: datetime) -> list[str]:
    """The addresses among these that hold no valid, unrevoked key the body is sealed for: what the
    router refuses when its decision names a recipient the sender did not seal for. Every
    fingerprint listed must be in the directory."""
    holders: set[str] = set()
    for i, recipient in enumerate(sealed.recipients):
        entry = directory.by_encryption_kid(recipient.kid)
        if entry is None:
            raise SealingError(
                f"sealed.recipients.{i}.kid",
                f"unknown fingerprint {_shown(recipient.kid)}: not in the key directory",
            )
        if entry.refusal_at(at) is None:
            holders.add(entry.address)
    return sorted(set(recipients) - holders)


# ---- whole messages ----


def seal_message(
    message: Mapping[str, Any],
    recipients: Iterable[str],
    *,
    ring: KeyRing,
    directory: KeyDirectory,
    the_suite: Suite,
    at: datetime,
    routing: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """{"envelope", "body"} → {"envelope", "routing", "sealed"}: the body's JSON (UTF-8) sealed, and
    signed with the envelope and the clear routing facts (given for the kinds that route on body
    fields, broker/domain/sealed_view.py)."""
    envelope = message["envelope"]
    body = json.dumps(message["body"], ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    sealed = seal(
        envelope,
        body,
        recipients,
        ring=ring,
        directory=directory,
        the_suite=the_suite,
        at=at,
        routing=routing or None,
    )
    clear = {"routing": dict(routing)} if routing else {}
    return {"envelope": envelope, **clear, "sealed": sealed.to_json()}


def split(message: object) -> tuple[dict[str, Any], Sealed]:
    if not isinstance(message, dict) or not isinstance(message.get("envelope"), dict):
        raise SealingError("envelope", "a sealed message is an object with an envelope object")
    if "body" in message:
        raise SealingError("body", "a sealed message carries no clear body")
    return message["envelope"], Sealed.parse(message.get("sealed"))


def routing_of(message: dict[str, Any]) -> dict[str, Any] | None:
    """The clear routing facts a sealed message carries beside its ciphertext, None when none."""
    routing = message.get("routing")
    if routing is not None and not isinstance(routing, dict):
        raise SealingError("routing", "must be a JSON object")
    return routing


def open_message(
    message: object, *, ring: KeyRing, directory: KeyDirectory, at: datetime, expected: Suite
) -> dict[str, Any]:
    """{"envelope", "sealed"} → {"envelope", "body"}, once the signature verifies and the body opens."""
    envelope, sealed = split(message)
    assert isinstance(message, dict)  # split checked
    verify(envelope, sealed, directory, at, expected, routing_of(message))
    body = open_body(envelope, sealed, ring)
    try:
        return {"envelope": envelope, "body": json.loads(body)}
    except ValueError:
        raise SealingError("sealed.ciphertext", "the opened body is not JSON") from None


def check_for_router(
    message: object, recipients: Iterable[str], *, directory: KeyDirectory, at: datetime, expected: Suite
) -> None:
    """What the router checks of a sealed message before it delivers (it cannot open it): the sender's
    signature, and that every recipient its decision names can open it. Raises SealingError."""
    envelope, sealed = split(message)
    assert isinstance(message, dict)  # split checked
    verify(envelope, sealed, directory, at, expected, routing_of(message))
    if missing := unopenable(sealed, recipients, directory, at):
        raise SealingError(
            "sealed.recipients", f"not sealed for {', '.join(missing)}, a recipient of the routing decision"
        )


def _recipients(raw: object) -> tuple[Recipient, ...]:
    if not isinstance(raw, list) or not raw:
        raise SealingError("sealed.recipients", "must be a non-empty array")
    recipients: list[Recipient] = []
    for i, entry in enumerate(raw):
        if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str):
            raise SealingError(f"sealed.recipients.{i}", "must be an object with a kid")
        if any(r.kid == entry["kid"] for r in recipients):
            raise SealingError(f"sealed.recipients.{i}.kid", "names a key listed before it")
        recipients.append(Recipient(entry["kid"], {k: v for k, v in entry.items() if k != "kid"}))
    return tuple(recipients)
