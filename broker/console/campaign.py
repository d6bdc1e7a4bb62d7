"""The campaign view: the 2019 report's figures (broker/domain/campaign_figures.py) beside what the
system counted in the routing log the console holds, as bar charts. Pure.

The system's figures come from envelope metadata only: the case facts a case's first routed
message carries (sector, violations, records per category), police referrals and coordination
requests by kind. Fines and interviews travel in no message, so the system has no figure for them;
whether a coordination request is a joint action is in its body, which the console never reads.
The report's counts are scaled to the cases the system saw (cases / 1,474), its shares compared as
they are.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from broker.domain import campaign_figures as figures
from broker.domain.case import Sector, Violation

E = TypeVar("E", bound=StrEnum)

POLICE_REFERRAL = "police_referral"
COORDINATION_REQUEST = "coordination_request"


@dataclass(frozen=True)
class Bar:
    label: str
    report: float
    system: float | None
    """None: the system cannot count it (no message carries it)."""


@dataclass(frozen=True)
class Chart:
    title: str
    unit: str
    """'%': shares on one scale; 'count': each row on its own scale (the counts differ by powers of ten)."""
    bars: list[Bar]
    note: str

    def scale(self, bar: Bar) -> float:
        """The value a full-width bar stands for in this bar's row."""
        values = [b.report for b in self.bars] + [b.system or 0.0 for b in self.bars]
        if self.unit == "count":
            values = [bar.report, bar.system or 0.0]
        return max(values, default=0.0) or 1.0


@dataclass
class Counted:
    """What the routing log shows of the campaign."""

    cases: int = 0
    records_by_sector: Counter[str] = field(default_factory=Counter)
    cases_by_sector: Counter[str] = field(default_factory=Counter)
    records_by_violation: Counter[str] = field(default_factory=Counter)
    police_referrals: int = 0
    coordination_requests: int = 0

    @property
    def records(self) -> int:
        return sum(self.records_by_sector.values())


def _records_of(facts: dict[str, Any]) -> int:
    total = 0
    for r in facts.get("records") or []:
        if isinstance(r, dict):
            total += int(r.get("provided") or 0) + int(r.get("held") or 0)
    return total


def count(records: Iterable[dict[str, Any]]) -> Counted:
    """Routing-log records, oldest first: each case counted once, by the first record that carries
    its facts; referrals and coordination requests by the kind of routed records."""
    out = Counted()
    seen: set[str] = set()
    for record in records:
        if record.get("event") != "routed":
            continue
        kind = record.get("kind")
        out.police_referrals += kind == POLICE_REFERRAL
        out.coordination_requests += kind == COORDINATION_REQUEST
        facts, case_id = record.get("case"), str(record.get("case_id") or "")
        if not isinstance(facts, dict) or not case_id or case_id in seen:
            continue
        seen.add(case_id)
        out.cases += 1
        sector, held = str(facts.get("sector")), _records_of(facts)
        out.cases_by_sector[sector] += 1
        out.records_by_sector[sector] += held
        for violation in set(facts.get("violations") or []):
            out.records_by_violation[str(violation)] += held
    return out


def _label(value: str) -> str:
    return value.replace("_", " ")


def _share(part: float, whole: float) -> float:
    return 100 * part / whole if whole else 0.0


def _bars(
    kinds: Iterable[E],
    reported: Callable[[E], float],
    report_total: float,
    counted: Mapping[str, int],
    total: float,
) -> list[Bar]:
    """One bar per kind: its share of the report's total beside its share of what the system counted."""
    return [
        Bar(_label(k.value), _share(reported(k), report_total), _share(counted[k.value], total))
        for k in kinds
    ]


def charts(c: Counted) -> list[Chart]:
    records, cases = c.records, c.cases
    by_sector = _bars(
        Sector, lambda s: figures.SECTORS[s].records, figures.RECORDS, c.records_by_sector, records
    )
    cases_by_sector = _bars(
        Sector, lambda s: figures.SECTORS[s].cases, figures.CASES, c.cases_by_sector, cases
    )
    by_violation = _bars(
        Violation, lambda v: figures.VIOLATIONS[v].records, figures.RECORDS, c.records_by_violation, records
    )
    named = ", ".join(_label(s.value) for s in figures.TOP_SECTORS)
    return [
        Chart(
            "Records involved, by sector (% of all records)",
            "%",
            by_sector,
            f"The report names {named}; the other seven share the rest evenly (an assumption).",
        ),
        Chart("Cases, by sector (% of all cases)", "%", cases_by_sector, "As above for the seven unnamed."),
        Chart(
            "Records involved, by violation (% of all records)",
            "%",
            by_violation,
            "A case with several violations counts its records under each. The report names "
            "collecting without consent; the other two share the rest evenly (an assumption).",
        ),
        Chart("The campaign's counts", "count", counts(c), _COUNTS_NOTE),
    ]


_COUNTS_NOTE = (
    "The report's counts scaled to the cases the system saw; each row drawn on its own scale. "
    "Joint actions: the system counts every coordination request routed (whether it is a joint "
    "action is in its body, which the console never reads). Fines and interviews travel in no "
    "message: the system has no figure for them."
)


def counts(c: Counted) -> list[Bar]:
    def scaled(figure: int) -> float:
        return float(figures.scaled(figure, c.cases))

    return [
        Bar("records involved", scaled(figures.RECORDS), float(c.records)),
        Bar("police referrals", scaled(figures.POLICE_REFERRALS), float(c.police_referrals)),
        Bar("joint enforcement actions", scaled(figures.JOINT_ACTIONS), float(c.coordination_requests)),
        Bar("administrative interviews", scaled(figures.INTERVIEWS), None),
        Bar("fines and confiscations (CNY)", scaled(figures.FINES_CNY), None),
    ]
