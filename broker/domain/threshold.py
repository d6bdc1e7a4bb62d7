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

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Any, Final, TypeAlias

from broker.domain.case import CaseFacts, InformationCategory, SevereHarm
from broker.domain.threshold_rules import RecordTier, ThresholdRules, load_rules

Figure: TypeAlias = bool | int | Decimal | Fraction | str
"""A number that met (or missed) a clause: ``int`` counts records, ``Decimal`` is yuan, ``Fraction``
is a ratio (the proportional sum, the insider factor)."""


class Level(StrEnum):
    """How serious the circumstances are under Art. 5 of 法释〔2017〕10号."""

    NOT_REACHED = "not_reached"
    SERIOUS = "serious"
    """情节严重 (Art. 5 para. 1): the crime is made out, the case goes to the police."""
    ESPECIALLY_SERIOUS = "especially_serious"
    """情节特别严重 (Art. 5 para. 2): the higher sentencing bracket."""

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def label(self) -> str:
        return _LABEL[self]


_RANK: Final = {Level.NOT_REACHED: 0, Level.SERIOUS: 1, Level.ESPECIALLY_SERIOUS: 2}
_LABEL: Final = {
    Level.NOT_REACHED: "not reached",
    Level.SERIOUS: "serious circumstances (情节严重)",
    Level.ESPECIALLY_SERIOUS: "especially serious circumstances (情节特别严重)",
}

# Art. 5 para. 2 items 1 and 2 name two kinds of consequence.
_HARM_TO_VICTIM: Final = (
    SevereHarm.DEATH,
    SevereHarm.SERIOUS_INJURY,
    SevereHarm.MENTAL_DISORDER,
    SevereHarm.KIDNAPPING,
)
_HARM_TO_SOCIETY: Final = (SevereHarm.MAJOR_ECONOMIC_LOSS, SevereHarm.BAD_SOCIAL_IMPACT)


# --------------------------------------------------------------------------------------------------
# Assessment (values)


@dataclass(frozen=True)
class ClauseMet:
    """One clause of Art. 5 that the facts meet, the numbers that met it and the level it supports.

    ``clause`` is ``art5.N`` for item N of para. 1 (情节严重) and ``art5.p2.N`` for item N of para. 2
    (情节特别严重). Items 3-7 reached ten times over (para. 2 item 3) stay under their own id with
    ``level`` ESPECIALLY_SERIOUS, so the numbers sit next to the clause they were counted for.
    """

    clause: str
    title: str
    figures: tuple[tuple[str, Figure], ...]
    level: Level

    def figure(self, name: str) -> Figure:
        for key, value in self.figures:
            if key == name:
                return value
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "clause": self.clause,
            "title": self.title,
            "level": self.level.value,
            "figures": {name: _figure_json(value) for name, value in self.figures},
        }


@dataclass(frozen=True)
class Comparison:
    """One quantitative test (items 3-7), met or not, with the thresholds actually applied."""

    clause: str
    measure: str
    value: Figure
    threshold: Figure
    especially_serious_threshold: Figure
    level: Level

    def to_dict(self) -> dict[str, Any]:
        return {
            "clause": self.clause,
            "measure": self.measure,
            "value": _figure_json(self.value),
            "threshold": _figure_json(self.threshold),
            "especially_serious_threshold": _figure_json(self.especially_serious_threshold),
            "level": self.level.value,
        }


@dataclass(frozen=True)
class Assessment:
    """Whether a case reaches the criminal threshold, and why: the explanation of a police referral."""

    reached: bool
    level: Level
    clauses: tuple[ClauseMet, ...]
    rules_version: str
    insider: bool = False
    comparisons: tuple[Comparison, ...] = ()
    rules_citation: str = ""
    article: str = "art5"
    """The article whose test was applied: ``art5``, or ``art6`` for records bought or received
    for the party's own lawful business and not passed on."""

    def __post_init__(self) -> None:
        if self.reached != (self.level is not Level.NOT_REACHED):
            raise ValueError(f"reached={self.reached} contradicts level '{self.level}'")

    @property
    def clause_ids(self) -> tuple[str, ...]:
        return tuple(c.clause for c in self.clauses)

    def clause(self, clause_id: str) -> ClauseMet | None:
        return next((c for c in self.clauses if c.clause == clause_id), None)

    def explain(self) -> str:
        """A plain-text account for a police officer: result, clauses, numbers, thresholds, halving."""
        name = "Art. 6" if self.article == "art6" else "Art. 5"
        verdict = (
            f"REACHED: {self.level.label}" if self.reached else f"NOT REACHED: no clause of {name} is met"
        )
        lines = [
            f"Criminal threshold (侵犯公民个人信息罪): {verdict}.",
            f"Rules: {self.rules_version}" + (f", {self.rules_citation}" if self.rules_citation else ""),
        ]
        if self.article == "art6":
            lines.append(
                "Art. 6 governs: records bought or received for the party's own lawful business, none of "
                "the categories of Art. 5 items 3-4, none sold or provided on (为合法经营活动而非法购买、"
                "收受). Only 情节严重 applies."
            )
        if self.insider:
            lines.append(
                "Insider halving (Art. 5 item 8): APPLIED. The data were obtained while performing duties "
                "or providing services, so half the figures of items 3-7 suffice for what was sold or "
                "provided; records only held count against the full figures."
            )
        else:
            lines.append(
                "Insider halving (Art. 5 item 8): not applied. The data were not obtained while performing "
                "duties or providing services; full thresholds apply."
            )
        lines.append("Clauses met:")
        if not self.clauses:
            lines.append(
                "  none. The case stays administrative unless other serious circumstances are found."
            )
        for met in self.clauses:
            lines.append(f"  - {_clause_name(met.clause)} [{met.clause}], {met.level.label}: {met.title}")
            lines.append(
                "      " + "; ".join(f"{_figure_label(n)}: {_figure_text(v)}" for n, v in met.figures)
            )
        if self.comparisons:
            lines.append("Figures compared (value vs threshold for 情节严重 / for 情节特别严重):")
            for c in self.comparisons:
                lines.append(
                    f"  - {_clause_name(c.clause)} [{c.clause}] {c.measure}: {_figure_text(c.value)} vs "
                    f"{_figure_text(c.threshold)} / {_figure_text(c.especially_serious_threshold)}"
                    f" -> {c.level.label}"
                )
        lines.append(
            "Counting (Art. 11): a record sold or provided to several recipients counts once per recipient; "
            "a record obtained and then sold or provided counts once; a seized batch counts as found "
            "unless there is evidence that records are untrue or repeated (Art. 11 para. 3)."
        )
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: yuan as decimal strings ("5000.00"), ratios as exact fractions ("49/50")."""
        return {
            "reached": self.reached,
            "level": self.level.value,
            "rules_version": self.rules_version,
            "rules_citation": self.rules_citation,
            "insider": self.insider,
            "article": self.article,
            "clauses": [c.to_dict() for c in self.clauses],
            "comparisons": [c.to_dict() for c in self.comparisons],
            "explanation": self.explain(),
        }


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
    if _art6_governs(facts, rules):
        return _assess_art6(facts, rules)
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
    level = _highest(c.level for c in clauses)
    return Assessment(
        reached=level is not Level.NOT_REACHED,
        level=level,
        clauses=tuple(clauses),
        rules_version=rules.version,
        insider=facts.insider,
        comparisons=tuple(comparisons),
        rules_citation=rules.citation,
    )


def _art6_governs(facts: CaseFacts, rules: ThresholdRules) -> bool:
    """Art. 6: bought or received for own lawful business, only records outside Art. 5 items 3-4, none
    sold or provided on (para. 2), and nothing else that presupposes providing them."""
    if not facts.own_lawful_business or facts.insider:
        return False  # an insider obtained them in service, not by buying or receiving
    general = rules.tier_of(InformationCategory.OTHER)
    return (
        all(r.provided == 0 for r in facts.records)
        and all(r.category in general.categories for r in facts.records if r.counted)
        and not facts.location_data_used_for_crime
        and not facts.supplied_to_known_criminal
    )


def _assess_art6(facts: CaseFacts, rules: ThresholdRules) -> Assessment:
    """Art. 6 para. 1: the only level is 情节严重; it has no ten-times bracket and no insider halving."""
    profit = facts.profit_from_use_cny
    threshold = rules.lawful_business_profit_cny
    level = Level.SERIOUS if profit >= threshold else Level.NOT_REACHED
    comparisons = (
        Comparison("art6.1", "profit from using the records", profit, threshold, "none under Art. 6", level),
    )
    clauses: list[ClauseMet] = []
    if level is Level.SERIOUS:
        clauses.append(
            ClauseMet(
                "art6.1",
                f"Profit of ¥{threshold:,.0f} or more from using records bought or received for the party's "
                "own lawful business (利用非法购买、收受的公民个人信息获利五万元以上)",
                (("profit_from_use_cny", profit), ("threshold", threshold)),
                Level.SERIOUS,
            )
        )
    if facts.prior_criminal_penalty or facts.administrative_penalty_within_2_years:
        clauses.append(
            _flag_clause(
                "art6.2",
                "Criminally punished before for infringing personal information, or administratively "
                "punished for it within two years, and buying or receiving again (曾因侵犯公民个人信息受过"
                "刑事处罚或者二年内受过行政处罚，又非法购买、收受公民个人信息)",
                prior_criminal_penalty=facts.prior_criminal_penalty,
                administrative_penalty_within_2_years=facts.administrative_penalty_within_2_years,
            )
        )
    if facts.other_serious_circumstances:
        clauses.append(
            _flag_clause(
                "art6.3",
                "Other serious circumstances, as judged by the case handler (其他情节严重的情形)",
                other_serious_circumstances=True,
            )
        )
    reached = _highest(c.level for c in clauses)
    return Assessment(
        reached=reached is not Level.NOT_REACHED,
        level=reached,
        clauses=tuple(clauses),
        rules_version=rules.version,
        comparisons=comparisons,
        rules_citation=rules.citation,
        article="art6",
    )


def _flag_clauses_1_2(facts: CaseFacts) -> list[ClauseMet]:
    clauses = []
    if facts.location_data_used_for_crime:
        clauses.append(
            _flag_clause(
                "art5.1",
                "Location-track data sold or provided were then used by someone for a crime "
                "(出售或者提供行踪轨迹信息，被他人用于犯罪)",
                location_data_used_for_crime=True,
            )
        )
    if facts.supplied_to_known_criminal:
        clauses.append(
            _flag_clause(
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
        level = _level(weighted, threshold, scale.times)
        shares.append(_Share(tier, counted, weighted, threshold))
        comparisons.append(
            Comparison(
                tier.clause,
                f"records of {tier.title}"
                + (", held records weighed at the insider factor" if scale.insider and held else ""),
                _count(weighted),
                _count(threshold),
                _count(threshold * scale.times),
                level,
            )
        )
        if level is Level.NOT_REACHED:
            continue
        full = Fraction(tier.threshold)
        halvings.append(_Halving(tier.clause, level, _level(Fraction(counted), full, scale.times)))
        clauses.append(
            ClauseMet(
                tier.clause,
                _titled(f"At least {tier.threshold:,} records of {tier.title}", level, scale),
                (
                    ("records_counted", counted),
                    *(
                        (("records_held", held), ("records_weighted", _count(weighted)))
                        if scale.insider and held
                        else ()
                    ),
                    *((f"records_{c.value}", n) for c, n in by_category if n),
                    *_threshold_figures(full, threshold, scale, _count),
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
    comparisons.append(Comparison("art5.6", measure, total, 1, _count(scale.times), level))
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
            (f"records_{s.tier.clause}", _count(s.weighted)),
            (f"threshold_{s.tier.clause}", _count(s.threshold)),
            (f"share_{s.tier.clause}", s.share),
        ]
    figures += [
        ("proportional_sum", total),
        ("required_sum", 1 if level is Level.SERIOUS else _count(scale.times)),
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
    level = _level(Fraction(income), threshold, scale.times)
    comparisons.append(
        Comparison("art5.7", "illegal income", income, _cny(threshold), _cny(threshold * scale.times), level)
    )
    if level is Level.NOT_REACHED:
        return []
    halvings.append(_Halving("art5.7", level, _level(Fraction(income), full, scale.times)))
    title = f"Illegal income of ¥{rules.illegal_income_cny:,.0f} or more (违法所得数额标准)"
    figures = (("illegal_income_cny", income), *_threshold_figures(full, threshold, scale, _cny))
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
            _highest(h.level for h in halvings),
        )
    ]


def _flag_clauses_9_10(facts: CaseFacts) -> list[ClauseMet]:
    clauses = []
    if facts.prior_criminal_penalty or facts.administrative_penalty_within_2_years:
        # The case at hand is the "again" (又非法获取、出售或者提供) of item 9.
        clauses.append(
            _flag_clause(
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
            _flag_clause(
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


def _level(value: Fraction, threshold: Fraction, times: Fraction) -> Level:
    if value >= threshold * times:
        return Level.ESPECIALLY_SERIOUS
    if value >= threshold:
        return Level.SERIOUS
    return Level.NOT_REACHED


def _highest(levels: Iterable[Level]) -> Level:
    return max(levels, key=lambda level: level.rank, default=Level.NOT_REACHED)


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


def _flag_clause(clause: str, title: str, **flags: bool) -> ClauseMet:
    return ClauseMet(clause, title, tuple(flags.items()), Level.SERIOUS)


def _count(value: Fraction) -> int | Fraction:
    return value.numerator if value.denominator == 1 else value


def _cny(value: Fraction) -> Decimal:
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(Decimal("0.01"))


def _clause_name(clause: str) -> str:
    parts = clause.removeprefix("art").split(".")
    if len(parts) == 3 and parts[1] == "p2":
        return f"Art. {parts[0]} para. 2 item {parts[2]}"
    if len(parts) == 2:
        return f"Art. {parts[0]} item {parts[1]}"
    return clause


_FIGURE_LABELS: Final = {
    "records_counted": "records counted",
    "records_held": "of which only held (not halved)",
    "records_weighted": "records weighed against the halved threshold",
    "profit_from_use_cny": "profit from using the records",
    "threshold": "threshold applied",
    "threshold_without_halving": "threshold without insider halving",
    "especially_serious_threshold": "ten-times threshold (情节特别严重)",
    "illegal_income_cny": "illegal income",
    "insider_factor": "insider factor",
    "applies_to": "halved figures met for",
    "decisive_for": "met only thanks to halving",
    "proportional_sum": "proportional sum",
    "required_sum": "sum required",
    "severe_harms": "severe harms",
}


def _figure_label(name: str) -> str:
    if name in _FIGURE_LABELS:
        return _FIGURE_LABELS[name]
    prefix, _, subject = name.partition("_")
    if prefix in ("records", "threshold", "share") and subject:
        return f"{prefix} ({subject})"  # records_credit, threshold_art5.3, share_art5.3
    return name.replace("_", " ")


def _figure_text(value: Figure) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, Decimal):
        return f"¥{value:,.2f}"
    if isinstance(value, Fraction):
        if value.denominator == 1:
            return f"{value.numerator:,}"
        return f"{value.numerator}/{value.denominator} (about {_cny(value)})"
    return value


def _figure_json(value: Figure) -> bool | int | str:
    if isinstance(value, bool | int):
        return value
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, Fraction):
        return value.numerator if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
    return value
