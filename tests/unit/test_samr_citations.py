"""The SAMR administrative penalty procedure rules (市场监督管理行政处罚程序规定, 2018, revised 2021 and
2022) as the deadline rules cite them (issue 15): each citation says whether a stored legal text
confirmed its article, and every figure is configurable.

- Art. 18 (check a clue or a transferred case within 15 working days, 15 more with the head's
  approval): confirmed against a stored text of the article.
- Assisted investigation (15 working days; longer by telling the requester before expiry): the
  period and the notice are confirmed by a stored summary of the rules, the article number by none.
- Jurisdiction disputes and designation (7 working days to agree, designation within 7 working days;
  no re-transfer): no stored text of the articles was found.
- Administrative Penalty Law 2021 Art. 27 (a case the judicial organs pass back): confirmed."""

from __future__ import annotations

from broker.tracker.calendar import Unit
from broker.tracker.rules import ARTICLE_UNCONFIRMED, ARTICLES_UNCONFIRMED, SAMR_RULES, Policy

POLICY = Policy()


def test_the_clue_check_cites_art_18_as_confirmed() -> None:
    basis = POLICY.rule("filing_check").basis
    assert basis.startswith(SAMR_RULES) and "Art. 18 (confirmed" in basis
    assert "as we recall" not in basis
    assert "Art. 27, confirmed" in basis
    assert (POLICY.rule("filing_check").amount, POLICY.rule("filing_check").unit) == (15, Unit.WORKING_DAYS)


def test_the_assistance_period_says_no_stored_text_gave_its_article() -> None:
    rule = POLICY.rule("assistance_reply")
    assert rule.basis.startswith(SAMR_RULES) and ARTICLE_UNCONFIRMED in rule.basis
    assert "Art. 17" not in rule.basis  # a recollection we could not confirm is not cited as a number
    assert rule.extended_by_notice and (rule.amount, rule.unit) == (15, Unit.WORKING_DAYS)


def test_the_designation_period_says_its_articles_are_unconfirmed() -> None:
    basis = POLICY.rule("designation").basis
    assert basis.startswith(SAMR_RULES) and ARTICLES_UNCONFIRMED in basis and "as recalled" in basis


def test_every_samr_figure_is_configurable() -> None:
    changed = Policy.from_overrides(
        {
            "rules": {
                "assistance_reply": {"amount": 20},
                "designation": {"amount": 10},
                "filing_check": {"amount": 30, "unit": "calendar_days"},
            }
        }
    )
    assert changed.rule("assistance_reply").amount == 20
    assert changed.rule("designation").amount == 10
    assert (changed.rule("filing_check").amount, changed.rule("filing_check").unit) == (
        30,
        Unit.CALENDAR_DAYS,
    )
