from datetime import UTC, datetime

import pytest

from broker.sealing import directory, keys
from broker.sealing.errors import SealingError
from broker.sealing.registration import register
from broker.sealing.suites import INTERNATIONAL

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _public_file(folder, address):
    ring = keys.generate(address, INTERNATIONAL, NOW)
    keys.save_public(ring.public(), folder / f"{address.replace(':', '_')}.json")
    return ring


def test_folder_becomes_signed_directory_and_missing_are_named(tmp_path):
    deployment = keys.generate_deployment_key(INTERNATIONAL)
    _public_file(tmp_path, "bureau:330681")
    _public_file(tmp_path, "police:330681")
    result = register(tmp_path, ["bureau:330681", "police:330681", "bureau:330602"], deployment, NOW)
    assert result.missing == ("bureau:330602",)
    assert result.unknown == ()
    public = keys.DeploymentKey(deployment.suite, deployment.signing, None)
    verified = directory.verify(result.document, public)
    assert {g.address for g in verified.entries} == {"bureau:330681", "police:330681"}


def test_keys_of_unprovisioned_address_are_reported(tmp_path):
    deployment = keys.generate_deployment_key(INTERNATIONAL)
    _public_file(tmp_path, "bureau:330681")
    result = register(tmp_path, [], deployment, NOW)
    assert result.unknown == ("bureau:330681",)
    assert result.missing == ()


def test_unreadable_file_is_refused_naming_it(tmp_path):
    deployment = keys.generate_deployment_key(INTERNATIONAL)
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(SealingError) as err:
        register(tmp_path, ["bureau:330681"], deployment, NOW)
    assert "broken.json" in str(err.value)
