"""Provisioned participants: who has an inbox and a RabbitMQ user, and how users map to addresses."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from broker.domain.address import SYSTEM_ADDRESS, Address, AddressError

SYSTEM = SYSTEM_ADDRESS
"""The broker's own participant (the tracker's deadline notices); always provisioned."""


class ParticipantsError(ValueError):
    pass


@dataclass(frozen=True)
class Participants:
    addresses: frozenset[Address]
    user_prefix: str = ""

    def __iter__(self) -> Iterator[Address]:
        return iter(sorted(self.addresses))

    def __len__(self) -> int:
        return len(self.addresses)

    def __contains__(self, address: object) -> bool:
        return address in self.addresses

    def username(self, address: Address) -> str:
        return f"{self.user_prefix}{address.username}"

    def address_of(self, username: str) -> Address | None:
        """The participant a validated RabbitMQ user stands for, or None for any other user."""
        if not username.startswith(self.user_prefix):
            return None
        try:
            address = Address.from_username(username[len(self.user_prefix) :])
        except AddressError:
            return None
        return address if address in self.addresses else None

    @classmethod
    def of(cls, addresses: Iterable[Address | str], user_prefix: str = "") -> Participants:
        parsed = {a if isinstance(a, Address) else Address.parse(a) for a in addresses}
        return cls(frozenset(parsed | {SYSTEM}), user_prefix)

    @classmethod
    def load(cls, path: str | Path, user_prefix: str = "") -> Participants:
        """Read a participants file: one address a line; '#' starts a comment."""
        addresses = []
        for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            try:
                addresses.append(Address.parse(text))
            except AddressError as exc:
                raise ParticipantsError(f"{path}, line {number}: {exc}") from None
        return cls(frozenset([*addresses, SYSTEM]), user_prefix)

    def dump(self) -> str:
        return "".join(f"{a}\n" for a in self if a != SYSTEM)
