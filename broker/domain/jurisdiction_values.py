"""The values of the division registry (jurisdictions.py builds it): the national, municipal and
Corps codes, levels, divisions in force and retired, the errors a code lookup raises, and the
shape of a code. Pure."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

NATIONAL: Final = "000000"
"""Pseudo division code of the national level (SAMR). It is the superior of every province and
has no superior itself. It is not a GB/T 2260 code."""

NATIONAL_NAME: Final = "全国"
"""Name given to the :data:`NATIONAL` pseudo-division."""

MUNICIPALITIES: Final = frozenset({"110000", "120000", "310000", "500000"})
"""The four municipalities directly under the central government (直辖市): their districts and
counties are subordinates of the province-level code itself."""

XPCC: Final = "660000"
"""The Xinjiang Production and Construction Corps (新疆生产建设兵团), a province-level unit with its own
market regulation bureau; superior of the Corps cities (:data:`XPCC_CITIES`)."""

XPCC_NAME: Final = "新疆生产建设兵团"

XPCC_CITIES: Final = "6590"
"""Code prefix of the Corps cities (自治区直辖县级行政区划 of 新疆 in GB/T 2260)."""

NON_MAINLAND: Final[Mapping[str, str]] = MappingProxyType(
    {"710000": "台湾省", "810000": "香港特别行政区", "820000": "澳门特别行政区"}
)
"""Province-level GB/T 2260 codes outside the mainland market-regulation system (no bureau)."""

DATA_PACKAGE: Final = "broker.domain"
"""Package whose ``data/`` folder holds the shipped data files."""

DIVISIONS_FILE: Final = "divisions.csv"
"""Current divisions, one per row: ``code,name,level,superior`` (national pseudo-level not included)."""

RETIRED_FILE: Final = "retired.csv"
"""Retired codes: ``code,name,retired_in,successor,successor_basis,found_in``."""

DIVISION_COLUMNS: Final = ("code", "name", "level", "superior")
"""Column header of :data:`DIVISIONS_FILE`."""

RETIRED_COLUMNS: Final = ("code", "name", "retired_in", "successor", "successor_basis", "found_in")
"""Column header of :data:`RETIRED_FILE`."""

_CODE = re.compile(r"[0-9]{6}")


class Level(StrEnum):
    """Administrative level of a division (and of the bureau that sits there)."""

    NATIONAL = "national"
    PROVINCE = "province"
    PREFECTURE = "prefecture"
    COUNTY = "county"


class SuccessorBasis(StrEnum):
    """How the successor of a retired code was established."""

    KNOWN = "known"
    """A documented change (merger, county turned district, ...) listed in the refresh tool."""
    SAME_NAME = "same-name"
    """The current division in the same province with the same name stem (溧水县 -> 溧水区).
    A strong hint, not an official mapping."""


@dataclass(frozen=True)
class Division:
    """A division in force: its code, name, level and the code of its superior (None for national)."""

    code: str
    name: str
    level: Level
    superior: str | None


@dataclass(frozen=True)
class RetiredDivision:
    """A code withdrawn from GB/T 2260, with its last known name.

    ``retired_in`` is the year of the change when it is documented, ``successor`` the current
    code that took over (most of) its area when known, ``found_in`` the data release the code
    was taken from (provenance only).
    """

    code: str
    name: str
    retired_in: int | None = None
    successor: str | None = None
    successor_basis: SuccessorBasis | None = None
    found_in: str = ""


class JurisdictionError(ValueError):
    """A division code that cannot be used as a jurisdiction; the message says why in plain words."""

    def __init__(self, code: object, message: str) -> None:
        super().__init__(message)
        self.code: str = code if isinstance(code, str) else repr(code)


class UnknownDivisionError(JurisdictionError):
    """Not a division in force: not in GB/T 2260, a grouping code, or outside the mainland system."""


class MalformedDivisionCodeError(UnknownDivisionError):
    """Not even shaped like a division code (6 ASCII digits)."""


class RetiredDivisionError(JurisdictionError):
    """A code that was in GB/T 2260 and has been withdrawn; ``record`` tells what is known of it."""

    def __init__(self, record: RetiredDivision, successor_name: str | None = None) -> None:
        self.record = record
        super().__init__(record.code, _retired_message(record, successor_name))


def _retired_message(record: RetiredDivision, successor_name: str | None) -> str:
    head = f"division code {record.code} ({record.name}) "
    if record.retired_in is not None:
        head += f"was retired in {record.retired_in}"
    else:
        head += "has been retired (year not recorded)"
    if record.successor is None:
        return head + "; no successor is recorded"
    named = f"{record.successor} ({successor_name})" if successor_name else record.successor
    if record.successor_basis is SuccessorBasis.SAME_NAME:
        return head + f"; likely successor {named}, matched by name"
    return head + f"; now {named}"


def check_code_shape(code: object) -> str:
    """Return ``code`` if it is a string of 6 ASCII digits, else raise MalformedDivisionCodeError."""
    if not isinstance(code, str):
        raise MalformedDivisionCodeError(
            code, f"{code!r} is not a 6-digit division code (got {type(code).__name__}, expected str)"
        )
    if _CODE.fullmatch(code) is None:
        raise MalformedDivisionCodeError(code, f"{code!r} is not a 6-digit division code")
    return code


# How a registry checks its data (jurisdictions.Registry builds from these).


def under_the_corps(divisions: Iterable[Division]) -> Iterator[Division]:
    """The divisions with the Corps cities moved from 新疆 (650000) to the Corps (:data:`XPCC`), and
    the Corps itself added when a Corps city is listed and the Corps is not."""
    corps_listed = False
    corps_city = False
    for d in divisions:
        if d.code == XPCC:
            corps_listed = True
        elif d.code.startswith(XPCC_CITIES) and d.level is Level.COUNTY and d.superior == "650000":
            corps_city = True
            d = Division(d.code, d.name, d.level, XPCC)
        yield d
    if corps_city and not corps_listed:
        yield Division(XPCC, XPCC_NAME, Level.PROVINCE, NATIONAL)


def current_codes(divisions: Iterable[Division]) -> dict[str, Division]:
    """The divisions in force by code, in code order, with the national pseudo-division first."""
    national = Division(NATIONAL, NATIONAL_NAME, Level.NATIONAL, None)
    by_code: dict[str, Division] = {NATIONAL: national}
    for d in under_the_corps(divisions):
        if d.code == NATIONAL:
            if d != national:
                raise ValueError(f"the national pseudo-division must be {national}, got {d}")
            continue
        check_code_shape(d.code)
        if d.code in by_code:
            raise ValueError(f"division code {d.code} is listed twice")
        by_code[d.code] = d
    return dict(sorted(by_code.items()))


def retired_codes(
    retired: Iterable[RetiredDivision], current: Mapping[str, Division]
) -> dict[str, RetiredDivision]:
    found: dict[str, RetiredDivision] = {}
    for r in retired:
        check_code_shape(r.code)
        if r.code in current:
            raise ValueError(f"division code {r.code} is listed both as current and as retired")
        if r.code in found:
            raise ValueError(f"retired code {r.code} is listed twice")
        if r.successor is not None and r.successor not in current:
            raise ValueError(f"retired code {r.code} names successor {r.successor}, which is not current")
        found[r.code] = r
    return found


def check_placement(d: Division, divisions: Mapping[str, Division]) -> None:
    """Raise ValueError unless ``d`` sits at a sensible place in the hierarchy."""
    sup = divisions.get(d.superior) if d.superior is not None else None
    if sup is None:
        raise ValueError(f"division {d.code} names superior {d.superior}, which is not a division")
    if not _placed_well(d, sup):
        raise ValueError(f"division {d.code} ({d.level}) cannot sit under {sup.code} ({sup.level})")


def _placed_well(d: Division, sup: Division) -> bool:
    if d.level is Level.PROVINCE:
        return sup.level is Level.NATIONAL and d.code.endswith("0000")
    if d.level is Level.PREFECTURE:
        return sup.level is Level.PROVINCE and d.code.endswith("00") and d.code[:2] == sup.code[:2]
    if d.level is Level.COUNTY:
        corps_city = sup.code == XPCC and d.code.startswith(XPCC_CITIES)
        return (
            sup.level in (Level.PROVINCE, Level.PREFECTURE)
            and not d.code.endswith("00")
            and (d.code[:2] == sup.code[:2] or corps_city)
            and (sup.level is Level.PROVINCE or d.code[:4] == sup.code[:4])
        )
    return False
