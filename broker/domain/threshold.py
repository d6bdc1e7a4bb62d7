"""Criminal threshold for infringing personal information (刑法第二百五十三条之一), 法释〔2017〕10号
Art. 5 and Art. 6.

A bureau transfers a case to the police (移送公安机关) once its facts reach "情节严重". This module
says whether they do, at which level, by which clause and with which numbers, so that the referral
can carry its own reasoning. It advises: the bureau head decides (Decree 310 Art. 5), and a head who
reads the facts otherwise says so in the referral (referrals.py).

Art. 6 governs instead of Art. 5 when records were bought or received for the party's own lawful
business (为合法经营活动而非法购买、收受), are all outside the sensitive categories of Art. 5 items 3
and 4, and none was sold or provided on (Art. 6 para. 2 sends that back to Art. 5). Under Art. 6 only
"情节严重" exists: a profit of ¥50,000 from using them, a repeat after a penalty, or other serious
circumstances. The figures themselves are versioned data
(``broker/domain/data/thresholds/<version>.json``, read by threshold_rules.py), not code: a new
interpretation is a new file.

Arithmetic is exact (``Fraction``): ¥4,999.99 never rounds up to ¥5,000, and 24/50 + 250/500 is
exactly 49/50.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Final

from broker.domain.case import CaseFacts, SevereHarm
from broker.domain.threshold_art6 import art6_governs, assess_art6
from broker.domain.threshold_rules import RecordTier, ThresholdRules, load_rules
from broker.domain.threshold_values import (
    Assessment,
    ClauseMet,
    Comparison,
    Figure,
    Level,
    cny,
    count_of,
    flag_clause,
    highest,
    level_of,
)

# Art. 5 para. 2 items 1 and 2 name two kinds of consequence.
_HARM_TO_VICTIM: Final = (
    SevereHarm.DEATH,
    SevereHarm.SERIOUS_INJURY,
    SevereHarm.MENTAL_DISORDER,
    SevereHarm.KIDNAPPING,
)
_HARM_TO_SOCIETY: Final = (SevereHarm.MAJOR_ECONOMIC_LOSS, SevereHarm.BAD_SOCIAL_IMPACT)


@dataclass(frozen=True)
class _Scale:
    factor: Fraction
    """1, or the insider factor (item 8)."""
    times: Fraction
    """The multiple of para. 2 item 3 (10)."""
    insider: bool


@dataclass(frozen=True)
class _Halving:
    """A clause of items 3-7 met by an insider: the level reached, and the level without halving."""

    clause: str
    level: Level
    level_without_halving: Level


def assess(facts: CaseFacts, rules: ThresholdRules | None = None) -> Assessment:
    """Assess ``facts`` against Art. 5 of 法释〔2017〕10号, or Art. 6 where it governs (or the given
    ``rules``)."""
    rules = rules or load_rules()
    if art6_governs(facts, rules):
        return assess_art6(facts, rules)
    scale = _Scale(
        factor=rules.insider_factor if facts.insider else Fraction(1),
        times=rules.especially_serious_factor,
        insider=facts.insider,
    )
    comparisons: list[Comparison] = []
    halvings: list[_Halving] = []
    clauses = _flag_clauses_1_2(facts)
    clauses += _record_clauses(facts, rules, scale, comparisons, halvings)
    clauses += _income_clause(facts, rules, scale, comparisons, halvings)
    clauses += _insider_clause(scale, halvings)
    clauses += _flag_clauses_9_10(facts)
    clauses += _harm_clauses(facts)
    if facts.other_especially_serious_circumstances:
        clauses.append(
            ClauseMet(
                "art5.p2.4",
                "Other especially serious circumstances, as judged by the case handler "
                "(其他情节特别严重的情形)",
                (("other_especially_serious_circumstances", True),),
                Level.ESPECIALLY_SERIOUS,
            )
        )
    level = highest(c.level for c in clauses)
    return Assessment(
        reached=level is not Level.NOT_REACHED,
        level=level,
        clauses=tuple(clauses),
        rules_version=rules.version,
        insider=facts.insider,
        comparisons=tuple(comparisons),
        rules_citation=rules.citation,
    )


def _flag_clauses_1_2(facts: CaseFacts) -> list[ClauseMet]:
    clauses = []
    if facts.location_data_used_for_crime:
        clauses.append(
            flag_clause(
                "art5.1",
                "Location-track data sold or provided were then used by someone for a crime "
                "(出售或者提供行踪轨迹信息，被他人用于犯罪)",
                location_data_used_for_crime=True,
            )
        )
    if facts.supplied_to_known_criminal:
        clauses.append(
            flag_clause(
                "art5.2",
                "Data sold or provided to someone known, or who should have been known, to use them for a "
                "crime (知道或者应当知道他人利用公民个人信息实施犯罪，向其出售或者提供)",
                supplied_to_known_criminal=True,
            )
        )
    return clauses


def _record_clauses(
    facts: CaseFacts,
    rules: ThresholdRules,
    scale: _Scale,
    comparisons: list[Comparison],
    halvings: list[_Halving],
) -> list[ClauseMet]:
    """Items 3-5, one per tier, then item 6 from the same shares (records of a tier ÷ its threshold).

    Item 8 halves the figures for what an insider sold or provided (出售或者提供给他人); records the
    insider only held count against the full figure, i.e. weigh ``factor`` against the halved one.
    """
    clauses = []
    shares: list[_Share] = []
    for tier in rules.record_tiers:
        by_category = [(c, facts.counted(c)) for c in tier.categories]
        counted = sum(n for _, n in by_category)
        in_tier = [r for r in facts.records if r.category in tier.categories]
        held = sum(r.held for r in in_tier)
        weighted = counted - held + held * scale.factor
        threshold = tier.threshold * scale.factor
        level = level_of(weighted, threshold, scale.times)
        shares.append(_Share(tier, counted, weighted, threshold))
        comparisons.append(
            Comparison(
                tier.clause,
                f"records of {tier.title}"
                + (", held records weighed at the insider factor" if scale.insider and held else ""),
                count_of(weighted),
                count_of(threshold),
                count_of(threshold * scale.times),
                level,
            )
        )
        if level is Level.NOT_REACHED:
            continue
        full = Fraction(tier.threshold)
        halvings.append(_Halving(tier.clause, level, level_of(Fraction(counted), full, scale.times)))
        clauses.append(
            ClauseMet(
                tier.clause,
                _titled(f"At least {tier.threshold:,} records of {tier.title}", level, scale),
                (
                    ("records_counted", counted),
                    *(
                        (("records_held", held), ("records_weighted", count_of(weighted)))
                        if scale.insider and held
                        else ()
                    ),
                    *((f"records_{c.value}", n) for c, n in by_category if n),
                    *_threshold_figures(full, threshold, scale, count_of),
                ),
                level,
            )
        )
    return clauses + _proportional(shares, scale, comparisons, halvings)


@dataclass(frozen=True)
class _Share:
    tier: RecordTier
    counted: int
    weighted: Fraction
    """Records as weighed against ``threshold``: for an insider, held records count at the factor."""
    threshold: Fraction
    """The tier's threshold as applied (halved for insiders)."""

    @property
    def share(self) -> Fraction:
        return self.weighted / self.threshold

    @property
    def share_without_halving(self) -> Fraction:
        return Fraction(self.counted, self.tier.threshold)


def _proportional(
    shares: list[_Share], scale: _Scale, comparisons: list[Comparison], halvings: list[_Halving]
) -> list[ClauseMet]:
    """Item 6: Σ (records of a tier ÷ that tier's threshold) reaches 1, though no tier does alone.

    Read the same way for para. 2 item 3: a sum of ``times`` (10) or more is 情节特别严重 when no tier
    alone reaches ten times its threshold.
    """
    total = sum((s.share for s in shares), Fraction(0))
    largest = max((s.share for s in shares), default=Fraction(0))
    level = _proportional_level(total, largest, scale.times)
    measure = "proportional sum Σ(records of a tier ÷ its threshold)"
    if largest >= 1:
        measure += ", needed only where no tier reaches its threshold alone"
    comparisons.append(Comparison("art5.6", measure, total, 1, count_of(scale.times), level))
    if level is Level.NOT_REACHED:
        return []
    without = [s.share_without_halving for s in shares]
    level_without = _proportional_level(
        sum(without, Fraction(0)), max(without, default=Fraction(0)), scale.times
    )
    halvings.append(_Halving("art5.6", level, level_without))
    figures: list[tuple[str, Figure]] = []
    for s in shares:
        figures += [
            (f"records_{s.tier.clause}", count_of(s.weighted)),
            (f"threshold_{s.tier.clause}", count_of(s.threshold)),
            (f"share_{s.tier.clause}", s.share),
        ]
    figures += [
        ("proportional_sum", total),
        ("required_sum", 1 if level is Level.SERIOUS else count_of(scale.times)),
    ]
    title = (
        "Below the thresholds of items 3-5 one by one, but reaching them combined in proportion "
        "(数量未达到第三项至第五项规定标准，但是按相应比例合计达到有关数量标准)"
    )
    return [ClauseMet("art5.6", _titled(title, level, scale), tuple(figures), level)]


def _income_clause(
    facts: CaseFacts,
    rules: ThresholdRules,
    scale: _Scale,
    comparisons: list[Comparison],
    halvings: list[_Halving],
) -> list[ClauseMet]:
    """Item 7: illegal income."""
    income = facts.illegal_income_cny
    full = Fraction(rules.illegal_income_cny)
    threshold = full * scale.factor
    level = level_of(Fraction(income), threshold, scale.times)
    comparisons.append(
        Comparison("art5.7", "illegal income", income, cny(threshold), cny(threshold * scale.times), level)
    )
    if level is Level.NOT_REACHED:
        return []
    halvings.append(_Halving("art5.7", level, level_of(Fraction(income), full, scale.times)))
    title = f"Illegal income of ¥{rules.illegal_income_cny:,.0f} or more (违法所得数额标准)"
    figures = (("illegal_income_cny", income), *_threshold_figures(full, threshold, scale, cny))
    return [ClauseMet("art5.7", _titled(title, level, scale), figures, level)]


def _insider_clause(scale: _Scale, halvings: list[_Halving]) -> list[ClauseMet]:
    """Item 8, reported next to the clauses of items 3-7 whose halved figures were met."""
    if not scale.insider or not halvings:
        return []
    decisive = [h.clause for h in halvings if h.level != h.level_without_halving]
    return [
        ClauseMet(
            "art5.8",
            "Insider: data obtained while performing duties or providing services were sold or provided; "
            "half the figures of items 3-7 suffice (将在履行职责或者提供服务过程中获得的"
            "公民个人信息出售或者提供给他人，数量或者数额达到第三项至第七项规定标准一半以上)",
            (
                ("insider_factor", scale.factor),
                ("applies_to", ", ".join(h.clause for h in halvings)),
                ("decisive_for", ", ".join(decisive) or "none"),
            ),
            highest(h.level for h in halvings),
        )
    ]


def _flag_clauses_9_10(facts: CaseFacts) -> list[ClauseMet]:
    clauses = []
    if facts.prior_criminal_penalty or facts.administrative_penalty_within_2_years:
        # The case at hand is the "again" (又非法获取、出售或者提供) of item 9.
        clauses.append(
            flag_clause(
                "art5.9",
                "Criminally punished before for infringing personal information, or administratively "
                "punished for it within two years, and doing it again (曾因侵犯公民个人信息受过刑事处罚或者"
                "二年内受过行政处罚，又非法获取、出售或者提供公民个人信息)",
                prior_criminal_penalty=facts.prior_criminal_penalty,
                administrative_penalty_within_2_years=facts.administrative_penalty_within_2_years,
            )
        )
    if facts.other_serious_circumstances:
        clauses.append(
            flag_clause(
                "art5.10",
                "Other serious circumstances, as judged by the case handler (其他情节严重的情形)",
                other_serious_circumstances=True,
            )
        )
    return clauses


def _harm_clauses(facts: CaseFacts) -> list[ClauseMet]:
    """Para. 2 items 1 and 2: consequences that make a case 情节特别严重 whatever the counts."""
    clauses = []
    for clause, harms, title in (
        (
            "art5.p2.1",
            _HARM_TO_VICTIM,
            "A victim died, was seriously injured, became mentally disordered or was kidnapped "
            "(造成被害人死亡、重伤、精神失常或者被绑架等严重后果)",
        ),
        (
            "art5.p2.2",
            _HARM_TO_SOCIETY,
            "Major economic loss or bad social impact (造成重大经济损失或者恶劣社会影响)",
        ),
    ):
        found = ", ".join(h.value for h in harms if h in facts.severe_harms)
        if found:
            clauses.append(ClauseMet(clause, title, (("severe_harms", found),), Level.ESPECIALLY_SERIOUS))
    return clauses


def _proportional_level(total: Fraction, largest: Fraction, times: Fraction) -> Level:
    if total >= times and largest < times:
        return Level.ESPECIALLY_SERIOUS
    if total >= 1 and largest < 1:
        return Level.SERIOUS
    return Level.NOT_REACHED


def _titled(title: str, level: Level, scale: _Scale) -> str:
    if scale.insider:
        title += ", or half of that for an insider (Art. 5 item 8)"
    if level is Level.ESPECIALLY_SERIOUS:
        title += "; reached ten times over (数量或者数额达到前款标准十倍以上, Art. 5 para. 2 item 3)"
    return title


def _threshold_figures(
    full: Fraction, applied: Fraction, scale: _Scale, show: Callable[[Fraction], Figure]
) -> tuple[tuple[str, Figure], ...]:
    figures: tuple[tuple[str, Figure], ...] = (("threshold", show(applied)),)
    if scale.insider:
        figures += (("threshold_without_halving", show(full)),)
    return (*figures, ("especially_serious_threshold", show(applied * scale.times)))
