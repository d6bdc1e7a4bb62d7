"""The one error of the sealing library: what was refused (a field of the sealed message, the key
directory or a key file) and why, in words an operator can act on. Never a body's content."""

from __future__ import annotations


class SealingError(ValueError):
    """A sealed message, key, key file or directory refused. `field` names where (e.g.
    `sealed.signature`, `directory.entries.3`, a file path); `reason` says why."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")
