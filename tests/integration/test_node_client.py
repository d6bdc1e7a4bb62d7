"""Issues 13 and 14: a bureau system in another language (Node.js, amqplib) hears of every refusal,
and learns the threshold evaluator's level and clauses before it sends a referral.

tests/node/refusal-client.mjs is written from the README and schemas/ alone; it publishes five
common mistakes under its own user_id and reads its own inbox. Each must come back as exactly one
delivery_refused naming the stage and field, and the sender it claimed (another bureau) hears nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from broker.domain.address import Address
from broker.domain.case import CaseFacts
from broker.domain.threshold import assess
from broker.tools.contract.threshold import VECTORS_FILE
from tests.support.deployment import Deployment
from tests.support.traffic import nothing_for

pytestmark = pytest.mark.rabbitmq

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
SENDER, OTHER = "bureau:330681", "bureau:330600"
EXPECTED = {
    "not_json": ("contract", "$"),
    "retired_code": ("contract", "envelope.to.0"),
    "unprovisioned_recipient": ("routing", "envelope.to"),
    "claims_another_sender": ("authentication", "envelope.sender"),
    "too_large": ("contract", "$"),
}


def run_node(dep: Deployment, script: str, **env: str) -> subprocess.CompletedProcess[str]:
    """One of tests/node's scripts as the bureau SENDER, with its credentials and inbox in the
    environment (and `env`)."""
    if not (NODE_DIR / "node_modules" / "amqplib").is_dir():
        pytest.fail("tests/node has no node_modules: run `npm ci --prefix tests/node` (.ci/run does)")
    environment = {
        "PATH": os.environ["PATH"],
        "RB_URL": dep.url_for(SENDER),
        "RB_USER": dep.participants.username(Address.parse(SENDER)),
        "RB_INBOX": dep.inbox(SENDER),
        "RB_ADDRESS": SENDER,
        **env,
    }
    return subprocess.run(
        ["node", script], cwd=NODE_DIR, env=environment, capture_output=True, text=True, timeout=60
    )



@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed (CI has Node 20)")
def test_a_node_amqplib_bureau_gets_one_refusal_per_mistake(deployment: Deployment) -> None:
    dep = deployment
    result = run_node(dep, "refusal-client.mjs", RB_OTHER=OTHER)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    published = {p["name"]: p["messageId"] for p in lines[-1]["published"]}
    refusals = lines[:-1]
    assert len(refusals) == len(EXPECTED), refusals
    by_id = {r.get("refused_message_id"): r for r in refusals}
    for name, (stage, field) in EXPECTED.items():
        refusal = by_id.get(published[name])  # the AMQP message_id where the body has none
        assert refusal is not None, f"no refusal for {name}: {refusals}"
        assert refusal["sender"] == "system:000000" and refusal["to"] == [SENDER]
        assert (refusal["stage"], refusal["field"]) == (stage, field), name
        assert refusal["reason"] and refusal["what_to_do"]
    assert nothing_for(dep.client(OTHER)), "the claimed sender hears nothing"


ASKED = ("nothing", "art5.3.at", "art5.7.ten_times", "art6.1.at")


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed (CI has Node 20)")
def test_a_node_bureau_learns_level_and_clauses_before_it_refers(deployment: Deployment) -> None:
    """tests/node/assessment-client.mjs asks for the assessment of shared threshold vectors and gets
    what the Python evaluator gives: what its police_referral's body must state."""
    dep = deployment
    result = run_node(dep, "assessment-client.mjs", RB_VECTORS=",".join(ASKED))
    assert result.returncode == 0, result.stderr
    answers = {
        a["name"]: a for a in (json.loads(line) for line in result.stdout.splitlines() if line.strip())
    }
    assert set(answers) == set(ASKED)
    vectors = {v["name"]: v for v in json.loads((VECTORS_FILE).read_text(encoding="utf-8"))["vectors"]}
    for name, answer in answers.items():
        expected = assess(CaseFacts.model_validate(vectors[name]["facts"]))
        assert answer["sender"] == "system:000000"
        assert answer["correlationId"] == answer["inReplyTo"]
        assert (answer["level"], answer["threshold_version"]) == (
            expected.level.value,
            expected.rules_version,
        )
        assert answer["clauses"] == [
            {"clause": c.clause, "figures": c.to_dict()["figures"]} for c in expected.clauses
        ]
    assert nothing_for(dep.client(OTHER)), "nobody else hears of it"
