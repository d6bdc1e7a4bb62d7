"""The contract through other languages' tools (tests/node, installed by `.ci/run` with npm ci):
`asyncapi validate` with no warnings, ajv strict compiling every schema and giving every corpus item
the router's verdict, TypeScript models generated from the AsyncAPI document and compiled by tsc;
and `check-jsonschema` validating the examples offline."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from broker.domain.messages import SCHEMA_VERSION
from broker.domain.versions import READ_VERSIONS

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = ROOT / "tests" / "node"
SCHEMAS = ROOT / "schemas"

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed (CI has Node 20)")


def _node_env(tmp_path: Path) -> dict[str, str]:
    # the CLI keeps its analytics setting under HOME: a scratch one, with analytics off
    return {**os.environ, "HOME": str(tmp_path), "SUPPRESS_NO_CONFIG_WARNING": "1", "NO_COLOR": "1"}


def _run(args: list[str], tmp_path: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    if not (NODE_DIR / "node_modules").is_dir():
        pytest.fail("tests/node has no node_modules: run `npm ci --prefix tests/node` (.ci/run does)")
    return subprocess.run(
        args, cwd=NODE_DIR, env=_node_env(tmp_path), capture_output=True, text=True, timeout=timeout
    )


@needs_node
def test_asyncapi_validate_accepts_the_document_with_no_warnings(tmp_path: Path) -> None:
    cli = str(NODE_DIR / "node_modules" / ".bin" / "asyncapi")
    _run([cli, "config", "analytics", "--disable"], tmp_path)
    result = _run([cli, "validate", str(SCHEMAS / "asyncapi.yaml"), "--fail-severity=warn"], tmp_path)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "don't have governance issues" in out or "(0 errors, 0 warnings" in out, out


def _corpus() -> list[dict[str, Any]]:
    return [
        i for p in sorted((SCHEMAS / "corpus").glob("*.json")) for i in json.loads(p.read_text())["items"]
    ]


@needs_node
def test_ajv_strict_compiles_every_schema_and_agrees_with_the_corpus(tmp_path: Path) -> None:
    result = _run(["node", "check-schemas.mjs"], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["compiled"] == report["schemas"] == len(list(SCHEMAS.glob("v*/*.schema.json")))
    assert report["versions"] == [*READ_VERSIONS] and READ_VERSIONS[-1] == SCHEMA_VERSION
    assert report["examples"] == len(list((SCHEMAS / "examples").glob("*.json")))
    assert report["sealedVectors"] == 4  # two valid sealed messages per suite
    expected = {i["name"]: "beyond_schema" in i or i["expect"] == "valid" for i in _corpus()}
    disagreements = sorted(n for n, ok in expected.items() if report["corpus"].get(n) != ok)
    assert disagreements == [] and len(report["corpus"]) == len(expected)


@needs_node
def test_typescript_models_from_the_asyncapi_document_compile(tmp_path: Path) -> None:
    generated = _run(["node", "generate-models.mjs"], tmp_path)
    assert generated.returncode == 0, generated.stdout + generated.stderr
    names = json.loads(generated.stdout)["names"]
    for name in ("CaseNotice", "CaseNoticeEnvelope", "CaseFacts", "DecisionRecord", "QuarantinedRecord"):
        assert name in names
    compiled = _run([str(NODE_DIR / "node_modules" / ".bin" / "tsc"), "-p", "tsconfig.json"], tmp_path)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr


def test_check_jsonschema_validates_the_examples_offline() -> None:
    examples = sorted((SCHEMAS / "examples").glob("*.json"))
    result = _check_jsonschema(SCHEMAS / f"v{SCHEMA_VERSION}", examples)
    assert result.returncode == 0 and "ok -- validation done" in result.stdout, result.stdout + result.stderr


def _check_jsonschema(folder: Path, files: list[Path]) -> subprocess.CompletedProcess[str]:
    """check-jsonschema with the folder as base URI and every proxy pointing nowhere: offline."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--base-uri",
            folder.as_uri() + "/",
            "--schemafile",
            str(folder / "message.schema.json"),
            *map(str, files),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"},
    )


def test_check_jsonschema_reads_2_0_messages_with_the_2_0_folder_offline(tmp_path: Path) -> None:
    items = json.loads((SCHEMAS / "corpus" / "versions.json").read_text())["items"]
    valid, invalid = [], []
    for item in items:
        if item["message"]["envelope"]["schema_version"] == "2.0":
            path = tmp_path / f"{item['name']}.json"
            path.write_text(json.dumps(item["message"], ensure_ascii=False), encoding="utf-8")
            (valid if item["expect"] == "valid" else invalid).append(path)
    assert valid and invalid
    result = _check_jsonschema(SCHEMAS / "v2.0", valid)
    assert result.returncode == 0, result.stdout + result.stderr
    for path in invalid:  # one at a time: each must be refused on its own
        assert _check_jsonschema(SCHEMAS / "v2.0", [path]).returncode == 1, path.name
