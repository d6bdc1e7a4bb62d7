"""Keys (broker/sealing/keys.py, directory.py) and `referral-broker keys`: private key files mode 600
and refused when others may read them, the directory's signature verified and a tampered one refused,
rotation and revocation through the CLI, every refusal one line without a traceback."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from broker.cli.main import main
from broker.credentials import write_private
from broker.sealing import SealingError, directory, keys
from broker.sealing.suites import INTERNATIONAL, NATIONAL, SUITES
from broker.sealing.vectors import world
from tests.support.files import mode

NOW = datetime(2026, 5, 1, tzinfo=UTC)


pytestmark = pytest.mark.usefixtures("usual_umask")


@pytest.mark.parametrize("name", sorted(SUITES))
def test_key_ring_file_is_mode_600_and_loads_back(tmp_path: Path, name: str) -> None:
    ring = keys.generate("bureau:330681", SUITES[name], NOW)
    path = tmp_path / "ring.json"
    keys.save_keyring(ring, path)
    assert mode(path) == 0o600
    assert keys.load_keyring(path) == ring
    keys.save_public(ring.public(), tmp_path / "public.json")
    assert keys.load_public(tmp_path / "public.json") == ring.public()
    assert "private" not in (tmp_path / "public.json").read_text()


@pytest.mark.parametrize("loose", [0o640, 0o604, 0o644, 0o660])
def test_a_private_key_file_others_may_read_is_refused(tmp_path: Path, loose: int) -> None:
    path = tmp_path / "ring.json"
    keys.save_keyring(keys.generate("bureau:330681", INTERNATIONAL, NOW), path)
    path.chmod(loose)
    with pytest.raises(SealingError) as caught:
        keys.load_keyring(path)
    assert caught.value.field == str(path) and f"mode {loose:o}" in caught.value.reason
    deployment, public = tmp_path / "d.json", tmp_path / "d.public.json"
    keys.save_deployment_key(keys.generate_deployment_key(INTERNATIONAL), deployment, public)
    assert mode(deployment) == 0o600
    deployment.chmod(loose)
    with pytest.raises(SealingError, match="lets group or others read it"):
        keys.load_deployment_key(deployment)


def test_a_key_ring_whose_private_key_does_not_match_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ring.json"
    keys.save_keyring(keys.generate("bureau:330681", NATIONAL, NOW), path)
    other = keys.generate("bureau:330681", NATIONAL, NOW)
    document = json.loads(path.read_text())
    document["generations"][0]["signing"]["private"] = keys.keyring_json(other)["generations"][0]["signing"][
        "private"
    ]
    write_private(path, json.dumps(document))
    with pytest.raises(SealingError, match="a private key does not match its public key"):
        keys.load_keyring(path)


def test_a_public_key_whose_fingerprint_is_wrong_or_not_a_point_is_refused(tmp_path: Path) -> None:
    ring = keys.generate("police:330681", NATIONAL, NOW)
    entry = ring.generations[0].public.to_json()
    entry["signing"]["kid"] = entry["encryption"]["kid"]
    with pytest.raises(SealingError) as caught:
        keys.Generation.from_json(entry, "g")
    assert caught.value.field == "g.signing.kid"
    entry = ring.generations[0].public.to_json()
    entry["encryption"]["public"] = "BA" + entry["encryption"]["public"][2:-4] + "AAAA"
    with pytest.raises(SealingError, match="is not a rb-sm-1 public key"):
        keys.Generation.from_json(entry, "g")


@pytest.mark.parametrize("name", sorted(SUITES))
def test_the_directory_signature_verifies_and_any_change_is_refused(name: str) -> None:
    w = world(SUITES[name])
    found = directory.verify(json.loads(json.dumps(w.document)), w.deployment)
    assert found.entries == w.directory.entries
    for change in (
        lambda d: d["entries"][2].update(not_after="2099-01-01T00:00:00Z"),  # a longer life
        lambda d: d["entries"][0].pop("revoked_at"),  # a revocation undone
        lambda d: d["entries"].append(dict(d["entries"][-1], address="bureau:330602")),  # a key handed over
        lambda d: d.update(issued_at="2026-01-02T00:00:00Z"),
    ):
        tampered = json.loads(json.dumps(w.document))
        change(tampered)
        with pytest.raises(SealingError) as caught:
            directory.verify(tampered, w.deployment)
        assert caught.value.field == "directory.signature"


def test_a_directory_signed_by_another_deployment_key_is_refused() -> None:
    w = world(INTERNATIONAL)
    impostor = keys.generate_deployment_key(INTERNATIONAL)
    forged = directory.sign(w.directory, impostor)
    with pytest.raises(SealingError) as caught:
        directory.verify(forged, w.deployment)
    assert (
        caught.value.field == "directory.signer" and "not the trusted deployment key" in caught.value.reason
    )


def test_a_key_listed_for_two_participants_is_refused() -> None:
    w = world(INTERNATIONAL)
    copy = replace(w.directory.entries[-1], address="bureau:330602")
    with pytest.raises(SealingError, match="is listed for bureau:330600 and again for bureau:330602"):
        directory.build([*w.directory.entries, copy], w.deployment, NOW)


def rb(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_generate_rotate_build_verify_revoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = str(tmp_path)
    code, out, _ = rb(capsys, "keys", "generate", "bureau:330681", "--dir", d)
    assert code == 0 and "sha256:" in out
    assert rb(capsys, "keys", "generate", "police:330681", "--dir", d)[0] == 0
    ring_path = tmp_path / "bureau-330681.keyring.json"
    assert mode(ring_path) == 0o600 and mode(tmp_path / "bureau-330681.public.json") == 0o644
    code, _, err = rb(capsys, "keys", "generate", "bureau:330681", "--dir", d)
    assert code == 2 and "exists; `referral-broker keys rotate`" in err and "Traceback" not in err
    dep, dep_public = str(tmp_path / "dep.json"), str(tmp_path / "dep.public.json")
    assert rb(capsys, "keys", "deployment", "generate", "--out", dep, "--public-out", dep_public)[0] == 0
    out_dir = str(tmp_path / "directory.json")
    publics = [str(tmp_path / "bureau-330681.public.json"), str(tmp_path / "police-330681.public.json")]
    code, out, _ = rb(
        capsys, "keys", "directory", "build", *publics, "--deployment-key", dep, "--out", out_dir
    )
    assert code == 0 and "2 key generations of 2 participants, 0 revoked" in out

    first = keys.load_keyring(ring_path).generations[0].public.signing.kid
    code, out, _ = rb(capsys, "keys", "rotate", str(ring_path))
    assert code == 0 and "2 generations kept" in out
    assert len(keys.load_keyring(ring_path).generations) == 2
    code, out, _ = rb(
        capsys, "keys", "directory", "build", *publics, "--deployment-key", dep, "--out", out_dir,
        "--from", out_dir, "--revoke", first,
    )  # fmt: skip
    assert code == 0 and "3 key generations of 2 participants, 1 revoked" in out
    code, out, _ = rb(capsys, "keys", "directory", "verify", out_dir, "--deployment-public", dep_public)
    assert code == 0 and "signature verified" in out and "2 usable, 1 revoked" in out
    # The participant's file still lists the revoked generation: rebuilding does not undo the revocation.
    code, out, _ = rb(
        capsys,
        "keys",
        "directory",
        "build",
        *publics,
        "--deployment-key",
        dep,
        "--out",
        out_dir,
        "--from",
        out_dir,
    )
    assert code == 0 and "1 revoked" in out
    later = (datetime.now(UTC) + timedelta(days=400)).strftime("%Y-%m-%dT%H:%M:%SZ")
    code, out, _ = rb(
        capsys, "keys", "directory", "verify", out_dir, "--deployment-public", dep_public, "--at", later
    )
    assert code == 0 and "0 usable, 3 revoked or outside their window" in out


def test_cli_refusals_are_one_line_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = str(tmp_path)
    assert rb(capsys, "keys", "generate", "bureau:330681", "--dir", d)[0] == 0
    ring = tmp_path / "bureau-330681.keyring.json"
    ring.chmod(0o644)
    code, _, err = rb(capsys, "keys", "rotate", str(ring))
    assert code == 2 and err == f"error: {ring}: mode 644 lets group or others read it; chmod 600 {ring}\n"
    code, _, err = rb(capsys, "keys", "generate", "bureau:330681", "--suite", "rsa", "--dir", d)
    assert code == 2 and err.startswith("error: --suite: is not a known suite (known: rb-intl-1")
    code, _, err = rb(capsys, "keys", "generate", "bureau:999999", "--dir", d)
    assert code == 2 and err.startswith("error: address: division code 999999")
    dep, dep_public = str(tmp_path / "dep.json"), str(tmp_path / "dep.public.json")
    assert rb(capsys, "keys", "deployment", "generate", "--out", dep, "--public-out", dep_public)[0] == 0
    out_dir = tmp_path / "directory.json"
    publics = [str(tmp_path / "bureau-330681.public.json")]
    assert (
        rb(capsys, "keys", "directory", "build", *publics, "--deployment-key", dep, "--out", str(out_dir))[0]
        == 0
    )
    out_dir.write_text(out_dir.read_text().replace('"not_after": "2', '"not_after": "3'))
    code, _, err = rb(capsys, "keys", "directory", "verify", str(out_dir), "--deployment-public", dep_public)
    assert code == 2 and err == (
        "error: directory.signature: does not verify with the deployment key: the directory was altered\n"
    )
    code, _, err = rb(
        capsys, "keys", "directory", "verify", str(tmp_path / "nope.json"), "--deployment-public", dep_public
    )
    assert code == 2 and err.startswith("error: ") and "Traceback" not in err
