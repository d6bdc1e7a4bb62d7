"""The plan of each case of the replayed campaign. Pure and seeded: the same seed, the same plans.

Shares follow DOMAIN.md's figures where it gives them and are our assumptions where it does not:

- every case starts with a vertical message: a notice to the superior bureau, or an escalation
  (报请) for the harder ones (always for those over the criminal threshold);
- about one case in five asks a bureau in another province for assistance (协查), which reaches it
  through that province's bureau (the hub forwards it);
- where the bureau has department offices at its own level, most cases ask the department matching
  the sector for coordination or a joint action (4,225 joint actions for 1,474 cases in 2019);
- about one case in ten reaches the criminal threshold and is referred to the police (154 of 1,474);
- a few cases are transferred to the competent bureau, a few prompt a directive from the province to
  all its subordinates, and a few carry a deliberately bad message, so quarantine shows up.

Quotas are dealt out exactly (shuffled), so that even a small run has each kind of coordination.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum

from broker.demo.cast import Cast
from broker.demo.facts import OVER_THRESHOLD_SHARE, SECTOR_WEIGHTS, VIOLATION_WEIGHTS, case_facts, pick
from broker.domain.address import Address
from broker.domain.case import CaseFacts, Violation
from broker.domain.messages import Kind
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


def plan_campaign(
    cases: int, cast: Cast, start: datetime, open_days: int, calendar: WorkCalendar, seed: int
) -> list[CasePlan]:
    rng = random.Random(seed)
    over = _quota(rng, cases, OVER_THRESHOLD_SHARE)
    cross = _quota(rng, cases, CROSS_PROVINCE_SHARE)
    transfer = _quota(rng, cases, TRANSFER_SHARE)
    directive = _quota(rng, cases, DIRECTIVE_SHARE)
    bad = _quota(rng, cases, BAD_MESSAGE_SHARE)
    provincial = _quota(rng, cases, PROVINCIAL_SHARE, minimum=0)
    moments = working_moments(rng, cases, start, open_days, calendar)
    bad_kinds = list(BadKind)
    # Bureaus with department offices handle more cases: twice the weight.
    weights = [2.0 if c in cast.department_codes else 1.0 for c in cast.locals]
    plans = []
    bad_dealt = 0
    for n in range(cases):
        code = rng.choice(cast.provinces) if provincial[n] else rng.choices(cast.locals, weights)[0]
        bureau = cast.bureau(code)
        province = cast.province_of(code)
        sector = pick(rng, SECTOR_WEIGHTS)
        violation = pick(rng, VIOLATION_WEIGHTS)
        if over[n] and rng.random() < 0.8:
            violation = Violation.LEAKING_SELLING_PROVIDING  # the criminal cases are mostly sales
        facts = case_facts(rng, code, sector, violation, over[n])
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
            )
        )
        bad_dealt += bad[n]
    return plans
