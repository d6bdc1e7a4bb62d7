"""Bytes on the wire: unpadded base64url (RFC 4648 §5) and the canonical JSON of RFC 8785 (JCS),
the byte strings that are signed and authenticated. Other languages have JCS libraries; the subset
used here (objects, arrays, strings, integers, booleans, null) is also easy to write by hand."""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import UTC, datetime
from typing import Any

from broker.sealing.errors import SealingError

_FIELD_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
_SAFE_INTEGER = 2**53 - 1
"""JCS serialises numbers as IEEE doubles print them; integers beyond this would not round-trip."""


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64u(text: object, field: str) -> bytes:
    if not isinstance(text, str) or "=" in text:
        raise SealingError(field, "must be unpadded base64url text")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise SealingError(field, "is not valid base64url") from None


def canonical(value: Any) -> bytes:
    """RFC 8785 canonical JSON, UTF-8, of a value as JSON parsing gives it (string keys). Floats are
    refused: nothing signed here needs one, and their canonical form is the one part of JCS that is
    hard to get identical everywhere."""
    try:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        json.loads(text, parse_float=_no_float, parse_int=_safe_int)
    except (TypeError, ValueError):
        return _canonical(value, "$").encode("utf-8")  # the slow path names the field refused
    # Python sorts keys by code point, JCS by UTF-16 code unit: they differ only above U+E000.
    if text and max(text) >= "\ue000":
        return _canonical(value, "$").encode("utf-8")
    return text.encode("utf-8")


def _no_float(text: str) -> float:
    raise ValueError("float")


def _safe_int(text: str) -> int:
    number = int(text)
    if abs(number) > _SAFE_INTEGER:
        raise ValueError("integer beyond 2**53 - 1")
    return number


def _canonical(value: Any, where: str) -> str:
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, int):
        if abs(value) > _SAFE_INTEGER:
            raise SealingError(where, "integer too large for canonical JSON (beyond 2**53 - 1)")
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ",".join(_canonical(v, f"{where}.{i}") for i, v in enumerate(value)) + "]"
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise SealingError(where, "object keys must be strings")
        keys = sorted(value, key=lambda k: k.encode("utf-16-be"))  # JCS orders by UTF-16 code units
        members = (
            f"{json.dumps(k, ensure_ascii=False)}:{_canonical(value[k], _path(where, k))}" for k in keys
        )
        return "{" + ",".join(members) + "}"
    raise SealingError(where, f"a {type(value).__name__} has no canonical JSON form (floats are refused)")


def _path(where: str, key: str) -> str:
    """A field name goes into an error only when it looks like one: a key may hold anything."""
    return f"{where}.{key}" if _FIELD_NAME.fullmatch(key) else f"{where}.<key>"


def timestamp(moment: datetime) -> str:
    """UTC, whole seconds, `Z`: one spelling of each instant, so signed directories compare bytewise."""
    if moment.tzinfo is None:
        raise ValueError("a key's validity needs an aware datetime")
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(text: object, field: str) -> datetime:
    if not isinstance(text, str):
        raise SealingError(field, "must be a UTC time like 2026-01-31T08:00:00Z")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise SealingError(field, "must be a UTC time like 2026-01-31T08:00:00Z") from None
    if moment.tzinfo is None:
        raise SealingError(field, "needs a UTC offset (write Z)")
    return moment
