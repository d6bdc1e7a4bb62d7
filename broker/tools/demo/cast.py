"""Who takes part in the demo, each with its own RabbitMQ user and inbox.

Every province's bureau and police office (the Xinjiang Production and Construction Corps counts as
one), SAMR (bureau:000000) and the Ministry of Public Security (police:000000), which receives SAMR's
referrals of the cases it handles, a sample of cities and counties in several provinces (bureau,
police and procuratorate each), and department offices at a few codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from broker.domain.address import Address, Party
from broker.domain.case import Sector, Violation
from broker.domain.jurisdictions import NATIONAL, Registry

SAMPLE_CITIES: tuple[str, ...] = (
    "330100",  # 杭州市
    "330600",  # 绍兴市
    "320100",  # 南京市
    "320500",  # 苏州市
    "440100",  # 广州市
    "440300",  # 深圳市
    "510100",  # 成都市
    "420100",  # 武汉市
    "370200",  # 青岛市
    "350200",  # 厦门市
)
SAMPLE_COUNTIES: tuple[str, ...] = (
    "330681",  # 诸暨市 (under 绍兴市)
    "330106",  # 西湖区 (under 杭州市)
    "320583",  # 昆山市 (under 苏州市)
    "440305",  # 南山区 (under 深圳市)
    "440106",  # 天河区 (under 广州市)
    "510104",  # 锦江区 (under 成都市)
    "110105",  # 朝阳区, Beijing: a district straight under the municipality
    "110108",  # 海淀区, Beijing
    "310115",  # 浦东新区, Shanghai
    "500103",  # 渝中区, Chongqing
)
DEPARTMENT_CODES: tuple[str, ...] = ("330681", "330600", "440300", "440305", "110105", "320500")
"""Where the department offices sit (telecom, cyberspace, housing, ...): a few codes only."""

DEPARTMENTS: tuple[Party, ...] = (
    Party.TELECOM,
    Party.CYBERSPACE,
    Party.HOUSING,
    Party.EDUCATION,
    Party.FINANCE,
    Party.POSTAL,
    Party.TOURISM,
)

SECTOR_DEPARTMENT: dict[Sector, Party] = {
    Sector.REAL_ESTATE: Party.HOUSING,
    Sector.DECORATION: Party.HOUSING,
    Sector.EDUCATION: Party.EDUCATION,
    Sector.MICRO_LOAN: Party.FINANCE,
    Sector.INSURANCE_BROKERAGE: Party.FINANCE,
    Sector.TRAVEL_LODGING: Party.TOURISM,
    Sector.EXPRESS_DELIVERY: Party.POSTAL,
    Sector.TELEMARKETING: Party.TELECOM,
    Sector.WEBSITES_APPS: Party.CYBERSPACE,
    Sector.BEAUTY_FITNESS: Party.TELECOM,
}
"""The department a bureau coordinates with on a case of each sector."""


@dataclass(frozen=True)
class Cast:
    registry: Registry
    provinces: tuple[str, ...]
    locals: tuple[str, ...]
    """Sampled cities and counties, where most cases start."""
    department_codes: tuple[str, ...]

    @cached_property
    def addresses(self) -> frozenset[Address]:
        out = {Address(Party.BUREAU, NATIONAL), Address(Party.POLICE, NATIONAL)}
        out |= {Address(p, c) for c in self.provinces for p in (Party.BUREAU, Party.POLICE)}
        out |= {Address(p, c) for c in self.locals for p in (Party.BUREAU, Party.POLICE, Party.PROCURATORATE)}
        out |= {Address(p, c) for c in self.department_codes for p in DEPARTMENTS}
        return frozenset(out)

    def bureau(self, code: str) -> Address:
        return Address(Party.BUREAU, code)

    def province_of(self, code: str) -> str:
        return self.registry.province_of(code)

    def locals_in(self, province: str) -> tuple[str, ...]:
        return tuple(c for c in self.locals if self.province_of(c) == province)

    def department_for(self, code: str, sector: Sector, violation: Violation) -> Address | None:
        """The department office at this code a case of this sector is coordinated with, if any."""
        if code not in self.department_codes:
            return None
        if violation is Violation.UNSOLICITED_COMMERCIAL_MESSAGES:
            return Address(Party.TELECOM, code)
        return Address(SECTOR_DEPARTMENT[sector], code)

    def unprovisioned_under(self, province: str) -> str:
        """A current division in this province that has no participant (a bad addressee)."""
        provisioned = {a.code for a in self.addresses}
        return next(c for c in self.registry.descendants_of(province) if c not in provisioned)

    def retired_in(self, province: str) -> str | None:
        """A retired division code of this province (a bad addressee the contract rejects)."""
        return next((c for c in self.registry.retired_codes() if c[:2] == province[:2]), None)


def default_cast(registry: Registry) -> Cast:
    return Cast(
        registry=registry,
        provinces=registry.subordinates_of(NATIONAL),
        locals=SAMPLE_CITIES + SAMPLE_COUNTIES,
        department_codes=DEPARTMENT_CODES,
    )
