"""The demo's campaign plan against the 2019 report (no broker): sectors, violations, records,
fines, referrals, joint actions and interviews, over the campaign's window."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, timedelta

import pytest

from broker.domain import campaign_figures as figures
from broker.domain.case import Sector, Violation
from broker.domain.jurisdictions import default_registry
from broker.domain.threshold import assess
from broker.tools.demo.campaign import CasePlan, plan_campaign
from broker.tools.demo.cast import default_cast
from broker.tools.demo.defaults import DEFAULT_DAYS, DEFAULT_START, compression_for
from broker.tools.demo.fitting import choose, deal, fit, spread
from broker.tracker.calendar import BEIJING, WorkCalendar


def plan(cases: int) -> list[CasePlan]:
    cast = default_cast(default_registry())
    return plan_campaign(cases, cast, DEFAULT_START, DEFAULT_DAYS - 30, WorkCalendar(), 2019)


@pytest.fixture(scope="module")
def full() -> list[CasePlan]:
    return plan(figures.CASES)


def record_share(
    plans: list[CasePlan], sector: Sector | None = None, violation: Violation | None = None
) -> float:
    chosen = [p for p in plans if p.facts.sector is (sector or p.facts.sector)]
    chosen = [p for p in chosen if violation is None or p.violation is violation]
    return 100 * sum(p.records for p in chosen) / sum(p.records for p in plans)


def test_the_default_window_is_the_campaigns() -> None:
    assert DEFAULT_START.date() == figures.CAMPAIGN_FROM == date(2019, 4, 1)
    assert (DEFAULT_START + timedelta(days=DEFAULT_DAYS - 1)).date() == figures.CAMPAIGN_TO


def test_1474_cases_have_the_reports_case_counts(full: list[CasePlan]) -> None:
    sectors = Counter(p.facts.sector for p in full)
    assert (sectors[Sector.REAL_ESTATE], sectors[Sector.DECORATION], sectors[Sector.EDUCATION]) == (
        273,
        234,
        133,
    )
    assert Counter(p.violation for p in full)[Violation.COLLECTING_WITHOUT_CONSENT] == 710
    assert sum(p.over_threshold for p in full) == 154


def test_1474_cases_have_the_reports_records_by_sector_and_violation(full: list[CasePlan]) -> None:
    assert sum(p.records for p in full) == pytest.approx(3_692_000, rel=1e-4)
    assert record_share(full, Sector.REAL_ESTATE) == pytest.approx(41.5, abs=0.1)
    assert record_share(full, Sector.EDUCATION) == pytest.approx(34.2, abs=0.1)
    assert record_share(full, Sector.DECORATION) == pytest.approx(9.3, abs=0.1)
    assert record_share(full, violation=Violation.COLLECTING_WITHOUT_CONSENT) == pytest.approx(74.8, abs=0.1)


def test_1474_cases_have_the_reports_fines(full: list[CasePlan]) -> None:
    assert sum(p.fine_cny for p in full) == 19_464_000
    by_sector = Counter[Sector]()
    for p in full:
        by_sector[p.facts.sector] += p.fine_cny
    assert by_sector[Sector.REAL_ESTATE] == pytest.approx(4_282_000, rel=1e-3)
    assert by_sector[Sector.EDUCATION] == pytest.approx(4_757_000, rel=1e-3)
    assert by_sector[Sector.DECORATION] == pytest.approx(1_767_000, rel=1e-3)
    collecting = sum(p.fine_cny for p in full if p.violation is Violation.COLLECTING_WITHOUT_CONSENT)
    assert collecting == pytest.approx(10_063_000, rel=1e-3)
    assert all(p.fine_cny > 0 for p in full)


def test_1474_cases_have_the_reports_joint_actions_and_interviews(full: list[CasePlan]) -> None:
    assert sum(p.joint_actions for p in full) == 4_225
    assert sum(p.interviews for p in full) == 3_536
    routed = sum(p.joint_actions for p in full if p.joint_with is not None)
    assert 0 < routed < 4_225  # only where the cast has a department office at the bureau's level


def test_every_case_is_on_its_side_of_the_threshold_and_opens_in_the_window(full: list[CasePlan]) -> None:
    calendar = WorkCalendar()
    for p in full:
        assert assess(p.facts).reached == p.over_threshold, p.case_id
        opens = p.opens_at.astimezone(BEIJING).date()
        assert figures.CAMPAIGN_FROM <= opens <= figures.CAMPAIGN_TO - timedelta(days=29)
        assert calendar.is_workday(opens)
    assert max(p.records for p in full) > 50 * min(p.records for p in full)  # heavy-tailed still


def test_a_smaller_replay_keeps_the_shares_and_scales_the_counts() -> None:
    plans = plan(300)
    assert record_share(plans, Sector.REAL_ESTATE) == pytest.approx(41.5, abs=2)
    assert record_share(plans, Sector.EDUCATION) == pytest.approx(34.2, abs=2)
    assert record_share(plans, Sector.DECORATION) == pytest.approx(9.3, abs=2)
    assert record_share(plans, violation=Violation.COLLECTING_WITHOUT_CONSENT) == pytest.approx(74.8, abs=1)
    assert sum(p.fine_cny for p in plans) == round(19_464_000 * 300 / 1_474)
    assert sum(p.joint_actions for p in plans) == round(4_225 * 300 / 1_474)
    assert sum(p.over_threshold for p in plans) == round(154 * 300 / 1_474)
    assert plan(300) == plans  # seeded


def test_deal_gives_exact_counts() -> None:
    labels = deal(random.Random(1), 10, {"a": 5.0, "b": 3.0, "c": 2.0})
    assert Counter(labels) == {"a": 5, "b": 3, "c": 2}
    assert Counter(deal(random.Random(1), 7, {"a": 1.0, "b": 1.0})) in ({"a": 4, "b": 3}, {"a": 3, "b": 4})


def test_fit_meets_two_margins_within_bounds() -> None:
    # unbounded, the first value would be 60 x 55 / 100 = 33; its bound of 25 moves the others
    values = fit(
        [1.0, 1.0, 1.0, 1.0],
        [(0, 25), (0, 100), (0, 100), (0, 100)],
        [(["x", "x", "y", "y"], {"x": 60.0, "y": 40.0}), (["p", "q", "p", "q"], {"p": 55.0, "q": 45.0})],
    )
    assert values == pytest.approx([25, 35, 30, 10], abs=1e-3)


def test_choose_and_spread_are_exact() -> None:
    rng = random.Random(3)
    assert sum(choose(rng, 5, [1.0] * 20)) == 5
    assert choose(rng, 1, [0.0, 1.0, 0.0]) == [False, True, False]
    counts = spread(rng, 100, [1.0, 0.0, 3.0])
    assert sum(counts) == 100 and counts[1] == 0 and counts[2] > counts[0]


def test_more_cases_run_on_a_slower_clock_so_the_broker_keeps_up() -> None:
    assert compression_for(40) == compression_for(300) == 120_000
    assert compression_for(1_474) == pytest.approx(120_000 * 300 / 1_474)
