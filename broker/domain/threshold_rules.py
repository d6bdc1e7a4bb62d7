"""The figures of 法释〔2017〕10号 as versioned data: ``broker/domain/data/thresholds/<version>.json``.

A new interpretation is a new file, not new code. The file is checked by a pydantic model (every
field present, typed and in range; each information category in exactly one record tier) before
its figures become a ``ThresholdRules``; a malformed file is a ``ThresholdRulesError`` naming the
field.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from functools import cache
from importlib import resources
from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from broker.domain.case import InformationCategory

DEFAULT_RULES_VERSION: Final = "2017-spc-spp-10"
"""The rules ``assess`` applies when it is given none."""

_VERSION_PATTERN: Final = re.compile(r"[a-z0-9][a-z0-9.-]*")


class ThresholdRulesError(ValueError):
    """A rules version that is not shipped, or whose data file is malformed."""


@dataclass(frozen=True)
class RecordTier:
    """One of Art. 5 items 3-5: a group of information categories sharing one record threshold."""

    clause: str
    title: str
    threshold: int
    categories: tuple[InformationCategory, ...]


@dataclass(frozen=True)
class ThresholdRules:
    """The figures of one version of the interpretation, loaded from its data file."""

    version: str
    citation: str
    citation_en: str
    effective_from: date
    record_tiers: tuple[RecordTier, ...]
    illegal_income_cny: Decimal
    insider_factor: Fraction
    """Art. 5 item 8: insiders reach items 3-7 with this share of the figures (1/2)."""
    especially_serious_factor: Fraction
    """Art. 5 para. 2 item 3: items 3-8 reached this many times over are 情节特别严重 (10)."""
    lawful_business_profit_cny: Decimal
    """Art. 6 para. 1 item 1: profit from using records bought or received for the party's own
    lawful business that makes it 情节严重 (¥50,000)."""

    def tier_of(self, category: InformationCategory) -> RecordTier:
        for tier in self.record_tiers:
            if category in tier.categories:
                return tier
        raise ThresholdRulesError(f"rules {self.version} give no threshold for category '{category}'")


Text = Annotated[str, Field(min_length=1)]
Number = Annotated[Decimal, Field(strict=True)] | Annotated[int, Field(strict=True)]


class _TierFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    clause: Text
    title: Text
    threshold: Annotated[int, Field(strict=True, gt=0)]
    categories: Annotated[list[InformationCategory], Field(min_length=1)]


class _RulesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Text
    citation: Text
    citation_en: Text
    effective_from: date
    record_tiers: Annotated[list[_TierFile], Field(min_length=1)]
    illegal_income_cny: Annotated[Number, Field(gt=0)]
    insider_factor: Annotated[Number, Field(gt=0, le=1)]
    especially_serious_factor: Annotated[Number, Field(gt=1)]
    lawful_business_profit_cny: Annotated[Number, Field(gt=0)]

    @model_validator(mode="after")
    def _one_tier_per_category(self) -> _RulesFile:
        listed = [category for tier in self.record_tiers for category in tier.categories]
        missing = [c.value for c in InformationCategory if c not in listed]
        doubled = sorted({c.value for c in listed if listed.count(c) > 1})
        if missing or doubled:
            raise ValueError(
                f"each information category needs exactly one tier (missing {missing}, twice {doubled})"
            )
        if len({tier.clause for tier in self.record_tiers}) != len(self.record_tiers):
            raise ValueError("two record tiers share a clause id")
        return self


def load_rules(version: str | None = None) -> ThresholdRules:
    """The shipped rules of ``version`` (default: ``DEFAULT_RULES_VERSION``)."""
    return _load_rules(DEFAULT_RULES_VERSION if version is None else version)


@cache
def _load_rules(version: str) -> ThresholdRules:
    if not _VERSION_PATTERN.fullmatch(version):
        raise ThresholdRulesError(f"'{version}' is not a rules version id")
    resource = resources.files("broker.domain") / "data" / "thresholds" / f"{version}.json"
    if not resource.is_file():
        raise ThresholdRulesError(f"no threshold rules shipped for version '{version}'")
    try:
        data = json.loads(resource.read_text(encoding="utf-8"), parse_float=Decimal)
    except ValueError as exc:
        raise ThresholdRulesError(f"threshold rules '{version}' are not valid JSON: {exc}") from None
    return parse_rules(version, data)


def parse_rules(version: str, data: object) -> ThresholdRules:
    """The rules in ``data`` (a rules file's JSON, floats as ``Decimal``), checked."""
    where = f"threshold rules '{version}'"
    try:
        doc = _RulesFile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "$"
        raise ThresholdRulesError(f"{where}: {field}: {first['msg']}") from None
    if doc.version != version:
        raise ThresholdRulesError(f"{where}: the file declares version {doc.version!r}")
    return ThresholdRules(
        version=version,
        citation=doc.citation,
        citation_en=doc.citation_en,
        effective_from=doc.effective_from,
        record_tiers=tuple(
            RecordTier(t.clause, t.title, t.threshold, tuple(t.categories)) for t in doc.record_tiers
        ),
        illegal_income_cny=Decimal(doc.illegal_income_cny),
        insider_factor=Fraction(doc.insider_factor),
        especially_serious_factor=Fraction(doc.especially_serious_factor),
        lawful_business_profit_cny=Decimal(doc.lawful_business_profit_cny),
    )
