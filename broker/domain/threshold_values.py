"""The values an assessment under 法释〔2017〕10号 is made of (threshold.py makes them): the level,
each clause met or missed with its figures, and how they read in a referral and in JSON.

Figures are exact: counts are whole numbers, yuan are ``Decimal`` to the fen, ratios ``Fraction``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Any, Final, TypeAlias

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
            "figures": {name: figure_json(value) for name, value in self.figures},
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
            "value": figure_json(self.value),
            "threshold": figure_json(self.threshold),
            "especially_serious_threshold": figure_json(self.especially_serious_threshold),
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
            lines.append(f"  - {clause_name(met.clause)} [{met.clause}], {met.level.label}: {met.title}")
            lines.append("      " + "; ".join(f"{figure_label(n)}: {figure_text(v)}" for n, v in met.figures))
        if self.comparisons:
            lines.append("Figures compared (value vs threshold for 情节严重 / for 情节特别严重):")
            for c in self.comparisons:
                lines.append(
                    f"  - {clause_name(c.clause)} [{c.clause}] {c.measure}: {figure_text(c.value)} vs "
                    f"{figure_text(c.threshold)} / {figure_text(c.especially_serious_threshold)}"
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


def level_of(value: Fraction, threshold: Fraction, times: Fraction) -> Level:
    if value >= threshold * times:
        return Level.ESPECIALLY_SERIOUS
    if value >= threshold:
        return Level.SERIOUS
    return Level.NOT_REACHED


def highest(levels: Iterable[Level]) -> Level:
    return max(levels, key=lambda level: level.rank, default=Level.NOT_REACHED)


def flag_clause(clause: str, title: str, **flags: bool) -> ClauseMet:
    return ClauseMet(clause, title, tuple(flags.items()), Level.SERIOUS)


def count_of(value: Fraction) -> int | Fraction:
    return value.numerator if value.denominator == 1 else value


def cny(value: Fraction) -> Decimal:
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(Decimal("0.01"))


def clause_name(clause: str) -> str:
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


def figure_label(name: str) -> str:
    if name in _FIGURE_LABELS:
        return _FIGURE_LABELS[name]
    prefix, _, subject = name.partition("_")
    if prefix in ("records", "threshold", "share") and subject:
        return f"{prefix} ({subject})"  # records_credit, threshold_art5.3, share_art5.3
    return name.replace("_", " ")


def figure_text(value: Figure) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, Decimal):
        return f"¥{value:,.2f}"
    if isinstance(value, Fraction):
        if value.denominator == 1:
            return f"{value.numerator:,}"
        return f"{value.numerator}/{value.denominator} (about {cny(value)})"
    return value


def figure_json(value: Figure) -> bool | int | str:
    if isinstance(value, bool | int):
        return value
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, Fraction):
        return value.numerator if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
    return value
