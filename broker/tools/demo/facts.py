"""Case facts drawn like the 2019 campaign's (broker/domain/campaign_figures.py), on a given side
of the criminal threshold.

- records: heavy-tailed draws (most cases small, a few very large), which campaign.py then fits to
  the report's records by sector and by violation, within the bounds each case allows: a case under
  the threshold keeps below its category's figure, one over it stays at or above the figure that
  put it there (``Drawn.low``/``Drawn.high``);
- about one case in ten (154 of 1,474) over the criminal threshold. Those facts really reach it
  (broker.domain.threshold.assess says so) and the others really do not: every draw is checked,
  and a fitted count that would cross the line is not used.

Facts carry no personal data: counts, amounts, flags and an invented company's credit code.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from broker.domain.case import MAX_RECORDS, CaseFacts, InformationCategory, Sector, Violation
from broker.domain.credit_code import ALPHABET, make_credit_code, make_org_code
from broker.domain.threshold import assess

SECTOR_CATEGORY: dict[Sector, InformationCategory] = {
    Sector.TRAVEL_LODGING: InformationCategory.LODGING,
    Sector.MICRO_LOAN: InformationCategory.CREDIT,
    Sector.TELEMARKETING: InformationCategory.CALL_RECORDS,
}
"""The information category typical of a sector; every other sector holds 'other' information
(names, flat numbers, phone numbers), whose threshold is 5,000 records."""

FIGURE: dict[InformationCategory, int] = {
    InformationCategory.OTHER: 5_000,
    InformationCategory.CREDIT: 50,
    InformationCategory.LODGING: 500,
    InformationCategory.CALL_RECORDS: 500,
}
"""Art. 5 items 3-5: the records of each category that make a case serious."""

LARGEST_CASE = 2_000_000
"""No single case of the replay holds more records than this."""

_UNDER_MEDIAN, _UNDER_SIGMA = 1_100.0, 1.2
_OVER_MEDIAN, _OVER_SIGMA = 12_000.0, 1.0


@dataclass(frozen=True)
class Drawn:
    """A case's facts as drawn, with how far its record count may move and stay on its side."""

    facts: CaseFacts
    low: int
    high: int

    @property
    def records(self) -> int:
        return sum(r.counted for r in self.facts.records)


def pick(rng: random.Random, weights: dict[Any, float]) -> Any:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def company_code(rng: random.Random, division: str) -> str:
    """A valid unified social credit code of an invented enterprise registered at this division."""
    body = "".join(rng.choice(ALPHABET) for _ in range(8))
    return make_credit_code(f"91{division}{make_org_code(body)}")


def _lognormal(rng: random.Random, median: float, sigma: float) -> int:
    return max(1, round(rng.lognormvariate(math.log(median), sigma)))


def draw_case(
    rng: random.Random, division: str, sector: Sector, violation: Violation, over_threshold: bool
) -> Drawn:
    """Facts of one case that reach the criminal threshold exactly when `over_threshold` says so."""
    code = company_code(rng, division)
    draw = _over if over_threshold else _under
    for _ in range(100):
        data, low, high = draw(rng, code, sector, violation)
        facts = CaseFacts.model_validate(data)
        if assess(facts).reached == over_threshold:
            return Drawn(facts, low, high)
    raise AssertionError("could not draw facts on the requested side of the threshold")  # pragma: no cover


def case_facts(
    rng: random.Random, division: str, sector: Sector, violation: Violation, over_threshold: bool
) -> CaseFacts:
    return draw_case(rng, division, sector, violation, over_threshold).facts


def with_records(drawn: Drawn, count: int) -> CaseFacts:
    """The drawn facts with another record count, if the case stays on its side of the threshold."""
    count = min(max(count, drawn.low), drawn.high)
    [record] = drawn.facts.records
    field = "provided" if record.provided else "held"
    changed = drawn.facts.model_copy(update={"records": [record.model_copy(update={field: count})]})
    checked = CaseFacts.model_validate(changed.model_dump())
    if assess(checked).reached != assess(drawn.facts).reached:
        return drawn.facts
    return checked


def _records(category: InformationCategory, how: str, count: int) -> list[dict[str, Any]]:
    return [{"category": category.value, how: count}]


def _how(violation: Violation) -> str:
    return "provided" if violation is Violation.LEAKING_SELLING_PROVIDING else "held"


def _under(
    rng: random.Random, code: str, sector: Sector, violation: Violation
) -> tuple[dict[str, Any], int, int]:
    category = SECTOR_CATEGORY.get(sector, InformationCategory.OTHER)
    ceiling = FIGURE[category] - 1
    count = _lognormal(rng, _UNDER_MEDIAN, _UNDER_SIGMA)
    if count > ceiling:
        count = rng.randint(ceiling // 3, ceiling)
    income = Decimal(0)
    if violation is Violation.LEAKING_SELLING_PROVIDING:
        income = Decimal(rng.randint(200, 4_900))  # e.g. the developer's staff who sold data for ¥1,200
    data = {
        "company_credit_code": code,
        "sector": sector.value,
        "violations": [violation.value],
        "records": _records(category, _how(violation), count),
        "illegal_income_cny": str(income),
        "administrative_penalty_within_2_years": False,
    }
    return data, 1, ceiling


def _over(
    rng: random.Random, code: str, sector: Sector, violation: Violation
) -> tuple[dict[str, Any], int, int]:
    """One of the usual ways a case reaches Art. 5: many records, a sensitive category, illegal
    income, or an insider who sold or provided them (half the figures)."""
    path = rng.choices(["records", "category", "income", "insider"], weights=[55, 15, 20, 10])[0]
    category = InformationCategory.OTHER
    count = max(FIGURE[category], _lognormal(rng, _OVER_MEDIAN, _OVER_SIGMA))
    low = FIGURE[category]
    income = Decimal(rng.randint(0, 4_000))
    insider = False
    how = _how(violation)
    if path == "category" and sector in SECTOR_CATEGORY:
        category = SECTOR_CATEGORY[sector]
        low = FIGURE[category]
        count = max(low, _lognormal(rng, 1_500, 0.8))
    elif path == "income":
        count = _lognormal(rng, 2_000, 0.8) % 4_999 + 1
        income = Decimal(max(5_000, _lognormal(rng, 20_000, 1.0)))
        low = 1
    elif path == "insider":
        insider, how = True, "provided"  # the halving applies to what an insider sold or provided
        count = rng.randint(2_500, 4_999)
        low = 2_500
    data = {
        "company_credit_code": code,
        "sector": sector.value,
        "violations": [violation.value],
        "records": _records(category, how, count),
        "illegal_income_cny": str(income),
        "insider": insider,
    }
    return data, low, min(LARGEST_CASE, MAX_RECORDS)
