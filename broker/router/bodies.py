"""The bodies step: which bodies the router takes, and its check of a sealed one (issue 17).

A sealed body (schemas/sealing/FORMAT.md) the router cannot read; before delivering it checks what it
can: the sender's signature over envelope, routing facts and ciphertext (a second proof of the sender
beside the validated user_id), and that every recipient its decision names holds a key the body is
sealed for. A plaintext body it reads only in the transitional mode (`route` with
RB_BODIES=transitional), which the production configuration leaves off; otherwise a plaintext input
is refused and its entry kept without the body, so no body rests in clear on the broker.

The refusals use the stages a sender already knows: a signature that is not the sender's is
`authentication`, a recipient the body is not sealed for is `routing`, anything else `contract`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from broker.domain.address import Address
from broker.domain.messages import Message
from broker.domain.sealed_view import UNSEALABLE, is_sealed
from broker.router.counting import log
from broker.router.outcomes import Quarantine
from broker.sealing.errors import SealingError
from broker.sealing.participant import Sealing

PLAINTEXT_REFUSED = (
    "this deployment takes sealed bodies only: seal the body for its recipients "
    "(schemas/sealing/FORMAT.md, or the client library's sealing=) and publish it again"
)

_STAGES = {
    "sealed.signer": "authentication",
    "sealed.signature": "authentication",
    "sealed.recipients": "routing",  # a recipient of the decision the body is not sealed for
}
"""The stage of a sealing check's refusal, by its field; any other field is `contract`."""

_RESEAL = ": seal it for the recipients recipients_of gives (schemas/sealing/FORMAT.md) and publish it again"


@dataclass
class Bodies:
    """The router's body policy. `sealing`: the suite, the deployment's public key and the key
    directory (None: no directory, so a sealed input is refused). `directory_path`: the directory's
    file, read again when it changes (a rotation or a revocation takes effect without a restart)."""

    plaintext: bool = True
    sealing: Sealing | None = None
    directory_path: Path | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    _stamp: tuple[int, int] | None = None

    @classmethod
    def load(cls, plaintext: bool, suite: str, directory_path: str, deployment_public: str) -> Bodies:
        """Raises SealingError naming the file when the directory or the key does not load."""
        if not directory_path:
            return cls(plaintext=plaintext)
        bodies = cls(plaintext, Sealing.load(suite, directory_path, deployment_public), Path(directory_path))
        bodies._stamp = _stamp(bodies.directory_path)
        return bodies

    def refresh(self) -> None:
        """Take a newly published directory (verified, never older than the one held); a file that
        does not verify is logged and the one held is kept."""
        if self.sealing is None or self.directory_path is None:
            return
        stamp = _stamp(self.directory_path)
        if stamp is None or stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            document = json.loads(self.directory_path.read_bytes())
            self.sealing = self.sealing.with_directory(document)
        except (OSError, ValueError) as exc:
            field_name = exc.field if isinstance(exc, SealingError) else "directory"
            log.error("key directory not taken; keeping the one held", field=field_name)
            return
        log.info("key directory taken", entries=len(self.sealing.directory.entries))

    def admit(self, message: Message) -> Quarantine | None:
        """At the contract check: a sealed message needs a directory, a plaintext one the
        transitional mode (the broker's own kinds are never sealed)."""
        if is_sealed(message):
            if self.sealing is None:
                return Quarantine(
                    "contract", "sealed", "this broker has no key directory, so it cannot take sealed bodies"
                )
            return None
        if self.plaintext or message.KIND in UNSEALABLE:
            return None
        return Quarantine("contract", "body", PLAINTEXT_REFUSED, clear_body=True)

    def check(self, raw: bytes, recipients: Iterable[Address]) -> Quarantine | None:
        """After the decision: the sender's signature, and that each recipient can open the body."""
        assert self.sealing is not None  # admit refused sealed input without a directory
        try:
            self.sealing.check(json.loads(raw), recipients, self.clock())
        except SealingError as exc:
            stage = _STAGES.get(exc.field, "contract")
            return Quarantine(stage, exc.field, exc.reason + (_RESEAL if stage == "routing" else ""))
        return None


def _stamp(path: Path | None) -> tuple[int, int] | None:
    try:
        st = os.stat(path) if path is not None else None
    except OSError:
        return None
    return None if st is None else (st.st_mtime_ns, st.st_size)
