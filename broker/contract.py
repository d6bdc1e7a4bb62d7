"""The contract outside Python: JSON Schema files generated from the models, and example messages.

`referral-broker export-schemas` writes them under schemas/; `--check` (and a test) fails when the
committed files differ from what the models generate, so the contract cannot drift silently.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from broker.domain.messages import MESSAGE_TYPES, SCHEMA_VERSION, Kind, Message
from broker.examples import example_messages

SCHEMA_BASE_URI = "https://referral-broker.invalid/schemas"
"""Identifiers of the schema files ($id); not fetched from anywhere."""


def kind_schema(kind: Kind) -> dict[str, Any]:
    """JSON Schema of one message kind, with the kind's own envelope rules made explicit."""
    model: type[Message] = MESSAGE_TYPES[kind]
    schema = model.model_json_schema(mode="validation")
    required_envelope = ["kind"]
    if model.IS_REPLY:
        required_envelope.append("in_reply_to")
    if model.CASE_FACTS == "required":
        required_envelope.append("case")
    rules: dict[str, Any] = {"properties": {"kind": {"const": kind.value}}, "required": required_envelope}
    if not model.IS_REPLY:
        rules["not"] = {"required": ["in_reply_to"]}
    if model.CASE_FACTS == "forbidden":
        rules.setdefault("allOf", []).append({"not": {"required": ["case"]}})
    schema["properties"]["envelope"] = {"allOf": [schema["properties"]["envelope"], rules]}
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"{SCHEMA_BASE_URI}/v{SCHEMA_VERSION}/{kind.value}.schema.json"
    schema["title"] = f"{kind.value} (contract {SCHEMA_VERSION})"
    schema["description"] = (model.__doc__ or kind.value).strip().splitlines()[0]
    return schema


def index_schema() -> dict[str, Any]:
    """One schema accepting any message of this version: a oneOf over the kinds' files."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{SCHEMA_BASE_URI}/v{SCHEMA_VERSION}/message.schema.json",
        "title": f"referral-broker message (contract {SCHEMA_VERSION})",
        "oneOf": [{"$ref": f"{kind.value}.schema.json"} for kind in MESSAGE_TYPES],
    }


def rendered(root: Path) -> dict[Path, str]:
    """Every generated file under root, with its text."""
    files: dict[Path, str] = {}
    folder = root / f"v{SCHEMA_VERSION}"
    for kind in MESSAGE_TYPES:
        files[folder / f"{kind.value}.schema.json"] = _dump(kind_schema(kind))
    files[folder / "message.schema.json"] = _dump(index_schema())
    for message in example_messages():
        data = message.model_dump(mode="json", exclude_none=True)
        files[root / "examples" / f"{message.envelope.kind.value}.json"] = _dump(data)
    return files


def export(root: Path) -> list[Path]:
    written = []
    for path, text in rendered(root).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written


def drift(root: Path) -> list[str]:
    """Files that differ from what the models generate (empty when the contract is in sync)."""
    problems = []
    for path, text in rendered(root).items():
        if not path.exists():
            problems.append(f"{path}: missing")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{path}: differs from the models")
    return problems


def _dump(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
