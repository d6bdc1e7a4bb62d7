"""The bench's sealed bodies: keys for its participants and a signed directory in its work folder, the
bytes each participant publishes (sealed for the recipients the router will choose, or in clear), and
the router's environment for either (RB_BODIES and the directory's files)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from broker.domain.messages import Message
from broker.sealing import INTERNATIONAL, Sealing, directory, keys
from broker.sealing.registration import make_keys

PLAINTEXT_ENV = {"RB_BODIES": "transitional"}
"""The router's environment for plaintext bodies: the transitional mode, said explicitly."""


@dataclass(frozen=True)
class BenchBodies:
    parties: dict[str, Sealing]
    """Each participant's sealing; empty: bodies in clear."""
    router_env: dict[str, str]

    @property
    def sealed(self) -> bool:
        return bool(self.parties)

    def wire(self, message: Message) -> bytes:
        if not self.parties:
            return message.model_dump_json(exclude_none=True).encode()
        return self.parties[message.envelope.sender].wire(message)

    def sealing_for(self, address: str) -> Sealing | None:
        return self.parties.get(address)


PLAINTEXT = BenchBodies({}, PLAINTEXT_ENV)


def sealed_bodies(addresses: Iterable[str], workdir: Path) -> BenchBodies:
    """International-suite keys for these participants, as each would make with `keys generate`."""
    made = make_keys(addresses, INTERNATIONAL, datetime.now(UTC) - timedelta(hours=1))
    directory_file, public_file = workdir / "key-directory.json", workdir / "deployment.public.json"
    directory.save(made.document, directory_file)
    keys.save_deployment_key(made.deployment, workdir / "deployment.key.json", public_file)
    env = {
        "RB_BODIES": "sealed",
        "RB_SEALING_SUITE": "international",
        "RB_KEY_DIRECTORY": str(directory_file),
        "RB_DEPLOYMENT_PUBLIC_KEY": str(public_file),
    }
    return BenchBodies(made.parties, env)
