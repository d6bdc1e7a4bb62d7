"""The setup the client and the router load (broker/sealing/participant.py), from the files the keys
CLI writes: a parsed message sealed for the recipients the router will choose, checked by the
router's setup without a key ring, opened and parsed by each recipient; an old directory refused."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from broker.domain.validation import parse_message
from broker.sealing import SealingError, directory, keys
from broker.sealing.participant import Sealing
from broker.sealing.suites import SUITES
from broker.sealing.vectors import EXAMPLES, RECIPIENTS, SENDER

NOW = datetime.now(UTC)


@pytest.fixture(params=sorted(SUITES))
def files(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Path]:
    the_suite = SUITES[request.param]
    deployment = keys.generate_deployment_key(the_suite)
    keys.save_deployment_key(deployment, tmp_path / "dep.json", tmp_path / "dep.public.json")
    generations = []
    for address in (SENDER, *RECIPIENTS):
        ring = keys.generate(address, the_suite, NOW - timedelta(minutes=1))
        keys.save_keyring(ring, tmp_path / f"{address.replace(':', '-')}.keyring.json")
        generations.extend(ring.public())
    _, document = directory.build(generations, deployment, NOW)
    directory.save(document, tmp_path / "directory.json")
    return request.param, tmp_path


def setup(files: tuple[str, Path], address: str | None) -> Sealing:
    name, d = files
    ring = d / f"{address.replace(':', '-')}.keyring.json" if address else None
    return Sealing.load(name, d / "directory.json", d / "dep.public.json", ring)


def test_seal_check_open_from_the_files(files: tuple[str, Path]) -> None:
    raw = (EXAMPLES / "police_referral.json").read_bytes()
    message = parse_message(raw)
    participants = [SENDER, *RECIPIENTS]
    wire = json.dumps(setup(files, SENDER).seal(message, participants)).encode()
    assert b"330681199001011234" not in wire and b"persons" not in wire
    router = setup(files, None)
    router.check(json.loads(wire), RECIPIENTS)
    for address in RECIPIENTS:
        opened = setup(files, address).open(json.loads(wire))
        assert parse_message(json.dumps(opened).encode()) == message
    with pytest.raises(SealingError, match="opening needs the participant's key ring"):
        router.open(json.loads(wire))


def test_a_directory_older_than_the_one_held_is_refused(files: tuple[str, Path]) -> None:
    d = files[1]
    held = setup(files, None)
    deployment = keys.load_deployment_key(d / "dep.json")
    later = replace(
        held.directory.revoked(held.directory.entries[0].signing.kid, NOW), issued_at=NOW + timedelta(hours=1)
    )
    newer = directory.sign(later, deployment)
    updated = held.with_directory(newer)
    older = json.loads((d / "directory.json").read_text())
    with pytest.raises(SealingError) as caught:
        updated.with_directory(older)
    assert caught.value.field == "directory.issued_at"
