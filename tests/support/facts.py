"""Case facts for the threshold tests: records of each category provided or held, by one company."""

from __future__ import annotations

from decimal import Decimal

from broker.domain.case import CaseFacts, InformationCategory, RecordCount, Sector, Violation
from broker.domain.credit_code import make_credit_code, make_org_code

COMPANY = make_credit_code("91330600" + make_org_code("MA2BCDE1"))  # a Shaoxing company


def facts(
    records: dict[InformationCategory, int] | None = None,
    *,
    held: dict[InformationCategory, int] | None = None,
    income: str = "0",
    sector: Sector = Sector.REAL_ESTATE,
    violation: Violation = Violation.LEAKING_SELLING_PROVIDING,
    **flags: object,
) -> CaseFacts:
    """Case facts with ``records`` provided and ``held`` records obtained but not passed on."""
    provided, kept = records or {}, held or {}
    counts = [
        RecordCount(category=c, provided=provided.get(c, 0), held=kept.get(c, 0))
        for c in InformationCategory
        if c in provided or c in kept
    ]
    return CaseFacts.model_validate(
        {
            "company_credit_code": COMPANY,
            "sector": sector,
            "violations": [violation],
            "records": counts,
            "illegal_income_cny": Decimal(income),
            **flags,
        }
    )
