"""The 2019 campaign in figures, as the report gives them (DOMAIN.md "The 2019 campaign in figures").

The campaign ran from 1 April to 30 September 2019. A replay of N cases aims at the report's shares,
and at its counts scaled by N / 1,474.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from broker.domain.case import Sector, Violation

CAMPAIGN_FROM = date(2019, 4, 1)
CAMPAIGN_TO = date(2019, 9, 30)
"""The campaign's window, both days included."""


@dataclass(frozen=True)
class Share:
    """A sector's or a violation's part of the campaign: cases, records involved, fines in yuan."""

    cases: float
    records: float
    fines_cny: float
    """Whole numbers for what the report gives; the even split of the rest may be fractional."""

    def records_per_case(self) -> float:
        """Records of a case of this share, relative to the campaign's average case."""
        return (self.records / self.cases) / (RECORDS / CASES)


CASES = 1_474
RECORDS = 3_692_000
FINES_CNY = 19_464_000
"""Fines and confiscations."""
POLICE_REFERRALS = 154
JOINT_ACTIONS = 4_225
"""Joint enforcement actions with other departments."""
INTERVIEWS = 3_536
"""Administrative interviews (约谈) of companies."""

TOP_SECTORS: dict[Sector, Share] = {
    Sector.REAL_ESTATE: Share(273, 1_532_000, 4_282_000),
    Sector.DECORATION: Share(234, 345_000, 1_767_000),
    Sector.EDUCATION: Share(133, 1_262_000, 4_757_000),
}
"""The three sectors the report names; the other seven share the rest evenly (our assumption)."""

COLLECTING = Share(710, 2_763_000, 10_063_000)
"""Collecting or using personal information without consent; the other two targeted violations
share the rest evenly (our assumption)."""


def _rest(total: Share, named: list[Share], ways: int) -> Share:
    return Share(
        (total.cases - sum(s.cases for s in named)) / ways,
        (total.records - sum(s.records for s in named)) / ways,
        (total.fines_cny - sum(s.fines_cny for s in named)) / ways,
    )


TOTAL = Share(CASES, RECORDS, FINES_CNY)

SECTORS: dict[Sector, Share] = {
    s: TOP_SECTORS.get(s) or _rest(TOTAL, list(TOP_SECTORS.values()), len(Sector) - len(TOP_SECTORS))
    for s in Sector
}
VIOLATIONS: dict[Violation, Share] = {
    v: COLLECTING if v is Violation.COLLECTING_WITHOUT_CONSENT else _rest(TOTAL, [COLLECTING], 2)
    for v in Violation
}


def scaled(figure: int, cases: int) -> int:
    """A count of the report for a replay of ``cases`` cases."""
    return round(figure * cases / CASES)
