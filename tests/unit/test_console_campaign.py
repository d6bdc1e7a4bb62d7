"""The campaign view's figures: each case counted once by its first routed facts, referrals and
coordination requests by kind, the report's shares as they are and its counts scaled."""

from __future__ import annotations

from typing import Any

import pytest

from broker.console import campaign
from broker.domain import campaign_figures as figures


def routed(case_id: str, kind: str = "case_notice", facts: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"event": "routed", "kind": kind, "case_id": case_id, "case": facts}


def facts(sector: str, *violations: str, provided: int = 0, held: int = 0) -> dict[str, Any]:
    records = [{"category": "other", "provided": provided, "held": held}]
    return {"sector": sector, "violations": list(violations), "records": records}


def test_each_case_counts_once_by_the_first_facts_routed() -> None:
    log = [
        routed("A", facts=facts("real_estate", "collecting_without_consent", provided=300, held=100)),
        routed("A", facts=facts("education", "collecting_without_consent", held=99_999)),  # later: ignored
        routed(
            "B", facts=facts("education", "collecting_without_consent", "leaking_selling_providing", held=600)
        ),
        routed("C"),  # no facts: not a case of the campaign's figures
        routed("A", kind="police_referral"),
        routed("B", kind="coordination_request"),
        {"event": "quarantined", "kind": "police_referral", "case_id": "D", "case": facts("decoration")},
    ]
    c = campaign.count(log)
    assert c.cases == 2 and c.records == 1000
    assert c.records_by_sector == {"real_estate": 400, "education": 600}
    assert c.cases_by_sector == {"real_estate": 1, "education": 1}
    assert c.records_by_violation == {"collecting_without_consent": 1000, "leaking_selling_providing": 600}
    assert (c.police_referrals, c.coordination_requests) == (1, 1)


def test_the_charts_put_the_report_beside_the_system() -> None:
    c = campaign.count([routed("A", facts=facts("real_estate", "collecting_without_consent", held=50))])
    by_sector, cases_by_sector, by_violation, counts = campaign.charts(c)
    real_estate = next(b for b in by_sector.bars if b.label == "real estate")
    assert real_estate.report == pytest.approx(100 * 1_532_000 / 3_692_000) and real_estate.system == 100.0
    assert sum(b.report for b in by_sector.bars) == pytest.approx(100.0)
    assert sum(b.report for b in cases_by_sector.bars) == pytest.approx(100.0)
    assert next(b for b in by_violation.bars if b.label == "collecting without consent").system == 100.0
    rows = {b.label: b for b in counts.bars}
    assert rows["police referrals"].report == figures.scaled(figures.POLICE_REFERRALS, 1) == 0
    assert (
        rows["records involved"].report == figures.scaled(figures.RECORDS, 1)
        and rows["records involved"].system == 50
    )
    assert (
        rows["administrative interviews"].system is None
        and rows["fines and confiscations (CNY)"].system is None
    )
    assert counts.scale(rows["records involved"]) == rows["records involved"].report  # each row its own scale
    assert by_sector.scale(real_estate) == 100.0  # shares on one scale


def test_no_cases_yet_draws_empty_bars_without_dividing_by_zero() -> None:
    charts = campaign.charts(campaign.count([]))
    assert all(b.system in (0.0, None) for chart in charts for b in chart.bars)
    assert all(chart.scale(b) > 0 for chart in charts for b in chart.bars)
