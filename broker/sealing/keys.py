"""A participant's keys: a key ring of generations, each an encryption and a signing key pair.

The key ring file holds the private keys; it is created mode 600 and refused when group or others
may read it. It never leaves the participant: provisioning receives only the public keys file.
Rotation appends a generation and keeps the old ones, whose private keys still open the messages
sealed to them. Revocation is a property of the directory (broker/sealing/directory.py), not of
the ring: a participant can always open what was sealed to it.

Files (all JSON; binary fields unpadded base64url; times UTC `...Z`):
    keyring   {"format": "rb-keyring/1", "address", "generations": [generation + private keys]}
    public    {"format": "rb-public-keys/1", "address", "generations": [generation]}
    deployment key / public: {"format": "rb-deployment-key/1" | "rb-deployment-public/1",
               "suite", "kid", "public", ["private"]}
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from broker import credentials
from broker.domain.address import Address, AddressError
from broker.sealing.encoding import b64u, parse_timestamp, timestamp, unb64u
from broker.sealing.errors import SealingError
from broker.sealing.suites import Suite, suite

KEYRING_FORMAT = "rb-keyring/1"
PUBLIC_FORMAT = "rb-public-keys/1"
DEPLOYMENT_FORMAT = "rb-deployment-key/1"
DEPLOYMENT_PUBLIC_FORMAT = "rb-deployment-public/1"
DEFAULT_VALIDITY = timedelta(days=365)
"""How long a new generation is valid: a year, so a forgotten key expires instead of lingering."""


@dataclass(frozen=True)
class PublicKey:
    kid: str
    """The key's fingerprint, which names it in sealed messages and the directory."""
    public: bytes


@dataclass(frozen=True)
class Generation:
    """The public part of one generation of a participant's keys, as the directory lists it."""

    address: str
    suite: Suite
    encryption: PublicKey
    signing: PublicKey
    not_before: datetime
    not_after: datetime
    revoked_at: datetime | None = None

    def refusal_at(self, at: datetime) -> str | None:
        """Why these keys may not seal or sign at this time, or None when they may."""
        if self.revoked_at is not None and self.revoked_at <= at:
            when = timestamp(self.revoked_at)
            return f"the keys of {self.address} ({self.signing.kid}) were revoked at {when}"
        if at < self.not_before:
            return (
                f"the keys of {self.address} ({self.signing.kid}) are valid from {timestamp(self.not_before)}"
            )
        if at > self.not_after:
            return f"the keys of {self.address} ({self.signing.kid}) expired at {timestamp(self.not_after)}"
        return None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "address": self.address,
            "suite": self.suite.id,
            "encryption": {"kid": self.encryption.kid, "public": b64u(self.encryption.public)},
            "signing": {"kid": self.signing.kid, "public": b64u(self.signing.public)},
            "not_before": timestamp(self.not_before),
            "not_after": timestamp(self.not_after),
        }
        if self.revoked_at is not None:
            out["revoked_at"] = timestamp(self.revoked_at)
        return out

    @classmethod
    def from_json(cls, data: object, field: str) -> Generation:
        obj = _object(data, field)
        the_suite = suite(obj.get("suite"), f"{field}.suite")
        address = _address(obj.get("address"), f"{field}.address")
        keys = [_public_key(obj.get(use), the_suite, f"{field}.{use}") for use in ("encryption", "signing")]
        revoked = obj.get("revoked_at")
        generation = cls(
            address,
            the_suite,
            keys[0],
            keys[1],
            parse_timestamp(obj.get("not_before"), f"{field}.not_before"),
            parse_timestamp(obj.get("not_after"), f"{field}.not_after"),
            None if revoked is None else parse_timestamp(revoked, f"{field}.revoked_at"),
        )
        if generation.not_after <= generation.not_before:
            raise SealingError(f"{field}.not_after", "must be after not_before")
        return generation


@dataclass(frozen=True)
class PrivateGeneration:
    public: Generation
    encryption_private: bytes
    signing_private: bytes


@dataclass(frozen=True)
class KeyRing:
    """A participant's own keys, oldest generation first."""

    address: str
    generations: tuple[PrivateGeneration, ...]

    def current(self, at: datetime) -> PrivateGeneration:
        """The newest generation valid at this time: the one that signs."""
        for generation in reversed(self.generations):
            if generation.public.refusal_at(at) is None:
                return generation
        raise SealingError("keyring", f"{self.address} has no key valid at {timestamp(at)}; rotate its keys")

    def for_encryption_kid(self, kid: str) -> PrivateGeneration | None:
        return next((g for g in self.generations if g.public.encryption.kid == kid), None)

    def rotated(self, the_suite: Suite, now: datetime, valid_for: timedelta = DEFAULT_VALIDITY) -> KeyRing:
        """The ring with a new generation; the old ones stay, so old messages still open."""
        return replace(
            self, generations=(*self.generations, _new_generation(self.address, the_suite, now, valid_for))
        )

    def public(self) -> tuple[Generation, ...]:
        return tuple(g.public for g in self.generations)


def generate(
    address: str, the_suite: Suite, now: datetime, valid_for: timedelta = DEFAULT_VALIDITY
) -> KeyRing:
    address = _address(address, "address")
    return KeyRing(address, (_new_generation(address, the_suite, now, valid_for),))


def _new_generation(address: str, the_suite: Suite, now: datetime, valid_for: timedelta) -> PrivateGeneration:
    enc_private, enc_public = the_suite.new_encryption_key()
    sig_private, sig_public = the_suite.new_signing_key()
    public = Generation(
        address,
        the_suite,
        PublicKey(the_suite.fingerprint(enc_public), enc_public),
        PublicKey(the_suite.fingerprint(sig_public), sig_public),
        now,
        now + valid_for,
    )
    return PrivateGeneration(public, enc_private, sig_private)


# ---- files ----


def keyring_json(ring: KeyRing) -> dict[str, Any]:
    generations = []
    for g in ring.generations:
        entry = g.public.to_json()
        entry["encryption"]["private"] = b64u(g.encryption_private)
        entry["signing"]["private"] = b64u(g.signing_private)
        generations.append(entry)
    return {"format": KEYRING_FORMAT, "address": ring.address, "generations": generations}


def save_keyring(ring: KeyRing, path: str | Path) -> None:
    credentials.write_private(path, json.dumps(keyring_json(ring), indent=2) + "\n")


def load_keyring(path: str | Path) -> KeyRing:
    """The key ring in this file; refuses a file group or others may read, and keys that do not match
    their public halves (a corrupted or hand-edited file)."""
    try:
        text = credentials.read_private(path)
    except credentials.CredentialsError as exc:
        raise SealingError(str(path), str(exc).removeprefix(f"{path}: ")) from None
    return keyring_from_json(_document(text, KEYRING_FORMAT, str(path)), str(path))


def keyring_from_json(obj: dict[str, Any], where: str) -> KeyRing:
    if obj.get("format") != KEYRING_FORMAT:
        raise SealingError(f"{where}: format", f"must be {KEYRING_FORMAT!r}")
    address = _address(obj.get("address"), f"{where}: address")
    generations = []
    for i, entry in enumerate(_list(obj.get("generations"), f"{where}: generations")):
        field = f"{where}: generations.{i}"
        public = Generation.from_json(entry, field)
        if public.address != address:
            raise SealingError(f"{field}.address", f"is not the ring's address {address}")
        enc = unb64u(entry["encryption"].get("private"), f"{field}.encryption.private")
        sig = unb64u(entry["signing"].get("private"), f"{field}.signing.private")
        try:
            matches = (
                public.suite.encryption_public(enc) == public.encryption.public
                and public.suite.signing_public(sig) == public.signing.public
            )
        except Exception:  # each library refuses a malformed private key in its own way
            matches = False
        if not matches:
            raise SealingError(field, "a private key does not match its public key")
        generations.append(PrivateGeneration(public, enc, sig))
    if not generations:
        raise SealingError(f"{where}: generations", "the key ring holds no keys")
    return KeyRing(address, tuple(generations))


def save_public(generations: tuple[Generation, ...], path: str | Path) -> None:
    document = {
        "format": PUBLIC_FORMAT,
        "address": generations[0].address,
        "generations": [g.to_json() for g in generations],
    }
    Path(path).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def load_public(path: str | Path) -> tuple[Generation, ...]:
    obj = _document(_read(path), PUBLIC_FORMAT, str(path))
    address = _address(obj.get("address"), f"{path}: address")
    out = tuple(
        Generation.from_json(entry, f"{path}: generations.{i}")
        for i, entry in enumerate(_list(obj.get("generations"), f"{path}: generations"))
    )
    if not out or any(g.address != address for g in out):
        raise SealingError(f"{path}: generations", f"must list at least one generation, all of {address}")
    return out


@dataclass(frozen=True)
class DeploymentKey:
    """The deployment's signing key, which signs the key directory. Its public half is handed to every
    participant with its credentials; the private half stays with whoever provisions."""

    suite: Suite
    signing: PublicKey
    private: bytes | None = None

    def public_json(self) -> dict[str, Any]:
        return {
            "format": DEPLOYMENT_PUBLIC_FORMAT,
            "suite": self.suite.id,
            "kid": self.signing.kid,
            "public": b64u(self.signing.public),
        }


def generate_deployment_key(the_suite: Suite) -> DeploymentKey:
    private, public = the_suite.new_signing_key()
    return DeploymentKey(the_suite, PublicKey(the_suite.fingerprint(public), public), private)


def save_deployment_key(key: DeploymentKey, path: str | Path, public_path: str | Path) -> None:
    assert key.private is not None
    document = {**key.public_json(), "format": DEPLOYMENT_FORMAT, "private": b64u(key.private)}
    credentials.write_private(path, json.dumps(document, indent=2) + "\n")
    Path(public_path).write_text(json.dumps(key.public_json(), indent=2) + "\n", encoding="utf-8")


def load_deployment_key(path: str | Path) -> DeploymentKey:
    try:
        text = credentials.read_private(path)
    except credentials.CredentialsError as exc:
        raise SealingError(str(path), str(exc).removeprefix(f"{path}: ")) from None
    obj = _document(text, DEPLOYMENT_FORMAT, str(path))
    key = deployment_from_json(obj, str(path))
    private = unb64u(obj.get("private"), f"{path}: private")
    try:
        matches = key.suite.signing_public(private) == key.signing.public
    except Exception:  # each library refuses a malformed private key in its own way
        matches = False
    if not matches:
        raise SealingError(f"{path}: private", "does not match the public key")
    return replace(key, private=private)


def load_deployment_public(path: str | Path) -> DeploymentKey:
    return deployment_from_json(_document(_read(path), DEPLOYMENT_PUBLIC_FORMAT, str(path)), str(path))


def deployment_from_json(obj: dict[str, Any], where: str) -> DeploymentKey:
    the_suite = suite(obj.get("suite"), f"{where}: suite")
    return DeploymentKey(the_suite, _public_key(obj, the_suite, where))


# ---- parsing helpers ----


def _read(path: str | Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SealingError(str(path), exc.strerror or "cannot be read") from None


def _document(text: str, expected: str, where: str) -> dict[str, Any]:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SealingError(where, f"is not JSON (line {exc.lineno})") from None
    obj = _object(obj, where)
    if obj.get("format") != expected:
        raise SealingError(f"{where}: format", f"must be {expected!r}")
    return obj


def _object(data: object, field: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise SealingError(field, "must be a JSON object")
    return data


def _list(data: object, field: str) -> list[Any]:
    if not isinstance(data, list):
        raise SealingError(field, "must be a JSON array")
    return data


def _address(text: object, field: str) -> str:
    if not isinstance(text, str):
        raise SealingError(field, "must be an address like bureau:330681")
    try:
        return str(Address.parse(text))
    except AddressError as exc:
        raise SealingError(field, str(exc)) from None


def _public_key(data: object, the_suite: Suite, field: str) -> PublicKey:
    obj = _object(data, field)
    public = unb64u(obj.get("public"), f"{field}.public")
    if not the_suite.valid_public(public):
        raise SealingError(f"{field}.public", f"is not a {the_suite.id} public key")
    kid = obj.get("kid")
    if kid != the_suite.fingerprint(public):
        raise SealingError(f"{field}.kid", "is not the fingerprint of the public key")
    return PublicKey(kid, public)
