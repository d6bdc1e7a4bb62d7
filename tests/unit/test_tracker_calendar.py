"""Working days on the official calendar: holidays, adjusted working weekends, unknown years."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from broker.tracker.calendar import (
    BEIJING,
    LATEST,
    HolidayFileError,
    OfficialDay,
    Source,
    Unit,
    WorkCalendar,
    parse_holiday_file,
    read_holiday_file,
)
from broker.tracker.statutory import StatutoryDays, days_off, festivals, qingming


def cst(*args: int) -> datetime:
    return datetime(*args, tzinfo=BEIJING)  # type: ignore[misc]


# 2024 National Day: 10-01..10-07 off; Sunday 09-29 and Saturday 10-12 are adjusted working days.


def test_national_day_2024_holidays_and_adjusted_working_weekends() -> None:
    cal = WorkCalendar()
    assert cal.is_workday(date(2024, 9, 29))  # Sunday, worked
    assert not cal.is_workday(date(2024, 9, 28))  # Saturday, off
    assert not any(cal.is_workday(date(2024, 10, d)) for d in range(1, 8))
    assert cal.is_workday(date(2024, 10, 12))  # Saturday, worked
    assert cal.source_of(2024) is Source.PACKAGE


def test_working_days_cross_national_day_and_count_the_adjusted_sunday() -> None:
    cal = WorkCalendar()
    # Friday afternoon; the start day is not counted: 09-29 (Sunday, worked) is day 1, 09-30 day 2,
    # then the holiday, and 10-08 is day 3. The period ends at midnight after it, Beijing time.
    assert cal.deadline(cst(2024, 9, 27, 15), 3, Unit.WORKING_DAYS) == cst(2024, 10, 9)


def test_fifteen_working_days_across_national_day_and_its_two_adjusted_weekends() -> None:
    cal = WorkCalendar()
    # 09-23..27 (5), 09-29 (6), 09-30 (7), 10-08..11 (11), 10-12 Saturday (12), 10-14..16 (15)
    assert cal.deadline(cst(2024, 9, 20, 10), 15, Unit.WORKING_DAYS) == cst(2024, 10, 17)


def test_a_period_starting_on_a_holiday_counts_from_the_next_working_day() -> None:
    cal = WorkCalendar()
    assert cal.deadline(cst(2024, 10, 3, 9), 1, Unit.WORKING_DAYS) == cst(2024, 10, 9)


def test_calendar_days_roll_over_a_holiday_to_the_next_working_day() -> None:
    cal = WorkCalendar()
    start = cst(2024, 9, 28, 9)  # 3 days later is 10-01, a public holiday
    assert cal.deadline(start, 3, Unit.CALENDAR_DAYS) == cst(2024, 10, 2)
    assert cal.deadline(start, 3, Unit.CALENDAR_DAYS, roll_to_working_day=True) == cst(2024, 10, 9)


def test_a_time_late_in_the_evening_utc_is_already_the_next_day_in_beijing() -> None:
    cal = WorkCalendar()
    friday_late_utc = datetime.fromisoformat("2024-09-26T17:30:00+00:00")  # Friday 01:30 in Beijing
    assert cal.deadline(friday_late_utc, 1, Unit.WORKING_DAYS) == cst(2024, 9, 30)


def test_a_year_the_package_does_not_know_falls_back_to_the_statutory_holidays_and_warns_once() -> None:
    cal = WorkCalendar()
    with capture_logs() as logs:
        assert not cal.is_workday(date(2027, 1, 1))  # a Friday: New Year's Day is statutory
        assert not cal.is_workday(date(2027, 1, 2))
        assert cal.is_workday(date(2027, 1, 4))
        due = cal.deadline(cst(2026, 12, 30, 10), 15, Unit.WORKING_DAYS)
        cal.deadline(cst(2027, 3, 1), 40, Unit.WORKING_DAYS)
        cal.is_workday(date(2028, 5, 1))
    warnings = [e for e in logs if e["event"] == "calendar_year_unknown"]
    assert [w["year"] for w in warnings] == [2027, 2028]
    assert all(w["log_level"] == "warning" for w in warnings)
    # 12-31 (1), 01-01 off, 01-04 .. 01-08 (6), 01-11 .. 01-15 (11), 01-18 .. 01-21 is the 15th
    assert due == cst(2027, 1, 22)
    assert cal.source_of(2027) is Source.FALLBACK


def test_fifteen_working_days_from_2026_12_20_come_due_2027_01_11_provisionally() -> None:
    cal = WorkCalendar()
    start = cst(2026, 12, 20, 10)  # a Sunday, in the package's last year
    due = cal.deadline(start, 15, Unit.WORKING_DAYS)
    # 12-21 .. 12-25 (5), 12-28 .. 12-31 (9), 01-01 New Year's Day, 01-04 .. 01-08 (14), 01-11 (15);
    # Monday to Friday alone would have made it 01-08, a day early
    assert due == cst(2027, 1, 12)
    assert cal.provisional(start, due, Unit.WORKING_DAYS)


def test_statutory_holidays_of_2027_from_the_lunar_calendar() -> None:
    cal = WorkCalendar()
    off = {
        # New Year; Spring Festival: eve 02-05 (Friday) and 正月初一..初三 (02-06..08), the weekend two
        # made up on 02-09 and 02-10; Qingming 04-05; Labour Day 05-01/02 (a weekend: 05-03, 05-04);
        # Dragon Boat 06-09; Mid-Autumn 09-15; National Day 10-01..03 (two on a weekend: 10-04, 10-05)
        date(2027, 1, 1),
        *(date(2027, 2, d) for d in range(5, 11)),
        date(2027, 4, 5),
        *(date(2027, 5, d) for d in range(1, 5)),
        date(2027, 6, 9),
        date(2027, 9, 15),
        *(date(2027, 10, d) for d in range(1, 6)),
    }
    year = [date(2027, 1, 1) + timedelta(days=i) for i in range(365)]
    assert {d for d in year if not cal.is_workday(d) and d.weekday() < 5} == {
        d for d in off if d.weekday() < 5
    }
    assert not cal.is_workday(date(2027, 2, 7))  # 正月初二, a Sunday: a holiday, never a working day
    assert cal.is_workday(date(2027, 2, 11)) and cal.is_workday(date(2027, 10, 6))


def test_the_statutory_counts_are_configurable() -> None:
    before_2025 = StatutoryDays(spring_festival=3, spring_festival_from_eve=False, labour_day=1)
    off = days_off(2027, before_2025)
    assert date(2027, 2, 5) not in off and date(2027, 2, 6) in off  # no eve
    assert date(2027, 5, 1) in off and date(2027, 5, 2) not in off
    assert date(2027, 5, 3) in off and date(2027, 5, 4) not in off  # one weekend day made up
    plain = days_off(2027, StatutoryDays(make_up_weekends=False))
    assert date(2027, 2, 9) not in plain and date(2027, 2, 8) in plain
    assert WorkCalendar(statutory=before_2025).is_workday(date(2027, 2, 5))


def test_lunar_festivals_and_qingming_from_the_library() -> None:
    assert qingming(2027) == date(2027, 4, 5) and qingming(2028) == date(2028, 4, 4)
    named = dict(festivals(2028))
    assert named["Spring Festival"][:2] == [date(2028, 1, 25), date(2028, 1, 26)]  # eve, 正月初一
    assert named["Dragon Boat Festival"] == [date(2028, 5, 28)]
    assert named["Mid-Autumn Festival"] == [date(2028, 10, 3)]  # with National Day: one day off
    assert days_off(2028)[date(2028, 10, 3)] == "National Day"
    assert days_off(2024) == {}  # the package knows it; earlier rules are not replayed


def test_which_due_times_are_provisional() -> None:
    cal = WorkCalendar()
    known = cst(2026, 3, 2, 10)
    assert not cal.provisional(known, cal.deadline(known, 15, Unit.WORKING_DAYS), Unit.WORKING_DAYS)
    late = cst(2026, 12, 28, 10)
    in_2027 = cal.deadline(late, 4, Unit.CALENDAR_DAYS)  # the last day is 01-01
    assert not cal.provisional(late, in_2027, Unit.CALENDAR_DAYS)  # plain calendar days: no calendar
    rolled = cal.deadline(late, 4, Unit.CALENDAR_DAYS, roll_to_working_day=True)
    assert rolled == cst(2027, 1, 5)  # 01-01 is New Year's Day, then a weekend: 01-04 is the last day
    assert cal.provisional(late, rolled, Unit.CALENDAR_DAYS, roll_to_working_day=True)
    assert not cal.provisional(late, late + timedelta(hours=200), Unit.HOURS)
    # a period that ends on the last day of 2026 does not rest on 2027
    assert not cal.provisional(cst(2026, 12, 29, 10), cst(2027, 1, 1), Unit.WORKING_DAYS)
    cal.load([OfficialDay(date(2027, 1, 1), False, "New Year's Day")], [2027])
    due = cal.deadline(late, 15, Unit.WORKING_DAYS)
    assert not cal.provisional(late, due, Unit.WORKING_DAYS)


def test_no_date_makes_it_raise() -> None:
    cal = WorkCalendar()
    assert cal.deadline(datetime(9999, 12, 20, tzinfo=BEIJING), 15, Unit.WORKING_DAYS) == LATEST
    assert cal.deadline(datetime(9999, 12, 30, tzinfo=BEIJING), 5, Unit.CALENDAR_DAYS, True) == LATEST
    assert cal.is_workday(date(1, 1, 1)) is True  # a Monday, long before the package's first year
    assert cal.deadline(cst(1999, 10, 1), 1, Unit.WORKING_DAYS) == cst(1999, 10, 5)


HOLIDAYS_2027 = """\
# Example notice for 2027 (test data, not the State Council's)
date,kind,name
2027-01-01,holiday,New Year's Day
2027-02-06,holiday,Spring Festival
2027-02-08,holiday,Spring Festival
2027-02-09,holiday,Spring Festival
2027-02-10,holiday,Spring Festival
2027-02-11,holiday,Spring Festival
2027-02-12,holiday,Spring Festival
2027-02-20,workday,Spring Festival (adjusted working day)
"""


def test_a_loaded_year_is_used_and_stops_the_fallback(tmp_path: Path) -> None:
    path = tmp_path / "2027.csv"
    path.write_text(HOLIDAYS_2027, encoding="utf-8")
    days, years = read_holiday_file(path)
    assert years == [2027] and len(days) == 8
    cal = WorkCalendar()
    cal.load(days, years)
    with capture_logs() as logs:
        assert not cal.is_workday(date(2027, 1, 1))
        assert not cal.is_workday(date(2027, 2, 8))  # a Monday off
        assert cal.is_workday(date(2027, 2, 20))  # a Saturday worked
        assert cal.is_workday(date(2027, 3, 1))  # an ordinary Monday
        # Friday 02-05: the next working days are 02-15 .. 02-19 (5), then Saturday 02-20 (6)
        assert cal.deadline(cst(2027, 2, 5, 10), 6, Unit.WORKING_DAYS) == cst(2027, 2, 21)
    assert not [e for e in logs if e["event"] == "calendar_year_unknown"]
    assert cal.source_of(2027) is Source.LOADED


def test_a_loaded_year_replaces_the_package_for_that_year() -> None:
    cal = WorkCalendar([OfficialDay(date(2024, 10, 8), False, "extra day off")], [2024])
    assert not cal.is_workday(date(2024, 10, 8))
    assert cal.is_workday(date(2024, 10, 1))  # a Tuesday: the loaded year lists no National Day
    cal.load([])
    assert not cal.is_workday(date(2024, 10, 1))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2027-01-01,holidays\n", "line 1: kind is 'holiday' or 'workday'"),
        ("date,kind\n2027-13-01,holiday\n", "line 2: '2027-13-01' is not a date"),
        ("2027-01-01,holiday\n2027-01-01,workday\n", "line 2: 2027-01-01 is listed twice"),
        ("2027-01-01\n", "line 1: write date,kind[,name]"),
        ("# nothing\n", "no dates"),
    ],
)
def test_a_bad_holiday_file_is_refused_with_its_line(text: str, message: str) -> None:
    with pytest.raises(HolidayFileError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_holiday_file(text)


def test_a_holiday_file_may_cover_two_years() -> None:
    days, years = parse_holiday_file("2027-12-31,holiday\n2028-01-01,holiday,New Year\n")
    assert years == [2027, 2028]
    assert days[1] == OfficialDay(date(2028, 1, 1), False, "New Year")
