"""Registering participants' keys at provisioning: a folder of public keys files (one
`rb-public-keys/1` file per participant, any name ending in .json) becomes the key directory, signed
with the deployment key, and the participants with no keys are named so provisioning can report them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from broker.sealing import directory, keys
from broker.sealing.errors import SealingError


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
