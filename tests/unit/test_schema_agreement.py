"""The agreement corpus (schemas/corpus/) gives the same verdict through the router's validator and
through an independent JSON Schema validator (python-jsonschema, draft 2020-12, formats asserted);
the ajv half runs in tests/node (test_node_contract.py)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource

from broker.domain.messages import SCHEMA_VERSION, Kind, Scope
from broker.domain.validation import RETIRED_VERSIONS, ContractError, parse_message
from broker.tools.contract.schema import BEYOND_SCHEMA

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def _items() -> list[dict[str, Any]]:
    return [
        item
        for path in sorted((SCHEMAS / "corpus").glob("*.json"))
        for item in json.loads(path.read_text())["items"]
    ]


ITEMS = _items()


@cache
def _validator(version: str = SCHEMA_VERSION) -> jsonschema.Draft202012Validator:
    folder = SCHEMAS / f"v{version}"
    resources = [
        (path.name, Resource.from_contents(json.loads(path.read_text())))
        for path in folder.glob("*.schema.json")
    ]
    registry: Registry[Any] = Registry().with_resources(resources)
    index = json.loads((folder / "message.schema.json").read_text())
    return jsonschema.Draft202012Validator(
        index, registry=registry, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def _raw(item: dict[str, Any]) -> bytes:
    text = item["raw"] if "raw" in item else json.dumps(item["message"], ensure_ascii=False)
    return text.encode("utf-8")


def _schema_accepts(item: dict[str, Any]) -> bool:
    try:
        data = json.loads(item["raw"]) if "raw" in item else item["message"]
    except ValueError:
        return False
    return _validator(_version_of(data)).is_valid(data)


def _version_of(data: Any) -> str:
    """The version whose schemas read a message: its schema_version's, where that folder exists."""
    envelope = data.get("envelope") if isinstance(data, dict) else None
    version = envelope.get("schema_version") if isinstance(envelope, dict) else None
    folder_exists = isinstance(version, str) and version.replace(".", "").isdigit()
    return version if folder_exists and (SCHEMAS / f"v{version}").is_dir() else SCHEMA_VERSION


def test_corpus_has_the_issue_s_42_variants_and_a_variant_per_field_rule() -> None:
    names = {item["name"] for item in ITEMS}
    assert len(names) == len(ITEMS) >= 42
    for must in (
        "case_notice.in_reply_to_null",
        "envelope.sender.retired_code",
        "envelope.sender.unknown_code",
        "envelope.sender.unknown_party",
        "envelope.to.duplicate",
        "envelope.handling.duplicate",
        "case.credit_code.check_character",
        "case.income.thousands_separator",
        "case_notice.case_null",
        "directive.all_subordinates_with_to",
        "receipt_ack.no_in_reply_to",
    ):
        assert must in names, must
    assert {item.get("beyond_schema") for item in ITEMS} - {None} <= set(BEYOND_SCHEMA)


@pytest.mark.parametrize("item", ITEMS, ids=[item["name"] for item in ITEMS])
def test_router_and_json_schema_agree(item: dict[str, Any]) -> None:
    try:
        parse_message(_raw(item))
        router, field = True, None
    except ContractError as exc:
        router, field = False, exc.field
    expected = item["expect"] == "valid"
    assert router == expected, f"router: {field}"
    if not expected and "field" in item:
        assert field == item["field"]
    schema_expected = True if "beyond_schema" in item else expected
    assert _schema_accepts(item) == schema_expected


def test_a_reply_without_in_reply_to_gets_one_error_about_it_through_the_index() -> None:
    example = json.loads((SCHEMAS / "examples" / "receipt_ack.json").read_text())
    del example["envelope"]["in_reply_to"]
    errors = list(_validator().iter_errors(example))
    leaves = [e for error in errors for e in (error.context or [error])]
    assert errors and all("in_reply_to" in e.message for e in leaves), [e.message for e in leaves]


def _at(data: Any, field: str) -> Any:
    node = data
    for part in field.split("."):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return None
    return node


CONTRACT_WORDS = {scope.value for scope in Scope} | set(RETIRED_VERSIONS) | {kind.value for kind in Kind}
"""The contract's own words, which a reason may name ("transfer_declined is a kind of contract 2.1")."""

REFUSED_VALUES = [
    item
    for item in ITEMS
    if item["expect"] == "invalid"
    and "message" in item
    and isinstance(_at(item["message"], item.get("field", "")), str | bool | int | float)
]


@pytest.mark.parametrize("item", REFUSED_VALUES, ids=[item["name"] for item in REFUSED_VALUES])
def test_a_refused_value_is_named_by_its_field_and_never_echoed(item: dict[str, Any]) -> None:
    with pytest.raises(ContractError) as info:
        parse_message(_raw(item))
    value = _at(item["message"], item["field"])
    first = info.value.errors[0]
    assert first.field == item["field"]
    assert first.reason
    shown = json.dumps(value, ensure_ascii=False)
    # the contract's own words may be named ("only a directive may use all_subordinates")
    for text in {str(value), shown} - CONTRACT_WORDS:
        if len(text) > 2:  # shorter texts occur in any sentence
            assert text not in str(info.value), str(info.value)
