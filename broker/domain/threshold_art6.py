"""Art. 6 of 法释〔2017〕10号: records bought or received for the party's own lawful business.

Art. 6 governs instead of Art. 5 when records were bought or received for the party's own lawful
business (为合法经营活动而非法购买、收受), are all outside the sensitive categories of Art. 5 items 3
and 4, and none was sold or provided on (Art. 6 para. 2 sends that back to Art. 5). Under Art. 6 only
"情节严重" exists: a profit of ¥50,000 from using them, a repeat after a penalty, or other serious
circumstances.
"""

from __future__ import annotations

from broker.domain.case import CaseFacts, InformationCategory
from broker.domain.threshold_rules import ThresholdRules
from broker.domain.threshold_values import Assessment, ClauseMet, Comparison, Level, flag_clause, highest


def art6_governs(facts: CaseFacts, rules: ThresholdRules) -> bool:
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


def assess_art6(facts: CaseFacts, rules: ThresholdRules) -> Assessment:
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
            flag_clause(
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
            flag_clause(
                "art6.3",
                "Other serious circumstances, as judged by the case handler (其他情节严重的情形)",
                other_serious_circumstances=True,
            )
        )
    reached = highest(c.level for c in clauses)
    return Assessment(
        reached=reached is not Level.NOT_REACHED,
        level=reached,
        clauses=tuple(clauses),
        rules_version=rules.version,
        comparisons=comparisons,
        rules_citation=rules.citation,
        article="art6",
    )
