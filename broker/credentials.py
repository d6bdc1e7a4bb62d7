"""Secrets on disk and in the environment: never on a command line, where the process list shows them.

The credentials file `provision --credentials-out` writes is a JSON object, one entry per RabbitMQ
user; a participant's entry also names its address and its inbox (whose name it cannot guess):

    {"bureau-330681": {"address": "bureau:330681", "password": "…", "inbox": "rb.inbox.bureau:330681.…"},
     "referral-router": {"password": "…"}}

Files holding secrets are created mode 600 (never chmodded afterwards, which leaves a window) and
refused when group or others may read them, as ssh refuses a private key.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PASSWORD_VARIABLE = "RB_PASSWORD"
"""A participant's password, for `publish` and `police-example`, when no credentials file is given."""
INBOX_VARIABLE = "RB_INBOX"
"""A participant's inbox name, when no credentials file is given."""
CREDENTIALS_VARIABLE = "RB_CREDENTIALS"
"""The credentials file (as provision writes it, or the participant's part of it)."""


class CredentialsError(ValueError):
    """A secret is missing or kept where others can read it. The message says what to do."""


def read_private(path: str | Path) -> str:
    """The text of a file only its owner may access; refuses one that group or others can."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise CredentialsError(f"{path}: no such file") from None
    if mode & 0o077:
        raise CredentialsError(
            f"{path}: mode {stat.S_IMODE(mode):o} lets group or others read it; chmod 600 {path}"
        )
    return path.read_text(encoding="utf-8")


def write_private(path: str | Path, text: str) -> None:
    """Replace the file with text, through a file created mode 600 beside it and renamed over it."""
    path = Path(path)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mkstemp: mode 600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _entry(value: Any) -> dict[str, str]:
    """One user's entry; files of earlier versions held the password alone."""
    if isinstance(value, str):
        return {"password": value}
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    raise CredentialsError("credentials entry: expected an object with password, address and inbox")


def load_file(path: str | Path) -> dict[str, dict[str, str]]:
    """Every entry of a credentials file (mode checked), keyed by RabbitMQ user."""
    try:
        data = json.loads(read_private(path))
    except json.JSONDecodeError as exc:
        raise CredentialsError(f"{path}: not JSON (line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise CredentialsError(f"{path}: expected a JSON object keyed by user")
    return {str(user): _entry(value) for user, value in data.items()}


def merge_file(path: str | Path, entries: Mapping[str, Mapping[str, str]]) -> None:
    """Add or update entries in the credentials file, keeping the others; the file stays mode 600."""
    path = Path(path)
    existing = load_file(path) if path.exists() else {}
    for user, fields in entries.items():
        existing.setdefault(user, {}).update(fields)
    write_private(path, json.dumps(existing, indent=2, ensure_ascii=False) + "\n")


@dataclass(frozen=True)
class Credentials:
    """What a participant's system needs to connect: its password and its inbox's name."""

    password: str
    inbox: str | None = None


def for_user(
    user: str, path: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> Credentials:
    """A user's credentials from the file (argument, else RB_CREDENTIALS), else RB_PASSWORD and RB_INBOX."""
    environ = os.environ if environ is None else environ
    path = path or environ.get(CREDENTIALS_VARIABLE)
    if path:
        entries = load_file(path)
        if user not in entries or not entries[user].get("password"):
            raise CredentialsError(f"{path}: no password for user {user}")
        entry = entries[user]
        return Credentials(entry["password"], entry.get("inbox") or environ.get(INBOX_VARIABLE) or None)
    password = environ.get(PASSWORD_VARIABLE)
    if not password:
        raise CredentialsError(
            f"no password for {user}: set {PASSWORD_VARIABLE}, or give the credentials file "
            f"(--credentials FILE or {CREDENTIALS_VARIABLE}, mode 600)"
        )
    return Credentials(password, environ.get(INBOX_VARIABLE) or None)


PASSWORD_FLAG_REFUSED = (
    "--password is no longer accepted: a command line is visible to every user of the machine. "
    f"Set {PASSWORD_VARIABLE}, or give --credentials FILE (mode 600, as provision writes it)"
)
"""What `publish` and `police-example` answer to the flag they used to take."""


def inbox_secret(secret: str, secret_file: str) -> str:
    """The deployment's inbox secret: the value itself (RB_INBOX_SECRET), else the file's first line
    (RB_INBOX_SECRET_FILE, mode checked)."""
    if not secret and secret_file:
        secret = read_private(secret_file).strip()
    if not secret:
        raise CredentialsError(
            "no inbox secret: set RB_INBOX_SECRET or RB_INBOX_SECRET_FILE (mode 600) to the deployment's "
            "inbox secret; make one for a new deployment with "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    return secret
