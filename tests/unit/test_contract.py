"""The contract outside Python: committed schemas match the models; examples satisfy the schemas."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource

from broker.domain.messages import MESSAGE_TYPES, SCHEMA_VERSION, Kind
from broker.tools.contract import drift, export, kind_schema

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "schemas"


def test_committed_schemas_match_the_models() -> None:
    assert drift(SCHEMAS) == [], "run `referral-broker export-schemas` and commit the result"


def test_drift_is_detected_when_a_model_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(SCHEMAS, tmp_path / "schemas")
    assert drift(tmp_path / "schemas") == []
    model = MESSAGE_TYPES[Kind.ESCALATION]
    original = model.model_json_schema

    def changed(*args: object, **kwargs: object) -> dict[str, object]:
        schema = original(*args, **kwargs)  # type: ignore[arg-type]
        schema["properties"]["urgency"] = {"type": "string"}
        return schema

    monkeypatch.setattr(model, "model_json_schema", changed)
    problems = drift(tmp_path / "schemas")
    # the AsyncAPI document embeds the same definitions, so it drifts with the schema file
    assert problems == [
        f"{tmp_path / 'schemas' / f'v{SCHEMA_VERSION}' / 'escalation.schema.json'}: differs from the models",
        f"{tmp_path / 'schemas' / 'asyncapi.yaml'}: differs from the models",
    ]
    export(tmp_path / "schemas")
    assert drift(tmp_path / "schemas") == []


def test_check_command_fails_on_drift(tmp_path: Path) -> None:
    shutil.copytree(SCHEMAS, tmp_path / "schemas")
    target = tmp_path / "schemas" / f"v{SCHEMA_VERSION}" / "case_notice.schema.json"
    target.write_text(target.read_text().replace('"case_notice"', '"case_notise"'))
    result = subprocess.run(
        [sys.executable, "-m", "broker.cli", "export-schemas", "--check", "--dir", str(tmp_path / "schemas")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1 and "case_notice.schema.json" in result.stdout


def _registry() -> Registry:
    resources = []
    for path in (SCHEMAS / f"v{SCHEMA_VERSION}").glob("*.schema.json"):
        schema = json.loads(path.read_text())
        resources.append((schema["$id"], Resource.from_contents(schema)))
    return Registry().with_resources(resources)


@pytest.mark.parametrize("path", sorted((SCHEMAS / "examples").glob("*.json")), ids=lambda p: p.stem)
def test_examples_satisfy_the_json_schema_of_their_kind_and_no_other(path: Path) -> None:
    example = json.loads(path.read_text())
    registry = _registry()
    index = json.loads((SCHEMAS / f"v{SCHEMA_VERSION}" / "message.schema.json").read_text())
    jsonschema.Draft202012Validator(index, registry=registry).validate(example)
    for kind in MESSAGE_TYPES:
        validator = jsonschema.Draft202012Validator(kind_schema(kind), registry=registry)
        assert validator.is_valid(example) == (kind.value == path.stem), kind


def test_schema_rejects_a_reply_without_in_reply_to() -> None:
    example = json.loads((SCHEMAS / "examples" / "receipt_ack.json").read_text())
    del example["envelope"]["in_reply_to"]
    validator = jsonschema.Draft202012Validator(kind_schema(Kind.RECEIPT_ACK))
    assert not validator.is_valid(example)


def test_asyncapi_document_names_every_kind_and_the_real_topology() -> None:
    from broker.transport import topology

    doc = yaml.safe_load((SCHEMAS / "asyncapi.yaml").read_text())
    assert doc["asyncapi"].startswith("3.")
    text = (SCHEMAS / "asyncapi.yaml").read_text()
    delivered = {m["name"]: m for m in doc["components"]["messages"].values()}
    for kind, model in MESSAGE_TYPES.items():
        payload = delivered[f"{kind.value}_delivered"]["payload"]["$ref"]
        assert payload == f"#/components/schemas/{model.__name__}", kind
        assert model.__name__ in doc["components"]["schemas"], kind
    for name in (
        topology.INBOUND_EXCHANGE,
        topology.DELIVER_EXCHANGE,
        topology.QUARANTINE,
        topology.ROUTING_LOG,
    ):
        assert name in text, name
    assert topology.INBOX_PREFIX in text


@pytest.mark.parametrize(
    "modules",
    [
        "broker.domain.messages, broker.domain.validation, broker.domain.routing, broker.domain.kinds, "
        "broker.domain.factory, broker.domain.jurisdictions, broker.domain.threshold, "
        "broker.domain.decision_record, broker.tools.contract.examples, broker.tools.contract",
        # the pure routing tests must run without a transport: they make messages with the factory
        "tests.unit.test_routing",
        "tests.unit.test_routing_holes",
        "tests.unit.test_messages",
        "tests.unit.test_schema_agreement",
    ],
    ids=["domain", "test_routing", "test_routing_holes", "test_messages", "test_schema_agreement"],
)
def test_domain_imports_no_transport(modules: str) -> None:
    code = (
        f"import sys, {modules}\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('kombu', 'pika', 'amqp'))\n"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_readme_limits_match_the_code() -> None:
    from broker.domain.messages import MAX_TEXT
    from broker.domain.plausible_time import APPROVAL_MAX_AGE, CLOCK_SKEW, SENT_AT_MAX_AGE
    from broker.domain.validation import MAX_ERRORS, MAX_MESSAGE_BYTES

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    limits = readme.split("### Limits", 1)[1].split("\n## ", 1)[0]
    assert f"{MAX_MESSAGE_BYTES:,} bytes ({MAX_MESSAGE_BYTES // 1024} KiB)" in limits
    assert f"{MAX_TEXT:,} characters" in limits
    assert f"at most {int(CLOCK_SKEW.total_seconds() // 60)} minutes ahead of the router's clock" in limits
    assert f"{SENT_AT_MAX_AGE.days} days behind it" in limits
    assert f"{APPROVAL_MAX_AGE.days} days behind" in limits
    assert f"the first {MAX_ERRORS}" in limits
