"""Turn raw bytes into a message of the contract, or into errors that name the field and the reason."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from broker.domain.messages import MESSAGE_TYPES, SCHEMA_VERSION, Kind, Message

MAX_MESSAGE_BYTES = 256 * 1024
"""Largest message accepted. Evidence belongs in the bureau's own file store, referenced by the body."""

MAX_FIELD_PART, MAX_FIELD_PATH, MAX_REASON = 64, 200, 500
"""Bounds on error texts: they become AMQP headers, and a hostile key name may be 200 KiB long."""

SUPPORTED_VERSIONS: dict[str, dict[Kind, type[Message]]] = {SCHEMA_VERSION: MESSAGE_TYPES}
"""Contract versions this broker reads, each with its models. A new version is added here."""


@dataclass(frozen=True)
class FieldError:
    field: str
    """Dotted path to the offending field, e.g. ``envelope.case.records.0.provided``;
    ``$`` is the whole message."""
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


class ContractError(ValueError):
    """The input is not a valid message of a supported contract version."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors))

    @property
    def field(self) -> str:
        return self.errors[0].field

    @classmethod
    def single(cls, field: str, reason: str) -> ContractError:
        return cls([FieldError(field, reason)])


def parse_message(raw: bytes) -> Message:
    """Validate raw bytes as a message. Raises ContractError naming each bad field."""
    if len(raw) > MAX_MESSAGE_BYTES:
        raise ContractError.single("$", f"message is {len(raw)} bytes; the limit is {MAX_MESSAGE_BYTES}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ContractError.single("$", f"not UTF-8 text (byte {exc.start})") from None
    try:
        data = json.loads(text)
    except RecursionError:
        # Nothing in the contract nests deeply, so any deep structure is rejected by type checks;
        # only nesting deep enough to exhaust the parser needs its own answer.
        raise ContractError.single("$", "JSON nested too deeply to parse") from None
    except json.JSONDecodeError as exc:
        raise ContractError.single(
            "$", f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except ValueError as exc:  # e.g. an integer literal longer than Python converts
        raise ContractError.single("$", f"not acceptable JSON: {str(exc)[:120]}") from None
    return validate_message(data)


def validate_message(data: Any) -> Message:
    """Validate decoded JSON as a message. Raises ContractError naming each bad field."""
    if not isinstance(data, dict):
        raise ContractError.single("$", f"a message is a JSON object, not {_json_type(data)}")
    envelope = data.get("envelope")
    if not isinstance(envelope, dict):
        raise ContractError.single("envelope", "missing, or not a JSON object")
    version = envelope.get("schema_version")
    models = SUPPORTED_VERSIONS.get(version) if isinstance(version, str) else None
    if models is None:
        supported = ", ".join(sorted(SUPPORTED_VERSIONS))
        raise ContractError.single(
            "envelope.schema_version",
            f"version {_show(version)} is not supported by this broker (supported: {supported})",
        )
    kind = envelope.get("kind")
    model = models.get(Kind(kind)) if isinstance(kind, str) and kind in Kind._value2member_map_ else None
    if model is None:
        raise ContractError.single(
            "envelope.kind",
            f"unknown message kind {_show(kind)} (known: {', '.join(k.value for k in models)})",
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ContractError([_field_error(e) for e in exc.errors(include_url=False)]) from None


def _field_error(error: Any) -> FieldError:
    loc = [str(part) for part in error["loc"]]
    # pydantic puts function-validator names in the path; drop them so the path is the JSON path.
    loc = [part for part in loc if not part.startswith("function-")]
    reason = str(error["msg"])
    if reason.startswith("Value error, "):
        reason = reason[len("Value error, ") :]
    # Model-level rules name their field as "path: reason" (pydantic gives them no location).
    head, sep, rest = reason.partition(": ")
    if sep and " " not in head and head.replace(".", "").replace("_", "").isalnum():
        loc = [*loc, head]
        reason = rest
    if error["type"] == "extra_forbidden":
        reason = "unknown field (not part of the contract)"
    path = ".".join(part[:MAX_FIELD_PART] for part in loc) or "$"
    return FieldError(path[:MAX_FIELD_PATH], reason[:MAX_REASON])


def _json_type(value: Any) -> str:
    return {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean"}.get(
        type(value), "null"
    )


def _show(value: Any) -> str:
    text = repr(value) if value is not None else "(missing)"
    return text[:60]
