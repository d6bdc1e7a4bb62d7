"""Addresses of participants: a party (a bureau or a department's office) at a division code.

An address is written ``party:code``, for example ``bureau:330681`` (Zhuji market-regulation
bureau), ``police:330600`` (Shaoxing public security) or ``bureau:000000`` (SAMR, national).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property, lru_cache
from typing import Annotated, Final

from pydantic import AfterValidator, Field

from broker.domain.jurisdictions import NATIONAL, JurisdictionError, default_registry


class Party(StrEnum):
    """Who sits at an address: the market-regulation bureau or another department's office."""

    BUREAU = "bureau"
    POLICE = "police"
    CYBERSPACE = "cyberspace"
    TELECOM = "telecom"
    HOUSING = "housing"
    EDUCATION = "education"
    FINANCE = "finance"
    POSTAL = "postal"
    TOURISM = "tourism"
    PROCURATORATE = "procuratorate"
    SYSTEM = "system"
    """The broker itself (``system:000000``): deadline reminders and escalations come from it."""


DEPARTMENTS = frozenset(Party) - {Party.BUREAU, Party.SYSTEM}
"""Parties that are other departments (interdepartmental coordination)."""

_ADDRESS = re.compile(r"([a-z]+):([0-9]{6})")


class AddressError(ValueError):
    pass


@dataclass(frozen=True, order=True)
class Address:
    party: Party
    code: str

    def __str__(self) -> str:
        return self.text

    @cached_property
    def text(self) -> str:
        """``party:code``; kept once made (the router writes each address several times per input)."""
        return f"{self.party.value}:{self.code}"

    @property
    def is_bureau(self) -> bool:
        return self.party is Party.BUREAU

    @property
    def username(self) -> str:
        """The RabbitMQ user of this participant (``bureau-330681``): no ':' so it fits in URLs."""
        return f"{self.party.value}-{self.code}"

    @classmethod
    def parse(cls, text: str) -> Address:
        """Parse and check an address; the code must be a current division code. The registry is
        fixed, so the answer for a text is too: the addresses parsed are kept (the router parses the
        same few thousand several times per input); a refused text is not."""
        return _parse(text)

    @classmethod
    def _parse_uncached(cls, text: str) -> Address:
        match = _ADDRESS.fullmatch(text)
        if match is None:
            # The text is not echoed: a malformed field may hold anything, personal data included.
            raise AddressError("not an address; write party:code, e.g. bureau:330681")
        party_text, code = match.groups()
        if party_text == Party.SYSTEM and code != NATIONAL:
            raise AddressError(f"the system address is {SYSTEM_ADDRESS}")
        try:
            party = Party(party_text)
        except ValueError:
            known = ", ".join(p.value for p in Party)
            raise AddressError(f"unknown party (known: {known})") from None
        try:
            default_registry().validate(code)
        except JurisdictionError as exc:
            raise AddressError(str(exc)) from None
        return cls(party, code)

    @classmethod
    def from_username(cls, username: str) -> Address:
        party, _, code = username.partition("-")
        return cls.parse(f"{party}:{code}")


_parse = lru_cache(maxsize=65_536)(Address._parse_uncached)

SYSTEM_ADDRESS: Final = Address(Party.SYSTEM, NATIONAL)
"""The broker's own address (``system:000000``): its notices come from it, and the tracker publishes as
it; no participant may use it."""


def _check_address(text: str) -> str:
    return str(Address.parse(text))


AddressText = Annotated[
    str,
    Field(
        pattern=r"^[a-z]+:[0-9]{6}$",
        description="A participant address party:code, e.g. bureau:330681 or police:330600; the "
        "code is a current GB/T 2260 division code (000000 is the national level).",
        examples=["bureau:330681"],
    ),
    AfterValidator(_check_address),
]
"""An address as it appears in a message: text, checked against the registry."""
