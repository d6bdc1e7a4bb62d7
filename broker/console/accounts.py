"""Console operators: a login, a scope (national, or a province's two digits) and a password
hash, kept in a JSON file only its owner may read (like `provision`'s credentials file).

Passwords are hashed with scrypt (hashlib; RFC 7914) and a random salt per operator, and compared
in constant time. A login that does not exist costs the same hashing as a wrong password, so the
time of an answer does not tell which logins exist.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from broker.console.scope import Scope
from broker.credentials import CredentialsError, read_private, write_private

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
"""scrypt's cost (16 MiB and about 50 ms a hash here): the parameters RFC 7914 gives for
interactive logins."""
LOGIN = re.compile(r"^[a-z][a-z0-9._-]{1,31}$")
"""A login: lower-case letters, digits, dot, hyphen, underscore; 2 to 32 characters."""
MIN_PASSWORD = 12


@dataclass(frozen=True)
class Operator:
    login: str
    scope: Scope


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, maxmem=64 << 20
    )
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        name, n, r, p, salt, digest = stored.split("$")
        if name != "scrypt":
            return False
        got = hashlib.scrypt(
            password.encode("utf-8"), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), maxmem=64 << 20
        )
    except ValueError:
        return False
    return hmac.compare_digest(got.hex(), digest)


_DECOY = hash_password(secrets.token_urlsafe(16))
"""Hashed against when the login does not exist (see the module's docstring)."""


class Accounts:
    """The operators file, read once; `add` and `remove` write it back (mode 600)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._entries: dict[str, dict[str, str]] = {}
        if self.path.exists():
            text = read_private(self.path)
            try:
                loaded = json.loads(text)
            except ValueError:
                raise CredentialsError(f"{self.path}: not a console operators file (not JSON)") from None
            if not isinstance(loaded, dict):
                raise CredentialsError(f"{self.path}: not a console operators file (not an object)")
            self._entries = loaded

    def __len__(self) -> int:
        return len(self._entries)

    def operators(self) -> list[Operator]:
        return [Operator(login, Scope.parse(e["scope"])) for login, e in sorted(self._entries.items())]

    def verify(self, login: str, password: str) -> Operator | None:
        entry = self._entries.get(login)
        ok = check_password(password, entry["hash"] if entry else _DECOY)
        if entry is None or not ok:
            return None
        return Operator(login, Scope.parse(entry["scope"]))

    def add(self, login: str, scope: Scope, password: str) -> None:
        if not LOGIN.match(login):
            raise ValueError(
                "login: 2 to 32 lower-case letters, digits, '.', '-' or '_', starting with a letter"
            )
        if len(password) < MIN_PASSWORD:
            raise ValueError(f"password: at least {MIN_PASSWORD} characters")
        self._entries[login] = {"scope": str(scope), "hash": hash_password(password)}
        self._save()

    def remove(self, login: str) -> bool:
        if self._entries.pop(login, None) is None:
            return False
        self._save()
        return True

    def _save(self) -> None:
        write_private(self.path, json.dumps(self._entries, indent=1, sort_keys=True) + "\n")
