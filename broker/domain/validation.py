"""Turn raw bytes into a message of the contract, or into errors that name the field and the reason.

Error texts travel into logs, quarantine headers and decision records, so they never repeat what
the sender wrote: a reason says what kind of value was wrong ("not a known message kind"), and a
key that is not part of the contract is named by its position, ``envelope.<key #3>`` (the third
key of that object), never by its text. Keys that are contract field names are named as they are.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from itertools import islice
from typing import Any

from pydantic import ValidationError

from broker.domain.messages import MESSAGE_TYPES, SCHEMA_VERSION, Kind, Message
from broker.domain.sealed_view import ROUTING_FACTS, UNSEALABLE, SealedBody, sealed_model
from broker.domain.versions import READ_VERSIONS, added_in, kinds_of, later_fields

MAX_MESSAGE_BYTES = 256 * 1024
"""Largest message accepted. Evidence belongs in the bureau's own file store, referenced by the body."""

MAX_FIELD_PART, MAX_FIELD_PATH, MAX_REASON, MAX_ERRORS = 64, 200, 500, 20
"""Bounds on error texts: they become AMQP headers, and a hostile message may hold thousands of errors."""

SUPPORTED_VERSIONS: dict[str, dict[Kind, type[Message]]] = {
    version: {k: m for k, m in MESSAGE_TYPES.items() if k in kinds_of(version)} for version in READ_VERSIONS
}
"""Contract versions this broker reads, each with its models (versions.py says what each added)."""

RETIRED_VERSIONS: dict[str, str] = {
    "1.0": "version 1.0 is no longer read: its case_id could hold a phone or ID number; "
    f"send version {SCHEMA_VERSION} (README, 'Migrating from 1.0')",
}
"""Versions this broker once read, each with what a sender still on it must do."""


@dataclass(frozen=True)
class FieldError:
    field: str
    """Dotted path to the offending field, e.g. ``envelope.case.records.0.provided``; ``$`` is the
    whole message. A key outside the contract is written ``<key #N>``, N its position in its object."""
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


class _RepeatedKeys(dict[str, Any]):
    """A JSON object in which some key appeared more than once (the last value kept)."""

    repeated: tuple[str, ...] = ()
    """The keys given more than once, in the order they first appeared."""


class _ObjectBuilder:
    """json's object_pairs_hook: builds each object, marking those with a key given twice."""

    def __init__(self) -> None:
        self.repeated = False

    def __call__(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) == len(pairs):
            return obj
        self.repeated = True
        marked = _RepeatedKeys(obj)
        counts = Counter(k for k, _ in pairs)
        marked.repeated = tuple(k for k in obj if counts[k] > 1)  # dicts keep first-seen order
        return marked


def parse_message(raw: bytes) -> Message:
    """Validate raw bytes as a message. Raises ContractError naming each bad field."""
    if len(raw) > MAX_MESSAGE_BYTES:
        raise ContractError.single("$", f"message is {len(raw)} bytes; the limit is {MAX_MESSAGE_BYTES}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ContractError.single("$", f"not UTF-8 text (byte {exc.start})") from None
    builder = _ObjectBuilder()
    try:
        data = json.loads(text, object_pairs_hook=builder)
    except RecursionError:
        # Nothing in the contract nests deeply, so any deep structure is rejected by type checks;
        # only nesting deep enough to exhaust the parser needs its own answer.
        raise ContractError.single("$", "JSON nested too deeply to parse") from None
    except json.JSONDecodeError as exc:  # exc.msg is the parser's fixed text, never the input
        raise ContractError.single(
            "$", f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except ValueError:  # e.g. an integer literal longer than Python converts
        raise ContractError.single(
            "$", "not acceptable JSON (a number literal too long to convert)"
        ) from None
    # Parsers disagree on which of two equal keys wins: the router and a recipient could read
    # different senders from the same bytes, so a repeated key is an error, at any depth.
    if builder.repeated:
        try:
            repeated = list(islice(_repeated_keys(data, ()), MAX_ERRORS))
        except RecursionError:
            raise ContractError.single("$", "JSON nested too deeply to parse") from None
        raise ContractError(repeated)
    return validate_message(data, raw)


_Trail = tuple[tuple[Any, int | str], ...]
"""The way to a node: (container, key or index) pairs, turned into a path only for an error."""


def _repeated_keys(node: Any, trail: _Trail) -> Iterator[FieldError]:
    if isinstance(node, dict):
        for key in getattr(node, "repeated", ()):
            yield FieldError(
                _trail_path((*trail, (node, key))), "this key appears more than once in its object"
            )
        children: Iterable[tuple[int | str, Any]] = node.items()
    elif isinstance(node, list):
        children = enumerate(node)
    else:
        return
    for key, value in children:
        if isinstance(value, dict | list):
            yield from _repeated_keys(value, (*trail, (node, key)))


def _trail_path(trail: _Trail) -> str:
    parts = [str(key) if isinstance(key, int) else _key_name(key, parent) for parent, key in trail]
    return ".".join(part[:MAX_FIELD_PART] for part in parts)[:MAX_FIELD_PATH]


def validate_message(data: Any, raw: bytes | None = None) -> Message:
    """Validate decoded JSON as a message. Raises ContractError naming each bad field.

    `raw`: the bytes `data` was decoded from, with no key repeated (parse_message checked): the
    model then reads them straight (pydantic's JSON mode, twice as fast on a message with case
    facts). Any refusal there is read again from `data`, so the errors are the same either way."""
    if not isinstance(data, dict):
        raise ContractError.single("$", f"a message is a JSON object, not {_json_type(data)}")
    envelope = data.get("envelope")
    if not isinstance(envelope, dict):
        raise ContractError.single("envelope", "missing, or not a JSON object")
    version = envelope.get("schema_version")
    models = SUPPORTED_VERSIONS.get(version) if isinstance(version, str) else None
    if models is None:
        supported = ", ".join(sorted(SUPPORTED_VERSIONS))
        retired = RETIRED_VERSIONS.get(version) if isinstance(version, str) else None
        raise ContractError.single(
            "envelope.schema_version",
            retired or f"{_absent_or('not a version this broker reads', version)} (supported: {supported})",
        )
    assert isinstance(version, str)  # a version of SUPPORTED_VERSIONS
    model = _model_of(envelope.get("kind"), version, models)
    if "sealed" in data:
        return _validate_sealed(data, model, version)
    later = later_fields(version, model.KIND, data)
    if later:
        raise ContractError([FieldError(f, reason) for f, reason in later])
    if raw is not None:
        try:
            return model.model_validate_json(raw)
        except ValidationError:
            pass  # the errors, as they are told, come from `data` below
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)[:MAX_ERRORS]
        raise ContractError([_field_error(e, data) for e in errors]) from None


_SEALED_MEMBERS = ("envelope", "routing", "sealed")


def _validate_sealed(data: dict[str, Any], model: type[Message], version: str) -> Message:
    """A sealed message (broker/domain/sealed_view.py): the envelope and the clear routing facts
    validated by the kind's models; `sealed` itself is the sealing check's (broker/router/bodies.py)."""
    view = {"envelope": data["envelope"], "body": _sealed_routing(data, model.KIND), "sealed": data["sealed"]}
    later = later_fields(version, model.KIND, view)
    try:
        if later:
            raise ContractError([FieldError(f, reason) for f, reason in later])
        return sealed_model(model).model_validate(view)
    except ValidationError as exc:
        errors = [_field_error(e, view) for e in exc.errors(include_url=False)[:MAX_ERRORS]]
        raise ContractError([_as_routing(e) for e in errors]) from None
    except ContractError as exc:
        raise ContractError([_as_routing(e) for e in exc.errors]) from None


def _sealed_routing(data: dict[str, Any], kind: Kind) -> dict[str, Any]:
    """The members of a sealed message checked; returns its routing facts ({} for none)."""
    if kind in UNSEALABLE:
        raise ContractError.single(
            "sealed", f"a {kind.value} is read or written by the broker itself: publish it unsealed"
        )
    if "body" in data:
        raise ContractError.single("body", "a sealed message carries no clear body: its body is in sealed")
    for n, name in enumerate(data, 1):
        if name not in _SEALED_MEMBERS:
            raise ContractError.single(f"<key #{n}>", "unknown member of a sealed message")
    if not isinstance(data["sealed"], dict):
        raise ContractError.single("sealed", "must be a JSON object (schemas/sealing/FORMAT.md)")
    routing = data.get("routing")
    if ROUTING_FACTS.get(kind) and routing is None:
        names = ", ".join(ROUTING_FACTS[kind])
        raise ContractError.single("routing", f"missing: a sealed {kind.value} states its {names} in clear")
    if routing is not None and not isinstance(routing, dict):
        raise ContractError.single("routing", "must be a JSON object")
    return routing or {}


def _as_routing(error: FieldError) -> FieldError:
    """A sealed message's routing facts are validated as its body: name them as they are sent."""
    head, dot, rest = error.field.partition(".")
    if head != "body":
        return error
    return FieldError(f"routing{dot}{rest}", error.reason.replace("body.", "routing."))


def _model_of(kind: Any, version: str, models: dict[Kind, type[Message]]) -> type[Message]:
    """The model of a kind in one version; a kind a later version added is named with that version."""
    known = Kind(kind) if isinstance(kind, str) and kind in Kind._value2member_map_ else None
    model = models.get(known) if known is not None else None
    if known is not None and model is None:
        since = added_in(known)
        raise ContractError.single(
            "envelope.kind",
            f"{known.value} is a kind of contract {since}, not of {version}: send schema_version {since}",
        )
    if model is None:
        raise ContractError.single(
            "envelope.kind",
            f"{_absent_or('not a known message kind', kind)} (known: {', '.join(k.value for k in models)})",
        )
    return model


def _field_error(error: Any, data: Any) -> FieldError:
    parts = _json_path(error["loc"], data)
    reason = str(error["msg"])
    if reason.startswith("Value error, "):
        reason = reason[len("Value error, ") :]
    # Model-level rules name their field as "path: reason" (pydantic gives them no location).
    head, sep, rest = reason.partition(": ")
    if sep and " " not in head and head.replace(".", "").replace("_", "").isalnum():
        parts = [*parts, *head.split(".")]
        reason = rest
    reason = _without_input(error, reason)
    path = ".".join(part[:MAX_FIELD_PART] for part in parts) or "$"
    return FieldError(path[:MAX_FIELD_PATH], reason[:MAX_REASON])


def _json_path(loc: tuple[int | str, ...], data: Any) -> list[str]:
    """pydantic's location as a JSON path, walking the input beside it so that a key the sender
    chose is named by its position. Parts that are pydantic's own (validator and union names)
    match neither the input nor the contract and are dropped."""
    parts: list[str] = []
    node = data
    for part in loc:
        if isinstance(part, int):
            parts.append(str(part))
            node = node[part] if isinstance(node, list) and -len(node) <= part < len(node) else None
        elif isinstance(node, dict) and part in node:
            parts.append(_key_name(part, node))
            node = node[part]
        elif part in contract_names():
            parts.append(part)  # a required field that is missing
            node = None
    return parts


def _without_input(error: Any, reason: str) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown field (not part of the contract)"
    if error["type"] not in ("value_error", "assertion_error") and "error" in (error.get("ctx") or {}):
        # parser details (UUID, dates) may quote characters of the input: keep the general part
        return reason.partition(", ")[0]
    value = error.get("input")
    if isinstance(value, str) and len(value) > 1 and value in reason:
        return f"invalid value ({error['type']})"
    return reason


def _key_name(key: str, node: dict[str, Any]) -> str:
    if key in contract_names():
        return key
    return f"<key #{list(node).index(key) + 1}>"


@cache
def contract_names() -> frozenset[str]:
    """Every field name any supported contract version defines: the only keys echoed in errors."""
    names: set[str] = {"envelope", "body", *_SEALED_MEMBERS}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            properties = node.get("properties")
            if isinstance(properties, dict):
                names.update(properties)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for models in SUPPORTED_VERSIONS.values():
        for model in models.values():
            walk(model.model_json_schema(mode="validation"))
    walk(SealedBody.model_json_schema(mode="validation"))
    return frozenset(names)


def _json_type(value: Any) -> str:
    return {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean"}.get(
        type(value), "null"
    )


def _absent_or(reason: str, value: Any) -> str:
    return "missing" if value is None else reason
