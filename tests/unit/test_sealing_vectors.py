"""The committed vectors (schemas/sealing/vectors.json), as another implementation would check them:
from the files alone, every valid message verifies and opens for its recipients only, every refused
one is refused; and the fixed keys in them are the ones broker/sealing/vectors.py derives."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from broker.sealing import SealingError, directory, keys, open_message
from broker.sealing.encoding import parse_timestamp
from broker.sealing.sealed import check_for_router
from broker.sealing.suites import SUITES
from broker.sealing.vectors import VECTORS_FILE, world

VECTORS: dict[str, Any] = json.loads(Path(VECTORS_FILE).read_text(encoding="utf-8"))


@pytest.fixture(params=sorted(SUITES))
def name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def loaded(name: str) -> tuple[directory.KeyDirectory, dict[str, keys.KeyRing]]:
    v = VECTORS["suites"][name]
    trusted = keys.deployment_from_json(v["deployment_public"], "deployment_public")
    found = directory.verify(v["directory"], trusted)
    rings = {a: keys.keyring_from_json(r, a) for a, r in v["keyrings"].items()}
    return found, rings


def test_every_suite_has_vectors_and_every_case() -> None:
    assert VECTORS["format"] == "rb-sealing-vectors/1"
    assert set(VECTORS["suites"]) == set(SUITES)
    for v in VECTORS["suites"].values():
        assert len(v["valid"]) == 2
        assert {r["name"] for r in v["refused"]} == {
            "tampered ciphertext",
            "tampered envelope",
            "tampered routing facts",
            "tampered signature",
            "wrong suite",
            "unknown signer fingerprint",
            "revoked signer",
            "expired signer",
        }


def test_valid_vectors_verify_and_open_for_their_recipients_only(name: str) -> None:
    found, rings = loaded(name)
    the_suite = SUITES[name]
    for vector in VECTORS["suites"][name]["valid"]:
        at = parse_timestamp(vector["verify_at"], "verify_at")
        check_for_router(vector["message"], vector["recipients"], directory=found, at=at, expected=the_suite)
        for address in vector["recipients"]:
            got = open_message(
                vector["message"], ring=rings[address], directory=found, at=at, expected=the_suite
            )
            assert got == vector["plaintext"], vector["name"]
        for address in vector["not_recipients"]:
            with pytest.raises(SealingError, match="not sealed for any key of"):
                open_message(
                    vector["message"], ring=rings[address], directory=found, at=at, expected=the_suite
                )


def test_refused_vectors_are_refused_where_they_say(name: str) -> None:
    found, rings = loaded(name)
    for vector in VECTORS["suites"][name]["refused"]:
        at = parse_timestamp(vector["verify_at"], "verify_at")
        with pytest.raises(SealingError) as caught:
            open_message(
                vector["message"], ring=rings["police:330681"], directory=found, at=at, expected=SUITES[name]
            )
        assert caught.value.field == vector["refused_field"], vector["name"]


def test_the_committed_keys_are_the_fixed_ones(name: str) -> None:
    w = world(SUITES[name])
    found, rings = loaded(name)
    assert found.entries == w.directory.entries
    assert rings == w.rings
    assert VECTORS["suites"][name]["deployment_public"] == w.deployment.public_json()
