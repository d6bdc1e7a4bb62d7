"""The sealed form in the contract (schemas/v2.1/<kind>.sealed.schema.json, broker/domain/sealed_view.py):
the sealing vectors' messages are valid to both the router's validation and JSON Schema, and each
change to their shape is refused by both, naming the same field."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from broker.domain.messages import MESSAGE_TYPES
from broker.domain.sealed_view import ROUTING_FACTS, UNSEALABLE
from broker.domain.validation import ContractError, validate_message
from broker.sealing.vectors import VECTORS_FILE
from broker.tools.contract.sealed import SEALABLE

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
VECTORS = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))
SEALED = [v["message"] for suite in VECTORS["suites"].values() for v in suite["valid"]]


def schema_errors(message: dict[str, Any]) -> list[str]:
    schema = json.loads((SCHEMAS / "v2.1" / f"{message['envelope']['kind']}.sealed.schema.json").read_text())
    return [e.message for e in Draft202012Validator(schema).iter_errors(message)]


def router_field(message: dict[str, Any]) -> str | None:
    try:
        validate_message(message)
    except ContractError as exc:
        return exc.field
    return None


def test_every_sealable_kind_has_a_sealed_schema_and_no_other() -> None:
    files = {
        p.name.removesuffix(".sealed.schema.json") for p in (SCHEMAS / "v2.1").glob("*.sealed.schema.json")
    }
    assert files == {k.value for k in SEALABLE}
    assert not files & {k.value for k in UNSEALABLE}
    assert set(ROUTING_FACTS) <= set(MESSAGE_TYPES)


@pytest.mark.parametrize("message", SEALED, ids=lambda m: m["sealed"]["suite"])
def test_the_vectors_sealed_messages_are_valid_to_both(message: dict[str, Any]) -> None:
    assert schema_errors(message) == []
    assert router_field(message) is None


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[last] = value

    return apply


def _drop(member: str) -> Callable[[dict[str, Any]], None]:
    def apply(data: dict[str, Any]) -> None:
        *parents, last = member.split(".")
        node: Any = data
        for part in parents:
            node = node[part]
        del node[last]

    return apply


CHANGES: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("routing missing", _drop("routing"), "routing"),
    ("a clear body beside sealed", _set("body", {}), "body"),
    ("sealed not an object", _set("sealed", "x"), "sealed"),
    ("a routing fact of the wrong type", _set("routing.level", "grave"), "routing.level"),
    ("a field in routing the kind does not route on", _set("routing.summary", "x"), "routing.summary"),
    ("signature missing", _drop("sealed.signature"), "sealed.signature"),
    ("a format version this broker does not read", _set("sealed.v", 2), "sealed.v"),
    ("an unknown suite", _set("sealed.suite", "rb-rot13"), "sealed.suite"),
    ("no recipient", _set("sealed.recipients", []), "sealed.recipients"),
    ("a nonce of the wrong size", _set("sealed.nonce", "AAAA"), "sealed.nonce"),
    ("a signer that is not a fingerprint", _set("sealed.signer", "bureau:330681"), "sealed.signer"),
    ("a member sealed does not have", _set("sealed.note", "x"), "sealed.<key #8>"),
    ("an envelope field of the wrong type", _set("envelope.sent_at", "yesterday"), "envelope.sent_at"),
]


@pytest.mark.parametrize(("name", "change", "field"), CHANGES, ids=[c[0] for c in CHANGES])
def test_each_change_of_shape_is_refused_by_both_naming_the_field(
    name: str, change: Callable[[dict[str, Any]], None], field: str
) -> None:
    message = copy.deepcopy(SEALED[0])
    change(message)
    assert router_field(message) == field
    assert schema_errors(message), f"JSON Schema accepts {name}"
