"""The two algorithm suites, the only code that touches a crypto library.

`rb-intl-1`: per recipient an ephemeral X25519 key agreement, HKDF-SHA256 to a key-encryption key,
the content key wrapped with AES-256-GCM; the body under AES-256-GCM; Ed25519 signatures; SHA-256
fingerprints.

`rb-sm-1`, the national suite (GB/T 32918 SM2, GB/T 32905 SM3, GB/T 32907 SM4): the content key
wrapped by SM2 public-key encryption (GB/T 32918.4, ciphertext C1‖C3‖C2, C1 uncompressed); the body
under SM4-GCM (GB/T 36624 / RFC 8998 mode); SM2 signatures with SM3 and the default signer id
`1234567812345678` (GM/T 0009), r‖s as 32 + 32 bytes; SM3 fingerprints.

SM2 comes from gmalg (pure Python, no dependencies, `secrets` for every nonce, maintained); SM3 and
SM4 from `cryptography`, which is OpenSSL's. schemas/sealing/FORMAT.md is the byte-exact description.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Protocol

import gmalg  # type: ignore[import-untyped]
import gmalg.errors  # type: ignore[import-untyped]
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from broker.sealing.encoding import b64u, unb64u
from broker.sealing.errors import SealingError

NONCE_SIZE = 12
TAG_SIZE = 16
WRAP_INFO = b"rb-sealed/1 content key wrap"
"""HKDF info of the international wrap: binds the derived key to this format and use."""
SM2_SIGNER_ID = b"1234567812345678"
"""The default SM2 signer id of GM/T 0009, which every SM2 library assumes when none is agreed."""


class Unopenable(Exception):
    """A wrapped key or ciphertext did not authenticate; the caller names the field."""


class Suite(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def content_key_size(self) -> int: ...

    def fingerprint(self, public: bytes) -> str: ...
    def valid_public(self, public: bytes) -> bool: ...
    def digest(self, data: bytes) -> bytes: ...
    def new_encryption_key(self) -> tuple[bytes, bytes]: ...
    def new_signing_key(self) -> tuple[bytes, bytes]: ...
    def encryption_public(self, private: bytes) -> bytes: ...
    def signing_public(self, private: bytes) -> bytes: ...
    def wrap(self, content_key: bytes, recipient: bytes) -> dict[str, str]: ...
    def unwrap(self, wrapped: dict[str, object], private: bytes, public: bytes) -> bytes: ...
    def encrypt(self, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes: ...
    def decrypt(self, key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes: ...
    def sign(self, private: bytes, public: bytes, data: bytes) -> bytes: ...
    def verify(self, public: bytes, data: bytes, signature: bytes) -> bool: ...


def _raw(key: X25519PublicKey | Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _raw_private(key: X25519PrivateKey | Ed25519PrivateKey) -> bytes:
    return key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


@dataclass(frozen=True)
class International:
    id: str = "rb-intl-1"
    content_key_size: int = 32

    def fingerprint(self, public: bytes) -> str:
        return "sha256:" + hashlib.sha256(public).hexdigest()

    def valid_public(self, public: bytes) -> bool:
        return len(public) == 32

    def digest(self, data: bytes) -> bytes:
        return hashlib.sha256(data).digest()

    def new_encryption_key(self) -> tuple[bytes, bytes]:
        key = X25519PrivateKey.generate()
        return _raw_private(key), _raw(key.public_key())

    def new_signing_key(self) -> tuple[bytes, bytes]:
        key = Ed25519PrivateKey.generate()
        return _raw_private(key), _raw(key.public_key())

    def encryption_public(self, private: bytes) -> bytes:
        return _raw(X25519PrivateKey.from_private_bytes(private).public_key())

    def signing_public(self, private: bytes) -> bytes:
        return _raw(Ed25519PrivateKey.from_private_bytes(private).public_key())

    def _kek(self, shared: bytes, epk: bytes, recipient: bytes) -> tuple[bytes, bytes]:
        okm = HKDF(hashes.SHA256(), 32 + NONCE_SIZE, salt=epk + recipient, info=WRAP_INFO).derive(shared)
        return okm[:32], okm[32:]

    def wrap(self, content_key: bytes, recipient: bytes) -> dict[str, str]:
        ephemeral = X25519PrivateKey.generate()
        epk = _raw(ephemeral.public_key())
        shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient))
        kek, nonce = self._kek(shared, epk, recipient)
        return {"epk": b64u(epk), "wrapped": b64u(AESGCM(kek).encrypt(nonce, content_key, None))}

    def unwrap(self, wrapped: dict[str, object], private: bytes, public: bytes) -> bytes:
        epk = unb64u(wrapped.get("epk"), "epk")
        if len(epk) != 32:
            raise Unopenable("epk is not a 32-byte X25519 key")
        try:
            shared = X25519PrivateKey.from_private_bytes(private).exchange(
                X25519PublicKey.from_public_bytes(epk)
            )
        except ValueError:  # the all-zero shared secret of a low-order point
            raise Unopenable("epk is not a usable X25519 key") from None
        kek, nonce = self._kek(shared, epk, public)
        try:
            return AESGCM(kek).decrypt(nonce, unb64u(wrapped.get("wrapped"), "wrapped"), None)
        except InvalidTag:
            raise Unopenable("the wrapped key does not authenticate") from None

    def encrypt(self, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        return AESGCM(key).encrypt(nonce, plaintext, aad)

    def decrypt(self, key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
        try:
            return AESGCM(key).decrypt(nonce, ciphertext, aad)
        except (InvalidTag, ValueError):
            raise Unopenable("the ciphertext does not authenticate") from None

    def sign(self, private: bytes, public: bytes, data: bytes) -> bytes:
        return Ed25519PrivateKey.from_private_bytes(private).sign(data)

    def verify(self, public: bytes, data: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(public).verify(signature, data)
        except (InvalidSignature, ValueError):
            return False
        return True


def _sm3(data: bytes) -> bytes:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


@dataclass(frozen=True)
class National:
    id: str = "rb-sm-1"
    content_key_size: int = 16

    def fingerprint(self, public: bytes) -> str:
        return "sm3:" + _sm3(public).hex()

    def digest(self, data: bytes) -> bytes:
        return _sm3(data)

    def valid_public(self, public: bytes) -> bool:
        if len(public) != 65 or public[0] != 4:  # uncompressed points only: one encoding of each key
            return False
        try:
            return bool(gmalg.SM2().verify_pk(public))
        except (gmalg.errors.GMError, ValueError):
            return False

    def _new(self) -> tuple[bytes, bytes]:
        private, public = gmalg.SM2().generate_keypair()
        return private.rjust(32, b"\0"), public

    def new_encryption_key(self) -> tuple[bytes, bytes]:
        return self._new()

    def new_signing_key(self) -> tuple[bytes, bytes]:
        return self._new()

    def encryption_public(self, private: bytes) -> bytes:
        return bytes(gmalg.SM2().generate_pk(private))

    signing_public = encryption_public

    def wrap(self, content_key: bytes, recipient: bytes) -> dict[str, str]:
        return {"wrapped": b64u(gmalg.SM2(pk=recipient).encrypt(content_key))}

    def unwrap(self, wrapped: dict[str, object], private: bytes, public: bytes) -> bytes:
        cipher = unb64u(wrapped.get("wrapped"), "wrapped")
        if len(cipher) != 65 + 32 + self.content_key_size or cipher[0] != 4:
            raise Unopenable(f"an SM2 wrap of a {self.content_key_size}-byte key is C1 (65) ‖ C3 (32) ‖ C2")
        try:
            return bytes(gmalg.SM2(sk=private, pk=public).decrypt(cipher))
        except (gmalg.errors.GMError, ValueError):
            raise Unopenable("the wrapped key does not authenticate") from None

    def _cipher(self, key: bytes, mode: modes.GCM) -> Cipher[modes.GCM]:
        return Cipher(algorithms.SM4(key), mode)

    def encrypt(self, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        encryptor = self._cipher(key, modes.GCM(nonce)).encryptor()
        encryptor.authenticate_additional_data(aad)
        return encryptor.update(plaintext) + encryptor.finalize() + encryptor.tag

    def decrypt(self, key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
        if len(ciphertext) < TAG_SIZE:
            raise Unopenable("the ciphertext is shorter than its tag")
        decryptor = self._cipher(key, modes.GCM(nonce, ciphertext[-TAG_SIZE:])).decryptor()
        decryptor.authenticate_additional_data(aad)
        try:
            return decryptor.update(ciphertext[:-TAG_SIZE]) + decryptor.finalize()
        except InvalidTag:
            raise Unopenable("the ciphertext does not authenticate") from None

    def sign(self, private: bytes, public: bytes, data: bytes) -> bytes:
        r, s = gmalg.SM2(sk=private, uid=SM2_SIGNER_ID, pk=public).sign(data)
        return bytes(r).rjust(32, b"\0") + bytes(s).rjust(32, b"\0")

    def verify(self, public: bytes, data: bytes, signature: bytes) -> bool:
        if len(signature) != 64:
            return False
        try:
            return bool(gmalg.SM2(uid=SM2_SIGNER_ID, pk=public).verify(data, signature[:32], signature[32:]))
        except (gmalg.errors.GMError, ValueError):
            return False


INTERNATIONAL = International()
NATIONAL = National()
SUITES: dict[str, Suite] = {INTERNATIONAL.id: INTERNATIONAL, NATIONAL.id: NATIONAL}
ALIASES = {"international": INTERNATIONAL.id, "national": NATIONAL.id}
"""What the CLI and settings accept beside the ids."""


def suite(name: object, field: str = "suite") -> Suite:
    """The suite with this id (or alias); refuses an unknown one by name."""
    if isinstance(name, str) and (found := SUITES.get(ALIASES.get(name, name))):
        return found
    known = ", ".join([*SUITES, *ALIASES])
    # not echoed: a field of a message may hold anything, personal data included
    raise SealingError(field, f"is not a known suite (known: {known})")


def random_bytes(n: int) -> bytes:
    return os.urandom(n)
