"""Registering participants' keys at provisioning: a folder of public keys files (one
`rb-public-keys/1` file per participant, any name ending in .json) becomes the key directory, signed
with the deployment key, and the participants with no keys are named so provisioning can report them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from broker.sealing import directory, keys
from broker.sealing.errors import SealingError
from broker.sealing.participant import Sealing
from broker.sealing.suites import Suite


@dataclass(frozen=True)
class Registration:
    directory: directory.KeyDirectory
    document: dict[str, Any]
    missing: tuple[str, ...]  # provisioned addresses with no keys in the directory
    unknown: tuple[str, ...]  # addresses with keys that are not provisioned participants


def register(
    public_folder: str | Path,
    addresses: Iterable[str],
    deployment: keys.DeploymentKey,
    at: datetime,
    previous: directory.KeyDirectory | None = None,
) -> Registration:
    """The signed directory of every public keys file in this folder. A file that cannot be read
    is refused naming the file and the reason, never skipped. `previous`: the directory published
    before; a key it revoked stays revoked, whatever the files list."""
    folder = Path(public_folder)
    if not folder.is_dir():
        raise SealingError("public keys folder", f"{folder.name} is not a folder")
    generations: list[keys.Generation] = []
    for path in sorted(folder.glob("*.json")):
        generations.extend(keys.load_public(path))
    built, document = directory.build(directory.carried(previous, generations), deployment, at)
    wanted = [str(a) for a in addresses]
    keyed = {g.address for g in built.entries}
    return Registration(
        built,
        document,
        tuple(a for a in wanted if a not in keyed),
        tuple(sorted(keyed - set(wanted))),
    )


@dataclass(frozen=True)
class MadeKeys:
    """Keys made in one place for a set of participants, as each would make its own with `keys
    generate`, and the directory signed for them: for the demo, the bench and the tests, never for a
    deployment (whose private keys stay with each participant)."""

    deployment: keys.DeploymentKey
    directory: directory.KeyDirectory
    document: dict[str, Any]
    parties: dict[str, Sealing]
    """Each address's sealing, with its own key ring."""
    router: Sealing
    """The router's: the directory and the deployment's public key, no key ring."""


def make_keys(
    addresses: Iterable[str],
    the_suite: Suite,
    since: datetime,
    valid_for: timedelta = keys.DEFAULT_VALIDITY,
    at: datetime | None = None,
) -> MadeKeys:
    """A key ring per address valid from `since` for `valid_for`, and the directory issued `at`."""
    deployment = keys.generate_deployment_key(the_suite)
    rings = {a: keys.generate(a, the_suite, since, valid_for) for a in sorted(set(addresses))}
    built, document = directory.build(
        [g for ring in rings.values() for g in ring.public()], deployment, at or datetime.now(UTC)
    )
    trusted = replace(deployment, private=None)
    parties = {a: Sealing(the_suite, trusted, built, ring) for a, ring in rings.items()}
    return MadeKeys(deployment, built, document, parties, Sealing(the_suite, trusted, built))
