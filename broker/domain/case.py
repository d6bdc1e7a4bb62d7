"""Case facts: what routing, deadlines and the criminal threshold need to know about a case.

These facts travel in the envelope, never in the body, so they must never hold personal data:
counts, amounts, flags and the company's credit code only.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Final

from pydantic import AfterValidator, BeforeValidator, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from broker.domain.credit_code import CreditCodeError, validate_credit_code
from broker.domain.strict import StrictModel, WireBool, WireInt, full_match

MAX_RECORDS = 10**10 - 1
"""More records than people on Earth, in ten digits: too few for a phone, ID or bank-card number
written as a count (an 11-digit mobile is over 10**10), so case facts cannot carry one."""

MAX_INCOME_DIGITS = 12
"""Illegal income up to ¥9,999,999,999.99, ten digits before the point, for the same reason."""

AMOUNT_PATTERN: Final = rf"^(?:0|[1-9][0-9]{{0,{MAX_INCOME_DIGITS - 3}}})(?:\.[0-9]{{1,2}})?$"
"""An amount in yuan written as text: digits, at most two decimals; no sign, exponent, separator or
space, so that every reader gets the same number from it."""

_AMOUNT = full_match(AMOUNT_PATTERN)


def _amount_text(value: Any) -> Any:
    if isinstance(value, Decimal) or (isinstance(value, int | float) and not isinstance(value, bool)):
        return value
    if not isinstance(value, str) or not _AMOUNT.fullmatch(value):
        raise PydanticCustomError(
            "amount_text",
            "not an amount in yuan: a JSON number, or text of at most ten digits and two decimals "
            "with no sign, exponent, separator or space",
        )
    return value


def _unsigned_zero(value: Decimal) -> Decimal:
    # JSON's -0 is an amount of 0; kept signed, it would be written "-0", which the pattern refuses
    return value.copy_abs() if value.is_zero() else value


Amount = Annotated[Decimal, BeforeValidator(_amount_text), AfterValidator(_unsigned_zero)]
"""An amount in yuan (the bounds are the field's)."""

CASE_ID_PATTERN = r"^[A-Z]{1,8}(?:-[A-Z]{1,8}){0,3}(?:-(?:19|20)[0-9]{2})?-[0-9]{1,6}$"
"""The shape of a case number, after the bureaus' own 文号 (诸市监处〔2019〕42号): up to four groups
of capital letters (the bureau's abbreviation, a unit), an optional year, a serial of up to six
digits, joined by hyphens: ``ZJSX-2019-0042``, ``ZJ-SX-JC-2019-000042``, ``SX-17``.

It holds at most ten digits, in at most two groups (a year 19xx/20xx and the serial), and no
lower-case letters, spaces, dots or '@': so no mobile number (11 digits), landline with its area
code (11 or 12), ID-card number (15 or 18), bank-card number (16-19) or e-mail address fits, also
not split across groups. Letters could still spell a name in pinyin; the contract forbids it."""

CaseId = Annotated[
    str,
    Field(
        pattern=CASE_ID_PATTERN,
        max_length=64,
        description="The case number the sending bureau assigned: capital-letter groups, an optional "
        "year and a serial of up to six digits, joined by hyphens. Never personal data.",
        examples=["ZJSX-2019-0042"],
    ),
]
"""A case number as it appears in an envelope (contract 2.0; 1.0 allowed any 64 characters)."""


class Sector(StrEnum):
    """The ten sectors targeted by the 2019 campaign."""

    REAL_ESTATE = "real_estate"
    MICRO_LOAN = "micro_loan"
    EDUCATION = "education"
    INSURANCE_BROKERAGE = "insurance_brokerage"
    BEAUTY_FITNESS = "beauty_fitness"
    DECORATION = "decoration"
    TRAVEL_LODGING = "travel_lodging"
    EXPRESS_DELIVERY = "express_delivery"
    TELEMARKETING = "telemarketing"
    WEBSITES_APPS = "websites_apps"


class Violation(StrEnum):
    """The three kinds of violation the campaign targeted."""

    COLLECTING_WITHOUT_CONSENT = "collecting_without_consent"
    LEAKING_SELLING_PROVIDING = "leaking_selling_providing"
    UNSOLICITED_COMMERCIAL_MESSAGES = "unsolicited_commercial_messages"


class InformationCategory(StrEnum):
    """Categories of personal information in Art. 5 of 法释〔2017〕10号; each has its own threshold."""

    LOCATION_TRACK = "location_track"
    COMMUNICATION_CONTENT = "communication_content"
    CREDIT = "credit"
    PROPERTY = "property"
    LODGING = "lodging"
    CALL_RECORDS = "call_records"
    HEALTH = "health"
    TRANSACTION = "transaction"
    OTHER_SAFETY_RELEVANT = "other_safety_relevant"
    OTHER = "other"


class SevereHarm(StrEnum):
    """Consequences that make a case 情节特别严重 regardless of counts (Art. 5 para. 2 items 1-2)."""

    DEATH = "death"
    SERIOUS_INJURY = "serious_injury"
    MENTAL_DISORDER = "mental_disorder"
    KIDNAPPING = "kidnapping"
    MAJOR_ECONOMIC_LOSS = "major_economic_loss"
    BAD_SOCIAL_IMPACT = "bad_social_impact"


class RecordCount(StrictModel):
    """Records of one information category, counted as Art. 11 of the interpretation counts them."""

    category: InformationCategory = Field(description="Information category (Art. 5 of 法释〔2017〕10号).")
    provided: WireInt = Field(
        default=0,
        ge=0,
        le=MAX_RECORDS,
        description="Records sold or provided, counted once per recipient (the same record sold to "
        "three buyers counts three times).",
    )
    held: WireInt = Field(
        default=0,
        ge=0,
        le=MAX_RECORDS,
        description="Records illegally obtained and not provided onward (records obtained and then "
        "provided are counted under 'provided' only, never twice). A seized batch counts as found unless "
        "shown untrue or repeated (法释〔2017〕10号 Art. 11 para. 3).",
    )

    @property
    def counted(self) -> int:
        return self.provided + self.held


class CaseFacts(StrictModel):
    """Facts about a case that routing, deadlines and the criminal threshold use. No personal data."""

    company_credit_code: str = Field(
        description="Unified social credit code (GB 32100) of the company concerned; identifies it "
        "across jurisdictions."
    )
    sector: Sector
    violations: list[Violation] = Field(min_length=1)
    records: list[RecordCount] = Field(default_factory=list)
    illegal_income_cny: Amount = Field(
        default=Decimal(0),
        ge=0,
        max_digits=MAX_INCOME_DIGITS,
        decimal_places=2,
        description="Illegal income in yuan, below ten billion.",
    )
    insider: WireBool = Field(
        default=False,
        description="Data obtained while performing duties or providing services. The thresholds halve "
        "for the records sold or provided (Art. 5 item 8), not for records only held.",
    )
    own_lawful_business: WireBool = Field(
        default=False,
        description="The records were bought or received for the party's own lawful business "
        "(为合法经营活动而非法购买、收受, 法释〔2017〕10号 Art. 6). When they are all outside the "
        "categories of Art. 5 items 3-4 and none was sold or provided on, Art. 6 governs instead of Art. 5.",
    )
    profit_from_use_cny: Amount = Field(
        default=Decimal(0),
        ge=0,
        max_digits=MAX_INCOME_DIGITS,
        decimal_places=2,
        description="Profit in yuan made by using records bought or received for the party's own "
        "business (利用非法购买、收受的公民个人信息获利, Art. 6 item 1), below ten billion.",
    )
    prior_criminal_penalty: WireBool = Field(
        default=False, description="The party was criminally punished for this kind of offence before."
    )
    administrative_penalty_within_2_years: WireBool = Field(
        default=False,
        description="The party had an administrative penalty for this kind of act within two years.",
    )
    location_data_used_for_crime: WireBool = Field(
        default=False, description="Location-track data provided was then used by someone for a crime."
    )
    supplied_to_known_criminal: WireBool = Field(
        default=False,
        description="Data supplied to someone known (or who should be known) to use it for crime.",
    )
    other_serious_circumstances: WireBool = Field(
        default=False,
        description="A human judgement that other serious circumstances apply (Art. 5 item 10; "
        "Art. 6 item 3 where Art. 6 governs).",
    )
    other_especially_serious_circumstances: WireBool = Field(
        default=False,
        description="A human judgement that other especially serious circumstances apply "
        "(其他情节特别严重的情形, Art. 5 para. 2 item 4).",
    )
    severe_harms: list[SevereHarm] = Field(default_factory=list)

    @field_validator("company_credit_code")
    @classmethod
    def _credit_code(cls, value: str) -> str:
        try:
            return validate_credit_code(value)
        except CreditCodeError as exc:
            raise ValueError(str(exc)) from None

    @model_validator(mode="after")
    def _profit_only_for_own_business(self) -> CaseFacts:
        if self.profit_from_use_cny and not self.own_lawful_business:
            raise ValueError(
                "profit_from_use_cny: only for records bought or received for the party's own lawful "
                "business; set own_lawful_business, or give illegal_income_cny for income from selling"
            )
        return self

    @model_validator(mode="after")
    def _one_count_per_category(self) -> CaseFacts:
        seen: set[InformationCategory] = set()
        for record in self.records:
            if record.category in seen:
                raise ValueError(
                    f"records: category '{record.category}' is listed twice; give one count per category"
                )
            seen.add(record.category)
        return self

    def counted(self, category: InformationCategory) -> int:
        """Records of one category as counted for the threshold (0 when not listed)."""
        return sum(r.counted for r in self.records if r.category == category)
