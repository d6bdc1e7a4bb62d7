"""Case facts drawn from the 2019 campaign's figures (DOMAIN.md "The 2019 campaign in figures").

- sectors: real estate 273, decoration 234, education 133 of 1,474 cases; the rest spread evenly
  over the other seven targeted sectors;
- violations: collecting or using without consent 710 of 1,474; the rest split between leaking,
  selling or providing, and unsolicited commercial messages;
- records: 3.692 million over 1,474 cases, heavy-tailed (most cases small, a few very large);
- about one case in ten (154 of 1,474) over the criminal threshold. Those facts really reach it
  (broker.domain.threshold.assess says so) and the others really do not: every draw is checked.

Facts carry no personal data: counts, amounts, flags and an invented company's credit code.
"""

from __future__ import annotations

import math
import random
from decimal import Decimal
from typing import Any

from broker.domain.case import CaseFacts, InformationCategory, Sector, Violation
from broker.domain.credit_code import ALPHABET, make_credit_code, make_org_code
from broker.domain.threshold import assess

CAMPAIGN_CASES = 1_474
CAMPAIGN_RECORDS = 3_692_000
CAMPAIGN_REFERRALS = 154
OVER_THRESHOLD_SHARE = CAMPAIGN_REFERRALS / CAMPAIGN_CASES
RECORDS_PER_CASE = CAMPAIGN_RECORDS / CAMPAIGN_CASES

_TOP_SECTORS = {Sector.REAL_ESTATE: 273, Sector.DECORATION: 234, Sector.EDUCATION: 133}
_REST = (CAMPAIGN_CASES - sum(_TOP_SECTORS.values())) / (len(Sector) - len(_TOP_SECTORS))
SECTOR_WEIGHTS: dict[Sector, float] = {s: float(_TOP_SECTORS.get(s, _REST)) for s in Sector}

_COLLECTING = 710
VIOLATION_WEIGHTS: dict[Violation, float] = {
    Violation.COLLECTING_WITHOUT_CONSENT: _COLLECTING,
    Violation.LEAKING_SELLING_PROVIDING: (CAMPAIGN_CASES - _COLLECTING) / 2,
    Violation.UNSOLICITED_COMMERCIAL_MESSAGES: (CAMPAIGN_CASES - _COLLECTING) / 2,
}

SECTOR_CATEGORY: dict[Sector, InformationCategory] = {
    Sector.TRAVEL_LODGING: InformationCategory.LODGING,
    Sector.MICRO_LOAN: InformationCategory.CREDIT,
    Sector.TELEMARKETING: InformationCategory.CALL_RECORDS,
}
"""The information category typical of a sector; every other sector holds 'other' information
(names, flat numbers, phone numbers), whose threshold is 5,000 records."""

_UNDER_MEDIAN, _UNDER_SIGMA = 1_100.0, 1.2
_OVER_MEDIAN, _OVER_SIGMA = 12_000.0, 1.0
"""Log-normal record counts, tuned so that the mean over a campaign is close to 2,500 a case."""


def pick(rng: random.Random, weights: dict[Any, float]) -> Any:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def company_code(rng: random.Random, division: str) -> str:
    """A valid unified social credit code of an invented enterprise registered at this division."""
    body = "".join(rng.choice(ALPHABET) for _ in range(8))
    return make_credit_code(f"91{division}{make_org_code(body)}")


def _lognormal(rng: random.Random, median: float, sigma: float) -> int:
    return max(1, round(rng.lognormvariate(math.log(median), sigma)))


def case_facts(
    rng: random.Random, division: str, sector: Sector, violation: Violation, over_threshold: bool
) -> CaseFacts:
    """Facts of one case that reach the criminal threshold exactly when `over_threshold` says so."""
    code = company_code(rng, division)
    draw = _over if over_threshold else _under
    for _ in range(100):
        facts = CaseFacts.model_validate(draw(rng, code, sector, violation))
        if assess(facts).reached == over_threshold:
            return facts
    raise AssertionError("could not draw facts on the requested side of the threshold")  # pragma: no cover


def _records(category: InformationCategory, violation: Violation, count: int) -> list[dict[str, Any]]:
    how = "provided" if violation is Violation.LEAKING_SELLING_PROVIDING else "held"
    return [{"category": category.value, how: count}]


def _under(rng: random.Random, code: str, sector: Sector, violation: Violation) -> dict[str, Any]:
    category = SECTOR_CATEGORY.get(sector, InformationCategory.OTHER)
    ceiling = {InformationCategory.OTHER: 4_999, InformationCategory.CREDIT: 49}.get(category, 499)
    count = _lognormal(rng, _UNDER_MEDIAN, _UNDER_SIGMA)
    if count > ceiling:
        count = rng.randint(ceiling // 3, ceiling)
    income = Decimal(0)
    if violation is Violation.LEAKING_SELLING_PROVIDING:
        income = Decimal(rng.randint(200, 4_900))  # e.g. the developer's staff who sold data for ¥1,200
    return {
        "company_credit_code": code,
        "sector": sector.value,
        "violations": [violation.value],
        "records": _records(category, violation, count),
        "illegal_income_cny": str(income),
        "administrative_penalty_within_2_years": False,
    }


def _over(rng: random.Random, code: str, sector: Sector, violation: Violation) -> dict[str, Any]:
    """One of the usual ways a case reaches Art. 5: many records, a sensitive category, illegal
    income, or an insider (half the figures)."""
    path = rng.choices(["records", "category", "income", "insider"], weights=[55, 15, 20, 10])[0]
    category = InformationCategory.OTHER
    count = max(5_000, _lognormal(rng, _OVER_MEDIAN, _OVER_SIGMA))
    income = Decimal(rng.randint(0, 4_000))
    insider = False
    if path == "category" and sector in SECTOR_CATEGORY:
        category = SECTOR_CATEGORY[sector]
        count = max(500, _lognormal(rng, 1_500, 0.8))
    elif path == "income":
        count = _lognormal(rng, 2_000, 0.8) % 4_999 + 1
        income = Decimal(max(5_000, _lognormal(rng, 20_000, 1.0)))
    elif path == "insider":
        insider = True
        count = rng.randint(2_500, 4_999)
    return {
        "company_credit_code": code,
        "sector": sector.value,
        "violations": [violation.value],
        "records": _records(category, violation, count),
        "illegal_income_cny": str(income),
        "insider": insider,
    }
