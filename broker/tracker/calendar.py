"""Working days on China's official calendar, and when a period that starts at a moment ends.

Days follow the State Council's yearly holiday notice as the `chinese-calendar` package carries it:
public holidays are not working days, adjusted working weekends (调休上班) are. For a year the package
does not know (1.11.0 knows 2004-2026) and no operator loaded, the calendar warns once per year and
counts Monday to Friday less the holidays the law itself fixes (statutory.py: New Year's Day, Spring
Festival, Qingming, Labour Day, Dragon Boat, Mid-Autumn, National Day, and make-up days for those on
a weekend). Such a year's due times are provisional (``provisional``): the notice adds bridging days
and adjusted working weekends nobody can foresee. An operator loads the notice with
`referral-broker holidays load FILE` (format below); a loaded year replaces the package's data and
the fallback for that year. No date makes it raise.

Periods follow the usual rule of Chinese procedure law: the day a period starts on is not counted
(期间开始之日不计算在期间内), and a period ends at the end of its last day, Beijing time.

Holiday file (CSV, UTF-8): one date a line, ``date,kind[,name]`` with ``kind`` ``holiday`` or
``workday``; a ``date,kind,name`` header line and ``#`` comments are allowed. A file must list every
holiday and every adjusted working day of each year it names (a day not listed is a working day from
Monday to Friday and a rest day at the weekend); loading it replaces those years. For example (an
illustration, not the 2027 notice, which is not published yet)::

    date,kind,name
    2027-01-01,holiday,New Year's Day
    2027-02-05,holiday,Spring Festival (eve)
    2027-02-06,holiday,Spring Festival
    2027-02-07,holiday,Spring Festival
    2027-02-08,holiday,Spring Festival
    2027-02-20,workday,Spring Festival (adjusted working day)
"""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from enum import StrEnum
from pathlib import Path

import chinese_calendar
import structlog

from broker.tracker.statutory import StatutoryDays, days_off

log = structlog.get_logger("referral_broker.tracker.calendar")

BEIJING = timezone(timedelta(hours=8), "CST")
"""China Standard Time; no daylight saving since 1991, so a fixed offset is exact."""

LATEST = datetime(9999, 12, 30, tzinfo=UTC)
"""What a deadline beyond the representable range becomes, instead of an error."""


class Unit(StrEnum):
    WORKING_DAYS = "working_days"
    CALENDAR_DAYS = "calendar_days"
    HOURS = "hours"
    """Counted from the moment itself, whatever the day."""


class Source(StrEnum):
    """Where the calendar takes a year's working days from."""

    LOADED = "loaded"
    """An operator loaded the year's holiday notice (it wins over the package)."""
    PACKAGE = "chinese-calendar"
    FALLBACK = "statutory"
    """Nobody knows the year yet: Monday to Friday less the statutory holidays, with a warning once per
    year; due times counted on it are provisional."""


class HolidayFileError(ValueError):
    pass


@dataclass(frozen=True)
class OfficialDay:
    day: date
    working: bool
    name: str = ""


class WorkCalendar:
    """Thread-safe; keep one per process so that each unknown year is warned about once."""

    def __init__(
        self,
        loaded: Iterable[OfficialDay] = (),
        loaded_years: Iterable[int] = (),
        statutory: StatutoryDays | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._warned: set[int] = set()
        self._loaded: dict[int, dict[date, bool]] = {}
        self._cache: dict[date, bool] = {}
        self._statutory = statutory or StatutoryDays()
        self._statutory_years: dict[int, frozenset[date]] = {}
        self.load(loaded, loaded_years)

    def load(self, days: Iterable[OfficialDay], years: Iterable[int] = ()) -> None:
        """Replace the operator-loaded years with these (a year may have no special day at all)."""
        loaded: dict[int, dict[date, bool]] = {year: {} for year in years}
        for d in days:
            loaded.setdefault(d.day.year, {})[d.day] = d.working
        with self._lock:
            self._loaded = loaded
            self._cache = {}

    @property
    def loaded_years(self) -> frozenset[int]:
        return frozenset(self._loaded)

    def source_of(self, year: int) -> Source:
        if year in self._loaded:
            return Source.LOADED
        try:
            chinese_calendar.is_workday(date(year, 6, 1))
        except (NotImplementedError, ValueError, KeyError, OverflowError):
            return Source.FALLBACK
        return Source.PACKAGE

    def is_workday(self, day: date) -> bool:
        cached = self._cache.get(day)
        if cached is not None:
            return cached
        working = self._lookup(day)
        with self._lock:
            self._cache[day] = working
        return working

    def _lookup(self, day: date) -> bool:
        year = self._loaded.get(day.year)
        if year is not None:
            return year.get(day, day.weekday() < 5)
        try:
            return bool(chinese_calendar.is_workday(day))
        except (NotImplementedError, ValueError, KeyError, OverflowError):
            self._warn_once(day.year)
            return day.weekday() < 5 and day not in self._statutory_days_off(day.year)

    def _statutory_days_off(self, year: int) -> frozenset[date]:
        off = self._statutory_years.get(year)
        if off is None:
            off = frozenset(days_off(year, self._statutory))
            with self._lock:
                self._statutory_years[year] = off
        return off

    def provisional(
        self, start: datetime, due: datetime, unit: Unit, roll_to_working_day: bool = False
    ) -> bool:
        """Whether a due time computed by ``deadline`` rests on a year nobody loaded or packaged (the
        statutory fallback), so that the year's notice may still move it."""
        if unit is Unit.HOURS or (unit is Unit.CALENDAR_DAYS and not roll_to_working_day):
            return False
        if due >= LATEST:
            return True
        try:
            first = start.astimezone(BEIJING).date() + timedelta(days=1)
        except OverflowError:
            return True
        last = (due.astimezone(BEIJING) - timedelta(microseconds=1)).date()
        return any(self.source_of(y) is Source.FALLBACK for y in range(first.year, last.year + 1))

    def _warn_once(self, year: int) -> None:
        with self._lock:
            if year in self._warned:
                return
            self._warned.add(year)
        log.warning(
            "calendar_year_unknown",
            year=year,
            fallback="monday to friday less the statutory holidays; due times provisional",
            hint=f"load the State Council's {year} holiday notice: referral-broker holidays load FILE",
        )

    def deadline(
        self, start: datetime, amount: int, unit: Unit, roll_to_working_day: bool = False
    ) -> datetime:
        """The end of a period of ``amount`` days that starts at ``start``.

        Hours: that many hours later. Working days: the end of the amount-th working day after the
        start day. Calendar days: the end
        of the amount-th day after it; with roll_to_working_day, a last day that is not a working day
        moves to the next working day (期间届满的最后一日是节假日的，以节假日后的第一日为届满日期).
        """
        try:
            if unit is Unit.HOURS:
                return (start + timedelta(hours=amount)).astimezone(UTC)
            day = start.astimezone(BEIJING).date()
            if unit is Unit.WORKING_DAYS:
                counted = 0
                while counted < amount:
                    day += timedelta(days=1)
                    if self.is_workday(day):
                        counted += 1
            else:
                day += timedelta(days=amount)
                if roll_to_working_day:
                    while not self.is_workday(day):
                        day += timedelta(days=1)
            end = datetime.combine(day + timedelta(days=1), time(0), BEIJING)
            return end.astimezone(UTC)
        except (OverflowError, ValueError):
            return LATEST


def parse_holiday_file(text: str, where: str = "holiday file") -> tuple[list[OfficialDay], list[int]]:
    """Read a holiday file (format in the module docstring). Returns the days and the years named."""
    days: dict[date, OfficialDay] = {}
    rows = csv.reader(io.StringIO(text))
    for number, row in enumerate(rows, start=1):
        cells = [c.strip() for c in row]
        if not cells or not cells[0] or cells[0].startswith("#"):
            continue
        if not days and cells[0].lower() == "date":
            continue  # the header
        if len(cells) < 2:
            raise HolidayFileError(f"{where}, line {number}: write date,kind[,name]")
        try:
            day = date.fromisoformat(cells[0])
        except ValueError:
            raise HolidayFileError(
                f"{where}, line {number}: {cells[0]!r} is not a date (YYYY-MM-DD)"
            ) from None
        kind = cells[1].lower()
        if kind not in ("holiday", "workday"):
            raise HolidayFileError(
                f"{where}, line {number}: kind is 'holiday' or 'workday', not {cells[1]!r}"
            )
        if day in days:
            raise HolidayFileError(f"{where}, line {number}: {day} is listed twice")
        days[day] = OfficialDay(day, kind == "workday", ",".join(cells[2:])[:200])
    if not days:
        raise HolidayFileError(f"{where}: no dates")
    ordered = sorted(days.values(), key=lambda d: d.day)
    return ordered, sorted({d.day.year for d in ordered})


def read_holiday_file(path: str | Path) -> tuple[list[OfficialDay], list[int]]:
    return parse_holiday_file(Path(path).read_text(encoding="utf-8-sig"), str(path))
