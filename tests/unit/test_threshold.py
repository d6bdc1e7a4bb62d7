"""The criminal threshold of 法释〔2017〕10号 Art. 5: each clause, its boundaries, and the typical cases."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from decimal import Decimal
from fractions import Fraction

import pytest

from broker.domain.case import CaseFacts, InformationCategory, Sector, SevereHarm, Violation
from broker.domain.threshold import assess
from broker.domain.threshold_rules import DEFAULT_RULES_VERSION, ThresholdRulesError, load_rules
from broker.domain.threshold_values import Assessment, Level
from tests.support.facts import facts

C = InformationCategory
NOT, SERIOUS, ESPECIALLY = Level.NOT_REACHED, Level.SERIOUS, Level.ESPECIALLY_SERIOUS
# --------------------------------------------------------------------------------------------------
# Items 3-5: records per tier, and the ten-times level of para. 2 item 3


@pytest.mark.parametrize(
    ("category", "count", "level", "clause"),
    [
        # item 3: 50 records; 500 for 情节特别严重
        (C.LOCATION_TRACK, 49, NOT, None),
        (C.LOCATION_TRACK, 50, SERIOUS, "art5.3"),
        (C.COMMUNICATION_CONTENT, 50, SERIOUS, "art5.3"),
        (C.CREDIT, 49, NOT, None),
        (C.CREDIT, 50, SERIOUS, "art5.3"),
        (C.PROPERTY, 50, SERIOUS, "art5.3"),
        (C.LOCATION_TRACK, 499, SERIOUS, "art5.3"),
        (C.LOCATION_TRACK, 500, ESPECIALLY, "art5.3"),
        # item 4: 500 records; 5,000 for 情节特别严重
        (C.LODGING, 499, NOT, None),
        (C.LODGING, 500, SERIOUS, "art5.4"),
        (C.CALL_RECORDS, 500, SERIOUS, "art5.4"),
        (C.HEALTH, 500, SERIOUS, "art5.4"),
        (C.TRANSACTION, 500, SERIOUS, "art5.4"),
        (C.OTHER_SAFETY_RELEVANT, 499, NOT, None),
        (C.OTHER_SAFETY_RELEVANT, 500, SERIOUS, "art5.4"),
        (C.LODGING, 4_999, SERIOUS, "art5.4"),
        (C.LODGING, 5_000, ESPECIALLY, "art5.4"),
        # item 5: 5,000 records; 50,000 for 情节特别严重
        (C.OTHER, 4_999, NOT, None),
        (C.OTHER, 5_000, SERIOUS, "art5.5"),
        (C.OTHER, 49_999, SERIOUS, "art5.5"),
        (C.OTHER, 50_000, ESPECIALLY, "art5.5"),
    ],
)
def test_record_thresholds(
    category: InformationCategory, count: int, level: Level, clause: str | None
) -> None:
    result = assess(facts({category: count}))
    assert result.level is level
    assert result.reached is (level is not NOT)
    assert result.clause_ids == ((clause,) if clause else ())
    if clause:
        met = result.clause(clause)
        assert met is not None and met.level is level
        assert met.figure("records_counted") == count
        assert met.figure(f"records_{category.value}") == count


@pytest.mark.parametrize(
    ("records", "held", "level", "clauses"),
    [
        # one tier sums its categories: 25 location + 25 credit is 50 records of item 3
        ({C.LOCATION_TRACK: 25, C.CREDIT: 25}, {}, SERIOUS, ("art5.3",)),
        ({C.LOCATION_TRACK: 25, C.CREDIT: 24}, {}, NOT, ()),
        # records held and records provided both count (RecordCount.counted)
        ({C.CREDIT: 30}, {C.CREDIT: 20}, SERIOUS, ("art5.3",)),
        ({}, {C.OTHER: 5_000}, SERIOUS, ("art5.5",)),
        # two tiers each over their own threshold
        ({C.CREDIT: 50, C.LODGING: 500}, {}, SERIOUS, ("art5.3", "art5.4")),
    ],
)
def test_counting_within_and_across_tiers(
    records: dict[InformationCategory, int],
    held: dict[InformationCategory, int],
    level: Level,
    clauses: tuple[str, ...],
) -> None:
    result = assess(facts(records, held=held))
    assert (result.level, result.clause_ids) == (level, clauses)


# --------------------------------------------------------------------------------------------------
# Item 6: proportional combination, Σ (records of a tier ÷ that tier's threshold)


@pytest.mark.parametrize(
    ("records", "insider", "total", "level", "clauses"),
    [
        # 25/50 + 250/500 = 1: reached by combination
        ({C.CREDIT: 25, C.LODGING: 250}, False, Fraction(1), SERIOUS, ("art5.6",)),
        # 24/50 + 250/500 = 49/50: not reached
        ({C.CREDIT: 24, C.LODGING: 250}, False, Fraction(49, 50), NOT, ()),
        # all three tiers: 10/50 + 200/500 + 2,000/5,000 = 1/5 + 2/5 + 2/5 = 1
        ({C.CREDIT: 10, C.LODGING: 200, C.OTHER: 2_000}, False, Fraction(1), SERIOUS, ("art5.6",)),
        ({C.CREDIT: 10, C.LODGING: 200, C.OTHER: 1_999}, False, Fraction(4_999, 5_000), NOT, ()),
        # insiders combine against the halved thresholds: 13/25 + 125/250 >= 1, 12/25 + 125/250 < 1
        ({C.CREDIT: 13, C.LODGING: 125}, True, Fraction(51, 50), SERIOUS, ("art5.6", "art5.8")),
        ({C.CREDIT: 12, C.LODGING: 125}, True, Fraction(49, 50), NOT, ()),
        # a tier reaching alone is item 3, not item 6
        ({C.CREDIT: 60, C.LODGING: 250}, False, Fraction(17, 10), SERIOUS, ("art5.3",)),
        # ten times combined: 250/50 + 2,500/500 = 10 with neither tier at ten times alone
        ({C.CREDIT: 250, C.LODGING: 2_500}, False, Fraction(10), ESPECIALLY, ("art5.3", "art5.4", "art5.6")),
        ({C.CREDIT: 249, C.LODGING: 2_500}, False, Fraction(499, 50), SERIOUS, ("art5.3", "art5.4")),
    ],
)
def test_proportional_combination(
    records: dict[InformationCategory, int],
    insider: bool,
    total: Fraction,
    level: Level,
    clauses: tuple[str, ...],
) -> None:
    result = assess(facts(records, insider=insider))
    assert (result.level, result.clause_ids) == (level, clauses)
    (comparison,) = [c for c in result.comparisons if c.clause == "art5.6"]
    assert comparison.value == total
    if "art5.6" in clauses:
        met = result.clause("art5.6")
        assert met is not None
        assert met.figure("proportional_sum") == total
        assert met.figure("share_art5.3") == Fraction(records.get(C.CREDIT, 0), 25 if insider else 50)


# --------------------------------------------------------------------------------------------------
# Item 7: illegal income


@pytest.mark.parametrize(
    ("income", "level"),
    [
        ("4999.99", NOT),
        ("5000", SERIOUS),
        ("5000.00", SERIOUS),
        ("49999", SERIOUS),
        ("49999.99", SERIOUS),
        ("50000", ESPECIALLY),
        ("286179", ESPECIALLY),
    ],
)
def test_illegal_income(income: str, level: Level) -> None:
    result = assess(facts(income=income))
    assert result.level is level
    assert result.clause_ids == (("art5.7",) if level is not NOT else ())
    if level is not NOT:
        met = result.clause("art5.7")
        assert met is not None
        assert met.figure("illegal_income_cny") == Decimal(income)
        assert met.figure("threshold") == Decimal(5000)


# --------------------------------------------------------------------------------------------------
# Item 8: insiders reach items 3-7 with half the figures


@pytest.mark.parametrize(
    ("records", "income", "level", "base_clause", "decisive"),
    [
        ({C.CREDIT: 24}, "0", NOT, None, False),
        ({C.CREDIT: 25}, "0", SERIOUS, "art5.3", True),
        ({C.LODGING: 249}, "0", NOT, None, False),
        ({C.LODGING: 250}, "0", SERIOUS, "art5.4", True),
        ({C.OTHER: 2_499}, "0", NOT, None, False),
        ({C.OTHER: 2_500}, "0", SERIOUS, "art5.5", True),
        ({}, "2499", NOT, None, False),
        ({}, "2499.99", NOT, None, False),
        ({}, "2500", SERIOUS, "art5.7", True),
        # ten times the halved figures; "decisive" when the level would be lower without halving
        ({C.CREDIT: 249}, "0", SERIOUS, "art5.3", False),
        ({C.CREDIT: 250}, "0", ESPECIALLY, "art5.3", True),
        ({C.OTHER: 24_999}, "0", SERIOUS, "art5.5", False),
        ({C.OTHER: 25_000}, "0", ESPECIALLY, "art5.5", True),
        ({}, "24999.99", SERIOUS, "art5.7", False),
        ({}, "25000", ESPECIALLY, "art5.7", True),
    ],
)
def test_insider_halving(
    records: dict[InformationCategory, int],
    income: str,
    level: Level,
    base_clause: str | None,
    decisive: bool,
) -> None:
    result = assess(facts(records, income=income, insider=True))
    assert result.level is level
    assert result.insider
    if base_clause is None:
        assert result.clause_ids == ()
        return
    # item 8 is reported together with the clause whose halved figure was met
    assert result.clause_ids == (base_clause, "art5.8")
    insider = result.clause("art5.8")
    assert insider is not None
    assert insider.level is level
    assert insider.figure("insider_factor") == Fraction(1, 2)
    assert insider.figure("applies_to") == base_clause
    assert insider.figure("decisive_for") == (base_clause if decisive else "none")
    met = result.clause(base_clause)
    assert met is not None
    assert met.figure("threshold") * 2 == met.figure("threshold_without_halving")


def test_insider_meeting_the_full_figure_still_reports_item_8_but_not_as_decisive() -> None:
    result = assess(facts({C.CREDIT: 60}, income="1000", insider=True))
    assert result.clause_ids == ("art5.3", "art5.8")
    insider = result.clause("art5.8")
    assert insider is not None and insider.figure("decisive_for") == "none"


@pytest.mark.parametrize(
    ("records", "income"),
    [({C.CREDIT: 25}, "0"), ({C.LODGING: 250}, "0"), ({C.OTHER: 2_500}, "0"), ({}, "2500")],
)
def test_the_same_figures_without_insider_flag_do_not_halve(
    records: dict[InformationCategory, int], income: str
) -> None:
    assert assess(facts(records, income=income)).level is NOT


# --------------------------------------------------------------------------------------------------
# Items 1, 2, 9, 10 (flags) and para. 2 items 1-2 (severe harms)


@pytest.mark.parametrize(
    ("flag", "clause"),
    [
        ("location_data_used_for_crime", "art5.1"),
        ("supplied_to_known_criminal", "art5.2"),
        ("prior_criminal_penalty", "art5.9"),
        # the current case is the "again" after an administrative penalty within two years
        ("administrative_penalty_within_2_years", "art5.9"),
        ("other_serious_circumstances", "art5.10"),
    ],
)
def test_flag_clauses(flag: str, clause: str) -> None:
    flagged = CaseFacts.model_validate({**facts({C.OTHER: 10}).model_dump(), flag: True})
    result = assess(flagged)
    assert (result.reached, result.level, result.clause_ids) == (True, SERIOUS, (clause,))
    met = result.clause(clause)
    assert met is not None and met.figure(flag) is True


@pytest.mark.parametrize(
    ("harm", "clause"),
    [
        (SevereHarm.DEATH, "art5.p2.1"),
        (SevereHarm.SERIOUS_INJURY, "art5.p2.1"),
        (SevereHarm.MENTAL_DISORDER, "art5.p2.1"),
        (SevereHarm.KIDNAPPING, "art5.p2.1"),
        (SevereHarm.MAJOR_ECONOMIC_LOSS, "art5.p2.2"),
        (SevereHarm.BAD_SOCIAL_IMPACT, "art5.p2.2"),
    ],
)
def test_severe_harms_are_especially_serious(harm: SevereHarm, clause: str) -> None:
    result = assess(facts({C.OTHER: 10}, severe_harms=[harm]))
    assert (result.level, result.clause_ids) == (ESPECIALLY, (clause,))
    met = result.clause(clause)
    assert met is not None and met.figure("severe_harms") == harm.value


def test_level_is_the_highest_clause_and_clauses_keep_their_order() -> None:
    result = assess(
        facts(
            {C.CREDIT: 60},
            income="6000",
            prior_criminal_penalty=True,
            severe_harms=[SevereHarm.BAD_SOCIAL_IMPACT, SevereHarm.DEATH],
        )
    )
    assert result.level is ESPECIALLY
    assert result.clause_ids == ("art5.3", "art5.7", "art5.9", "art5.p2.1", "art5.p2.2")
    assert [c.level for c in result.clauses] == [SERIOUS, SERIOUS, SERIOUS, ESPECIALLY, ESPECIALLY]


def test_nothing_reached() -> None:
    result = assess(facts())
    assert (result.reached, result.level, result.clauses) == (False, NOT, ())
    assert [c.clause for c in result.comparisons] == ["art5.3", "art5.4", "art5.5", "art5.6", "art5.7"]


# --------------------------------------------------------------------------------------------------
# The typical cases of the 2019 campaign (DOMAIN.md)

# Zhuji, 2019: a developer's employee sold owners' names, flat numbers and phone numbers for ¥1,200;
# the bureau imposed an administrative penalty. The report gives no count, so we take 300 "other"
# records (names, flats and phones are none of the item 3/4 categories), provided, by an insider
# (the data came from the company's sales work). Halved figures: 300 < 2,500 and ¥1,200 < ¥2,500.
DEVELOPER_STAFF_SALE = facts({C.OTHER: 300}, income="1200", insider=True)

# Tongzhou, 2019: an education company collected 480 records without consent and used them for
# telemarketing: 480 "other" records held (collected, not passed on); 480 < 5,000.
EDUCATION_COLLECTION = facts(
    held={C.OTHER: 480}, sector=Sector.EDUCATION, violation=Violation.COLLECTING_WITHOUT_CONSENT
)

# Yibin, 2019: a ring tricked elderly people out of their ID card data, registered 18,990 blank SIM
# cards in their names and sent the cards back to a company: 18,990 "other" records (identity data)
# provided. The report says ¥286,179 was "涉案总金额" (the total amount involved); we encode it as
# illegal income, which makes item 7 ten times over (>= ¥50,000): 情节特别严重. If the police find
# the ring's own profit was lower, the records alone still meet item 5 (18,990 >= 5,000): 情节严重.
SIM_CARD_RING = facts({C.OTHER: 18_990}, income="286179", sector=Sector.TELEMARKETING)
SIM_CARD_RING_RECORDS_ONLY = facts({C.OTHER: 18_990}, sector=Sector.TELEMARKETING)


@pytest.mark.parametrize(
    ("case", "level", "clauses"),
    [
        (DEVELOPER_STAFF_SALE, NOT, ()),
        (EDUCATION_COLLECTION, NOT, ()),
        (SIM_CARD_RING, ESPECIALLY, ("art5.5", "art5.7")),
        (SIM_CARD_RING_RECORDS_ONLY, SERIOUS, ("art5.5",)),
    ],
    ids=["developer-staff-sale", "education-collection", "sim-card-ring", "sim-card-ring-records-only"],
)
def test_typical_cases(case: CaseFacts, level: Level, clauses: tuple[str, ...]) -> None:
    result = assess(case)
    assert (result.level, result.clause_ids) == (level, clauses)


def test_sim_card_ring_levels_by_clause() -> None:
    result = assess(SIM_CARD_RING)
    records, income = result.clause("art5.5"), result.clause("art5.7")
    assert records is not None and income is not None
    assert (records.level, records.figure("records_counted"), records.figure("threshold")) == (
        SERIOUS,
        18_990,
        5_000,
    )
    assert (income.level, income.figure("especially_serious_threshold")) == (ESPECIALLY, Decimal(50_000))


# --------------------------------------------------------------------------------------------------
# Explanation, serialisation, rules


def test_explanation_names_clauses_numbers_thresholds_and_halving() -> None:
    text = assess(facts({C.LOCATION_TRACK: 120}, income="800")).explain()
    assert "REACHED: serious circumstances (情节严重)" in text
    assert "Art. 5 item 3 [art5.3]" in text
    assert "records counted: 120" in text
    assert "threshold applied: 50" in text
    assert "ten-times threshold (情节特别严重): 500" in text
    assert "illegal income: ¥800.00 vs ¥5,000.00 / ¥50,000.00 -> not reached" in text
    assert "Insider halving (Art. 5 item 8): not applied" in text
    assert DEFAULT_RULES_VERSION in text


def test_explanation_of_insider_and_of_a_case_not_reached() -> None:
    text = assess(DEVELOPER_STAFF_SALE).explain()
    assert "NOT REACHED" in text
    assert "Insider halving (Art. 5 item 8): APPLIED" in text
    assert "300 vs 2,500 / 25,000 -> not reached" in text
    assert "illegal income: ¥1,200.00 vs ¥2,500.00 / ¥25,000.00" in text

    text = assess(facts({C.CREDIT: 25, C.LODGING: 250})).explain()
    assert "Art. 5 item 6 [art5.6]" in text
    assert "proportional sum: 1" in text
    assert "share (art5.3): 1/2 (about 0.50)" in text


def test_to_dict_is_json_ready_and_exact() -> None:
    # 24/25 + 240/250 = 48/25, though neither halved tier threshold is met alone
    result = assess(facts({C.CREDIT: 24, C.LODGING: 240}, income="4999.99", insider=True))
    data = json.loads(json.dumps(result.to_dict()))
    assert data["reached"] is True
    assert data["level"] == "serious"
    assert data["rules_version"] == DEFAULT_RULES_VERSION
    assert "法释〔2017〕10号" in data["rules_citation"]
    assert data["insider"] is True
    assert [c["clause"] for c in data["clauses"]] == ["art5.6", "art5.7", "art5.8"]
    combined, income, insider = data["clauses"]
    assert combined["figures"]["proportional_sum"] == "48/25"
    assert income["figures"] == {
        "illegal_income_cny": "4999.99",
        "threshold": "2500.00",
        "threshold_without_halving": "5000.00",
        "especially_serious_threshold": "25000.00",
    }
    assert insider["figures"]["insider_factor"] == "1/2"
    assert data["explanation"] == result.explain()


def test_rules_are_versioned_data() -> None:
    rules = load_rules()
    assert rules.version == DEFAULT_RULES_VERSION == "2017-spc-spp-10"
    assert load_rules("2017-spc-spp-10") is rules
    assert [(t.clause, t.threshold) for t in rules.record_tiers] == [
        ("art5.3", 50),
        ("art5.4", 500),
        ("art5.5", 5_000),
    ]
    assert {c for t in rules.record_tiers for c in t.categories} == set(InformationCategory)
    assert rules.tier_of(C.HEALTH).clause == "art5.4"
    assert rules.illegal_income_cny == Decimal(5_000)
    assert rules.insider_factor == Fraction(1, 2)
    assert rules.especially_serious_factor == 10
    assert "法释〔2017〕10号" in rules.citation
    assert assess(facts()).rules_version == rules.version


@pytest.mark.parametrize("version", ["1997-none", "../case", "2017-SPC-SPP-10", ""])
def test_unknown_rules_version(version: str) -> None:
    with pytest.raises(ThresholdRulesError):
        load_rules(version)


def test_other_rules_can_be_passed_in() -> None:
    stricter = dataclasses.replace(load_rules(), version="test-income-1000", illegal_income_cny=Decimal(1000))
    result = assess(facts(income="1000"), stricter)
    assert (result.level, result.rules_version) == (SERIOUS, "test-income-1000")
    assert assess(facts(income="1000")).level is NOT


def test_assessment_level_and_reached_must_agree() -> None:
    with pytest.raises(ValueError, match="contradicts"):
        Assessment(reached=True, level=NOT, clauses=(), rules_version=DEFAULT_RULES_VERSION)


def test_threshold_module_imports_no_transport() -> None:
    code = "import sys, broker.domain.threshold; sys.exit(bool({'kombu', 'pika'} & set(sys.modules)))"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
