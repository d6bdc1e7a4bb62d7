"""What an operator may see: a national operator everything, a provincial one only what touches
the province (a party whose division code starts with its two digits). Pure."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

PROVINCE = re.compile(r"^[1-8][0-9]$")
"""The first two digits of a GB/T 2260 code: a province (11 Beijing … 82 Macao)."""

_USER_CODE = re.compile(r"-(\d{6})$")
"""The division code at the end of a participant's broker user (`bureau-330681`)."""


@dataclass(frozen=True)
class Scope:
    province: str | None = None
    """Two digits, or None for a national operator."""

    def __post_init__(self) -> None:
        if self.province is not None and not PROVINCE.match(self.province):
            raise ValueError("scope: a province is two digits of a division code, e.g. 33")

    @classmethod
    def parse(cls, text: str) -> Scope:
        return cls(None if text == "national" else text)

    def __str__(self) -> str:
        return "national" if self.province is None else self.province

    @property
    def national(self) -> bool:
        return self.province is None

    def admits_address(self, address: str | None) -> bool:
        if self.province is None:
            return True
        if not address or ":" not in address:
            return False
        code = address.rpartition(":")[2]
        return code.startswith(self.province) and code != "000000"

    def admits_any(self, addresses: Iterable[str | None]) -> bool:
        return self.province is None or any(self.admits_address(a) for a in addresses)

    def admits_record(self, record: dict[str, Any]) -> bool:
        """A routing-log record: its sender, a recipient or a notice's addressee is in the province."""
        if self.province is None:
            return True
        return self.admits_any(record_parties(record))

    def admits_user(self, user_id: str | None) -> bool:
        """A broker user (a held message's validated sender): by the code its name ends in."""
        if self.province is None:
            return True
        found = _USER_CODE.search(user_id or "")
        return found is not None and self.admits_address(f"x:{found.group(1)}")


def record_parties(record: dict[str, Any]) -> list[str]:
    parties = [str(record.get("sender") or "")]
    parties += [str(d.get("to", "")) for d in record.get("deliveries") or [] if isinstance(d, dict)]
    for notice in record.get("notices") or []:
        if isinstance(notice, dict):
            parties += [str(t) for t in notice.get("to") or []]
    refusal = record.get("refusal_notice")
    if isinstance(refusal, dict):
        parties.append(str(refusal.get("to", "")))
    return [p for p in parties if p]
