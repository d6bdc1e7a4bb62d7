"""The shared threshold vectors (schemas/threshold/vectors.json) pass through the Python evaluator:
the same level, clauses and figures that an evaluator in another language must give."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from broker.domain.threshold_rules import DEFAULT_RULES_VERSION
from broker.tools.contract.threshold import VECTORS_FILE, vector

VECTORS = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))
RULES = Path(__file__).resolve().parents[2] / "schemas" / "threshold" / f"{DEFAULT_RULES_VERSION}.json"


def test_vectors_are_for_the_shipped_rules_and_cover_every_clause() -> None:
    assert VECTORS["rules_version"] == DEFAULT_RULES_VERSION == json.loads(RULES.read_text())["version"]
    met = {c["clause"] for v in VECTORS["vectors"] for c in v["expect"]["clauses"]}
    for n in range(1, 11):
        assert f"art5.{n}" in met
    assert {"art5.p2.1", "art5.p2.2", "art5.p2.4", "art6.1", "art6.2"} <= met
    assert any(not v["expect"]["reached"] for v in VECTORS["vectors"])


@pytest.mark.parametrize("case", VECTORS["vectors"], ids=[v["name"] for v in VECTORS["vectors"]])
def test_python_evaluator_passes_the_vector(case: dict[str, Any]) -> None:
    assert vector(case["name"], case["about"], case["facts"])["expect"] == case["expect"]
