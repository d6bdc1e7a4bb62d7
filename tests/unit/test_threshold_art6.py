"""法释〔2017〕10号 Art. 6 (own lawful business), Art. 5 item 8 (insiders: sold or provided only),
Art. 5 para. 2 item 4 and the counting note of Art. 11 para. 3 (issue 15)."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from importlib import resources

import pytest
from pydantic import ValidationError

from broker.domain.case import CaseFacts, InformationCategory, Sector, Violation
from broker.domain.threshold import assess
from broker.domain.threshold_rules import ThresholdRulesError, load_rules, parse_rules
from broker.domain.threshold_values import Level
from tests.support.facts import facts

C = InformationCategory
NOT, SERIOUS, ESPECIALLY = Level.NOT_REACHED, Level.SERIOUS, Level.ESPECIALLY_SERIOUS

# The campaign's typical pattern: a real-estate, decoration or education firm buys name/phone lists
# and uses them for its own marketing. Art. 6 para. 1: serious only at ¥50,000 profit or on a repeat.
BOUGHT_FOR_MARKETING = {"held": {C.OTHER: 6_000}, "own_lawful_business": True}


def test_art6_records_bought_for_own_marketing_are_not_serious_on_their_count() -> None:
    result = assess(facts(**BOUGHT_FOR_MARKETING))  # type: ignore[arg-type]
    assert (result.article, result.level, result.clause_ids) == ("art6", NOT, ())
    assert "NOT REACHED: no clause of Art. 6 is met" in result.explain()
    # without the Art. 6 fact, 6,000 records held meet Art. 5 item 5
    assert assess(facts(held={C.OTHER: 6_000})).clause_ids == ("art5.5",)


@pytest.mark.parametrize(("profit", "level"), [("49999.99", NOT), ("50000", SERIOUS), ("5000000", SERIOUS)])
def test_art6_item1_profit_of_50000_and_no_especially_serious_bracket(profit: str, level: Level) -> None:
    result = assess(facts(**BOUGHT_FOR_MARKETING, profit_from_use_cny=Decimal(profit)))  # type: ignore[arg-type]
    assert result.level is level  # ¥5 M is still only 情节严重: Art. 6 has no para. 2
    assert result.clause_ids == (("art6.1",) if level is SERIOUS else ())
    (comparison,) = result.comparisons
    assert (comparison.clause, comparison.threshold) == ("art6.1", Decimal(50_000))


@pytest.mark.parametrize(
    ("flag", "clause"),
    [
        ("administrative_penalty_within_2_years", "art6.2"),
        ("prior_criminal_penalty", "art6.2"),
        ("other_serious_circumstances", "art6.3"),
    ],
)
def test_art6_items_2_and_3_repeat_or_human_flag(flag: str, clause: str) -> None:
    result = assess(facts(**BOUGHT_FOR_MARKETING, **{flag: True}))  # type: ignore[arg-type]
    assert (result.level, result.clause_ids, result.article) == (SERIOUS, (clause,), "art6")


@pytest.mark.parametrize(
    "case",
    [
        # para. 2: sold or provided on, so Art. 5 applies
        {"records": {C.OTHER: 6_000}, "own_lawful_business": True},
        # sensitive categories (Art. 5 items 3-4) are outside Art. 6
        {"held": {C.OTHER: 100, C.LODGING: 600}, "own_lawful_business": True},
        # an insider obtained the records in service, not by buying or receiving them
        {"records": {}, "held": {C.OTHER: 6_000}, "own_lawful_business": True, "insider": True},
    ],
    ids=["provided-on", "sensitive-category", "insider"],
)
def test_art6_does_not_govern_outside_its_terms(case: dict[str, object]) -> None:
    result = assess(facts(**case))  # type: ignore[arg-type]
    assert result.article == "art5"


def test_profit_from_use_needs_the_own_business_fact() -> None:
    with pytest.raises(ValidationError, match="profit_from_use_cny: only for records bought or received"):
        facts(held={C.OTHER: 10}, profit_from_use_cny=Decimal(60_000))


def test_art6_profit_figure_is_versioned_data() -> None:
    rules = load_rules()
    assert rules.lawful_business_profit_cny == Decimal(50_000)
    lower = dataclasses.replace(rules, version="test-profit", lawful_business_profit_cny=Decimal(1_000))
    result = assess(facts(**BOUGHT_FOR_MARKETING, profit_from_use_cny=Decimal(1_000)), lower)  # type: ignore[arg-type]
    assert result.level is SERIOUS
    doc = json.loads(
        (resources.files("broker.domain") / "data" / "thresholds" / "2017-spc-spp-10.json").read_text(
            encoding="utf-8"
        ),
        parse_float=Decimal,
    )
    del doc["lawful_business_profit_cny"]
    with pytest.raises(ThresholdRulesError, match="lawful_business_profit_cny"):
        parse_rules("2017-spc-spp-10", doc)


# --------------------------------------------------------------------------------------------------
# Art. 5 item 8: 出售或者提供给他人 — halving for what an insider sold or provided, not for what was held


@pytest.mark.parametrize(
    ("provided", "held", "level"),
    [
        (0, 2_500, NOT),  # held only: the full 5,000 applies
        (0, 5_000, SERIOUS),
        (2_500, 0, SERIOUS),  # provided: half of 5,000 suffices
        (2_000, 1_000, SERIOUS),  # 2,000/2,500 + 1,000/5,000 = 1
        (2_000, 999, NOT),
    ],
)
def test_insider_halving_only_for_records_sold_or_provided(provided: int, held: int, level: Level) -> None:
    result = assess(facts({C.OTHER: provided} if provided else None, held={C.OTHER: held}, insider=True))
    assert result.level is level
    if level is SERIOUS:
        assert "art5.8" in result.clause_ids


def test_insider_held_records_are_reported_as_weighed() -> None:
    result = assess(facts({C.OTHER: 2_000}, held={C.OTHER: 1_000}, insider=True))
    met = result.clause("art5.5")
    assert met is not None
    assert (met.figure("records_counted"), met.figure("records_held"), met.figure("records_weighted")) == (
        3_000,
        1_000,
        2_500,
    )
    assert "records only held count against the full figures" in result.explain()


# --------------------------------------------------------------------------------------------------
# Art. 5 para. 2 item 4 and Art. 11 para. 3


def test_art5_para2_item4_other_especially_serious_is_a_human_flag() -> None:
    result = assess(facts({C.OTHER: 6_000}, other_especially_serious_circumstances=True))
    assert result.level is ESPECIALLY
    assert result.clause_ids == ("art5.5", "art5.p2.4")
    assert "Art. 5 para. 2 item 4 [art5.p2.4]" in result.explain()


def test_art11_para3_batch_counting_note() -> None:
    text = assess(facts()).explain()
    assert (
        "a seized batch counts as found unless there is evidence that records are untrue or repeated" in text
    )
    assert (
        "Art. 11 para. 3"
        in CaseFacts.model_json_schema()["$defs"]["RecordCount"]["properties"]["held"]["description"]
    )


def test_typical_education_collection_stays_administrative_either_way() -> None:
    case = facts(
        held={C.OTHER: 480},
        sector=Sector.EDUCATION,
        violation=Violation.COLLECTING_WITHOUT_CONSENT,
        own_lawful_business=True,
    )
    assert assess(case).level is NOT
