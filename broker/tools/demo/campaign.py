"""The plan of each case of the replayed campaign. Pure and seeded: the same seed, the same plans.

Figures follow the 2019 report (broker/domain/campaign_figures.py) where it gives them, scaled to
the number of cases, and are our assumptions where it does not:

- sectors and violations are dealt out in the report's case counts (273 real estate, 234 decoration,
  133 education of 1,474; 710 collecting without consent), the rest evenly;
- record counts and fines are drawn heavy-tailed, then fitted (fitting.py) so that records and
  fines by sector and by violation add up to the report's (real estate 41.5 % of the records,
  education 34.2 %, decoration 9.3 %, collecting without consent 74.8 %; ¥19.464 M in all);
- 154 of 1,474 cases reach the criminal threshold and are referred to the police;
- 4,225 joint enforcement actions and 3,536 administrative interviews, spread over the cases. A
  joint action goes to the department office at the bureau's own level as a coordination request
  (action joint_action) when the cast has one there; otherwise, and for every interview and every
  fine (no message kind carries them), the plan only counts it (simulated locally, not routed);
- every case starts with a vertical message: a notice to the superior bureau, or an escalation
  (报请) for the harder ones (always for those over the criminal threshold);
- about one case in five asks a bureau in another province for assistance (协查), which reaches it
  through that province's bureau (the hub forwards it);
- where the bureau has department offices at its own level, most cases also ask the department
  matching the sector for information or a takedown;
- a few cases are transferred to the competent bureau, a few prompt a directive from the province to
  all its subordinates, and a few carry a deliberately bad message, so quarantine shows up.

Quotas are dealt out exactly (shuffled), so that even a small run has each kind of coordination.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum

from broker.domain import campaign_figures as figures
from broker.domain.address import Address
from broker.domain.case import CaseFacts, Sector, Violation
from broker.domain.messages import Kind
from broker.tools.demo.cast import Cast
from broker.tools.demo.facts import Drawn, draw_case, with_records
from broker.tools.demo.fitting import choose, deal, fit, spread
from broker.tracker.calendar import BEIJING, WorkCalendar

CROSS_PROVINCE_SHARE = 0.20
COORDINATION_SHARE = 0.70
"""Of the cases whose bureau has department offices at its own level."""
TRANSFER_SHARE = 0.04
DIRECTIVE_SHARE = 0.05
BAD_MESSAGE_SHARE = 0.07
"""Of cases; about 1.5% of all messages, since a case makes five or so."""
PROVINCIAL_SHARE = 0.10
"""Cases handled by a provincial bureau itself (major cases); the rest start at a city or county."""
ESCALATION_SHARE = 0.30
FILED_SHARE = 0.85
"""Police referrals the police decide to file (立案); the others are not filed, with reasons."""
OVER_THRESHOLD_SHARE = figures.POLICE_REFERRALS / figures.CASES
FINE_MEDIAN_CNY, FINE_SIGMA = 6_000.0, 1.1
FINE_BOUNDS = (500.0, 5_000_000.0)
"""A case's fines and confiscations in yuan, before fitting."""


class BadKind(StrEnum):
    """Deliberately bad messages, each quarantined at a different stage."""

    UNPROVISIONED = "unprovisioned_addressee"
    """Routing: addressed to a division of the province that has no participant."""
    RETIRED_CODE = "retired_division_code"
    """Contract: addressed to a retired division code."""
    FORGED_SENDER = "forged_sender"
    """Authentication: envelope.sender claims another participant than the publishing user."""


@dataclass(frozen=True)
class CasePlan:
    number: int
    case_id: str
    bureau: Address
    """The bureau handling the case."""
    facts: CaseFacts
    over_threshold: bool
    opens_at: datetime
    vertical: Kind
    """CASE_NOTICE to the superior, or ESCALATION."""
    assistance_from: Address | None = None
    """A bureau in another province asked for assistance."""
    department: Address | None = None
    transfer_to: Address | None = None
    directive: bool = False
    """The bureau's province sends a directive about the case to all its subordinates."""
    bad: BadKind | None = None
    filed: bool = True
    fine_cny: int = 0
    """Fines and confiscations (simulated locally: no message kind carries a penalty decision)."""
    interviews: int = 0
    """Administrative interviews (约谈) of the company (simulated locally)."""
    joint_actions: int = 0
    joint_with: Address | None = None
    """The department office at the bureau's level the joint actions go to; None: they stay local."""

    @property
    def violation(self) -> Violation:
        return self.facts.violations[0]

    @property
    def records(self) -> int:
        return sum(r.counted for r in self.facts.records)


def _quota(rng: random.Random, n: int, share: float, minimum: int = 1) -> list[bool]:
    count = min(n, max(minimum if n >= 10 else 0, round(n * share)))
    flags = [True] * count + [False] * (n - count)
    rng.shuffle(flags)
    return flags


def working_moments(
    rng: random.Random, n: int, start: datetime, days: int, calendar: WorkCalendar
) -> list[datetime]:
    """n moments in office hours (09:00-17:30 Beijing) of the working days in [start, start + days)."""
    first = start.astimezone(BEIJING).date()
    workdays = [first + timedelta(days=d) for d in range(max(1, days))]
    workdays = [d for d in workdays if calendar.is_workday(d)] or [first]
    out = []
    for _ in range(n):
        day = rng.choice(workdays)
        minute = rng.randint(9 * 60, 17 * 60 + 30)
        moment = datetime.combine(day, time(minute // 60, minute % 60), BEIJING)
        out.append(max(moment, start))
    return sorted(out)


def _over_weights(sectors: list[Sector], violations: list[Violation]) -> list[float]:
    """Cases of the sectors and violations with the most records per case are likelier to be over
    the threshold (a few large criminal cases carry most of the records), moderately (square root)."""
    return [
        math.sqrt(figures.SECTORS[s].records_per_case() * figures.VIOLATIONS[v].records_per_case())
        for s, v in zip(sectors, violations, strict=True)
    ]


def _fitted_records(drawn: list[Drawn], sectors: list[str], violations: list[str]) -> list[CaseFacts]:
    n = len(drawn)
    targets = [
        (sectors, {s.value: figures.SECTORS[s].records * n / figures.CASES for s in figures.SECTORS}),
        (
            violations,
            {v.value: figures.VIOLATIONS[v].records * n / figures.CASES for v in figures.VIOLATIONS},
        ),
    ]
    counts = fit([d.records for d in drawn], [(d.low, d.high) for d in drawn], targets)
    return [with_records(d, round(c)) for d, c in zip(drawn, counts, strict=True)]


def _fitted_fines(rng: random.Random, sectors: list[str], violations: list[str]) -> list[int]:
    n = len(sectors)
    initial = [rng.lognormvariate(math.log(FINE_MEDIAN_CNY), FINE_SIGMA) for _ in range(n)]
    targets = [
        (sectors, {s.value: figures.SECTORS[s].fines_cny * n / figures.CASES for s in figures.SECTORS}),
        (
            violations,
            {v.value: figures.VIOLATIONS[v].fines_cny * n / figures.CASES for v in figures.VIOLATIONS},
        ),
    ]
    fines = [round(f) for f in fit(initial, [FINE_BOUNDS] * n, targets)]
    if fines:  # whole yuan, and the total exactly the report's (scaled): the rounding goes to the largest
        largest = max(range(n), key=fines.__getitem__)
        fines[largest] += figures.scaled(figures.FINES_CNY, n) - sum(fines)
    return fines


def plan_campaign(
    cases: int, cast: Cast, start: datetime, open_days: int, calendar: WorkCalendar, seed: int
) -> list[CasePlan]:
    rng = random.Random(seed)
    sectors = deal(rng, cases, {s: f.cases for s, f in figures.SECTORS.items()})
    violations = deal(rng, cases, {v: f.cases for v, f in figures.VIOLATIONS.items()})
    over = choose(rng, sum(_quota(rng, cases, OVER_THRESHOLD_SHARE)), _over_weights(sectors, violations))
    cross = _quota(rng, cases, CROSS_PROVINCE_SHARE)
    transfer = _quota(rng, cases, TRANSFER_SHARE)
    directive = _quota(rng, cases, DIRECTIVE_SHARE)
    bad = _quota(rng, cases, BAD_MESSAGE_SHARE)
    provincial = _quota(rng, cases, PROVINCIAL_SHARE, minimum=0)
    moments = working_moments(rng, cases, start, open_days, calendar)
    bad_kinds = list(BadKind)
    # Bureaus with department offices handle more cases: twice the weight.
    weights = [2.0 if c in cast.department_codes else 1.0 for c in cast.locals]
    codes = [
        rng.choice(cast.provinces) if provincial[n] else rng.choices(cast.locals, weights)[0]
        for n in range(cases)
    ]
    drawn = [draw_case(rng, codes[n], sectors[n], violations[n], over[n]) for n in range(cases)]
    sector_labels, violation_labels = [s.value for s in sectors], [v.value for v in violations]
    all_facts = _fitted_records(drawn, sector_labels, violation_labels)
    fines = _fitted_fines(rng, sector_labels, violation_labels)
    joint_actions = spread(rng, figures.scaled(figures.JOINT_ACTIONS, cases), [1.0] * cases)
    interviews = spread(rng, figures.scaled(figures.INTERVIEWS, cases), [1.0] * cases)
    plans = []
    bad_dealt = 0
    for n in range(cases):
        code, sector, violation, facts = codes[n], sectors[n], violations[n], all_facts[n]
        bureau = cast.bureau(code)
        province = cast.province_of(code)
        others = [c for c in cast.locals if cast.province_of(c) != province]
        siblings = [c for c in cast.locals_in(province) if c != code]
        department = cast.department_for(code, sector, violation)
        plans.append(
            CasePlan(
                number=n + 1,
                case_id=f"DEMO-{start.year}-{n + 1:04d}",  # the contract's shape: letters, year, serial
                bureau=bureau,
                facts=facts,
                over_threshold=over[n],
                opens_at=moments[n],
                vertical=Kind.ESCALATION if over[n] or rng.random() < ESCALATION_SHARE else Kind.CASE_NOTICE,
                assistance_from=cast.bureau(rng.choice(others)) if cross[n] else None,
                department=department if department and rng.random() < COORDINATION_SHARE else None,
                transfer_to=cast.bureau(rng.choice(siblings or others))
                if transfer[n] and not over[n]
                else None,
                directive=directive[n] and not over[n] and code != province,
                bad=bad_kinds[bad_dealt % len(bad_kinds)] if bad[n] else None,
                filed=rng.random() < FILED_SHARE,
                fine_cny=fines[n],
                interviews=interviews[n],
                joint_actions=joint_actions[n],
                joint_with=department,
            )
        )
        bad_dealt += bad[n]
    return plans
