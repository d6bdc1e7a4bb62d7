"""The contract outside Python: JSON Schema files, examples, the AsyncAPI document and the data a
participant in another language needs (division registry, threshold rules), all under schemas/.

`referral-broker export-schemas` writes them; `--check` (and a test) fails when the committed
files differ from what the models generate, so the contract cannot drift silently. Every kind in
``MESSAGE_TYPES`` gets its files without naming it here, so a new kind only needs the export.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from broker.domain.messages import MESSAGE_TYPES, SCHEMA_VERSION, Kind
from broker.domain.threshold_rules import DEFAULT_RULES_VERSION
from broker.domain.versions import READ_VERSIONS, kinds_of
from broker.tools.contract.asyncapi import asyncapi_document
from broker.tools.contract.corpus import corpus
from broker.tools.contract.examples import example_messages
from broker.tools.contract.records import record_definitions
from broker.tools.contract.schema import json_schema
from broker.tools.contract.sealed import SEALABLE, sealed_schema

SCHEMA_BASE_URI = f"https://referral-broker.invalid/schemas/v{SCHEMA_VERSION}/"
"""Documented base URI of the current version's schema files (each version's folder has its own,
`.../schemas/v2.0/`). Their `$id`s are relative (`case_notice.schema.json`) and so are their
references, so they resolve against wherever the folder is read from (a file path, this base) and
nothing is fetched; `.invalid` can never resolve to a host."""

DRAFT = "https://json-schema.org/draft/2020-12/schema"

CORPUS_COMMENT = (
    "Agreement corpus (broker/tools/contract/corpus.py): every validator of the contract must give each "
    "item its `expect` verdict; `field` is the field the router names first. An item with "
    "`beyond_schema` breaks a rule JSON Schema cannot state: a JSON Schema validator accepts it, the "
    "router refuses it. `raw` items are exact text (repeated keys, size, not JSON). A validator reads "
    "an item with the schemas of its envelope.schema_version (schemas/v<version>/) where that folder "
    "exists, else with the current version's."
)


def kind_schema(kind: Kind, version: str = SCHEMA_VERSION) -> dict[str, Any]:
    """JSON Schema of one message kind, with the kind's own envelope rules made explicit."""
    return json_schema(kind, version)


def index_schema(version: str = SCHEMA_VERSION) -> dict[str, Any]:
    """One schema accepting any message of this version. It dispatches on envelope.kind (if/then),
    so an invalid message gets the errors of its own kind only, not of every kind."""
    kinds = [kind.value for kind in MESSAGE_TYPES if kind in kinds_of(version)]
    dispatch = [
        {
            "if": {
                "type": "object",
                "properties": {
                    "envelope": {
                        "type": "object",
                        "properties": {"kind": {"const": kind}},
                        "required": ["kind"],
                    }
                },
                "required": ["envelope"],
            },
            "then": {"$ref": f"{kind}.schema.json"},
        }
        for kind in kinds
    ]
    return {
        "$schema": DRAFT,
        "$id": "message.schema.json",
        "title": "Message",
        "description": f"Any message of contract {version}: the schema of its envelope.kind.",
        "type": "object",
        "properties": {
            "envelope": {
                "type": "object",
                "properties": {"kind": {"enum": kinds}},
                "required": ["kind"],
            },
            "body": {},
        },
        "required": ["envelope", "body"],
        "allOf": dispatch,
    }


def records_schema() -> dict[str, Any]:
    """The records and headers the broker writes (routing log, quarantine, delivered copies)."""
    return {
        "$schema": DRAFT,
        "$id": "records.schema.json",
        "title": "DecisionRecord",
        "description": "A record on rb.routing-log; the other definitions are the headers of "
        "quarantined and delivered copies.",
        "$ref": "#/$defs/DecisionRecord",
        "$defs": record_definitions(),
    }


def _data_file(*parts: str) -> str:
    resource = resources.files("broker.domain").joinpath("data", *parts)
    return resource.read_text(encoding="utf-8")


def rendered(root: Path) -> dict[Path, str]:
    """Every generated file under root, with its text."""
    files: dict[Path, str] = {}
    for version in READ_VERSIONS:  # every version the broker reads, each in its own folder
        folder = root / f"v{version}"
        for kind in kinds_of(version):
            files[folder / f"{kind.value}.schema.json"] = _dump(kind_schema(kind, version))
        files[folder / "message.schema.json"] = _dump(index_schema(version))
    # what the broker writes (one format, whichever version it read) is described once, with the current
    files[root / f"v{SCHEMA_VERSION}" / "records.schema.json"] = _dump(records_schema())
    for kind in SEALABLE:  # the sealed form, of the current version (FORMAT.md)
        files[root / f"v{SCHEMA_VERSION}" / f"{kind.value}.sealed.schema.json"] = _dump(sealed_schema(kind))
    for message in example_messages():
        data = message.model_dump(mode="json", exclude_none=True)
        files[root / "examples" / f"{message.envelope.kind.value}.json"] = _dump(data)
    for name, items in corpus().items():
        files[root / "corpus" / name] = _dump({"$comment": CORPUS_COMMENT, "items": items})
    files[root / "divisions.csv"] = _data_file("divisions.csv")
    files[root / "retired.csv"] = _data_file("retired.csv")
    rules = f"{DEFAULT_RULES_VERSION}.json"
    files[root / "threshold" / rules] = _data_file("thresholds", rules)
    files[root / "asyncapi.yaml"] = yaml.safe_dump(
        asyncapi_document(), sort_keys=False, allow_unicode=True, width=100
    )
    return files


def export(root: Path) -> list[Path]:
    """Write every generated file; remove the schema files of a version folder that the models no
    longer generate. Returns what was written or removed."""
    written = []
    files = rendered(root)
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written.append(path)
    for path in _stale(root, files):
        path.unlink()
        written.append(path)
    return written


def drift(root: Path) -> list[str]:
    """Files that differ from what the models generate (empty when the contract is in sync)."""
    problems = []
    files = rendered(root)
    for path, text in files.items():
        if not path.exists():
            problems.append(f"{path}: missing")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{path}: differs from the models")
    problems.extend(f"{path}: not generated by the models" for path in _stale(root, files))
    return problems


def _stale(root: Path, files: dict[Path, str]) -> list[Path]:
    """Schema files in a version folder (schemas/v*/) that the models do not generate."""
    return sorted(p for p in root.glob("v*/*.json") if p not in files)


def _dump(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
