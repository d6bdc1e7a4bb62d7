"""The public holidays the law itself fixes, for a year whose State Council notice is not loaded.

《全国年节及纪念日放假办法》 (National Holidays Regulation) as revised by State Council Decree No. 795
(2024-11-10, in force 2025-01-01), Art. 2, holidays for all citizens: New Year's Day 1 day (1 January),
Spring Festival 4 days (lunar New Year's Eve and the first three days of the first lunar month),
Qingming 1 day (the day of the solar term), Labour Day 2 days (1 and 2 May), Dragon Boat 1 day (5th of
the 5th lunar month), Mid-Autumn 1 day (15th of the 8th lunar month), National Day 3 days (1-3 October).
The stored copies found of the regulation are of the earlier text (Spring Festival 3 days, Labour
Day 1); the revised counts are defaults here, configurable through ``StatutoryDays``.

Same regulation, Art. 6 of the text found: a holiday for all citizens that falls on a Saturday or a
Sunday is made up on a working day (应当在工作日补假). Which day is the yearly notice's choice; this
takes the first working days after the festival, the notices' usual choice. What only the notice
decides (bridging days, adjusted working weekends 调休) cannot be foreseen: due times counted with
these days are provisional until the year's notice is loaded.

Lunar dates and the Qingming solar term come from ``lunar_python`` (6tail's lunar), which computes
them from the astronomical algorithms of 寿星天文历 (Beijing time) rather than from a table that ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from lunar_python import Lunar


@dataclass(frozen=True)
class StatutoryDays:
    """How many days off each festival gives (defaults: the 2024 revision)."""

    new_year: int = 1
    spring_festival: int = 4
    spring_festival_from_eve: bool = True
    """2025 on: the eve and days 1-3; 2014-2024: days 1-3 (spring_festival=3, from_eve False)."""
    qingming: int = 1
    labour_day: int = 2
    dragon_boat: int = 1
    mid_autumn: int = 1
    national_day: int = 3
    make_up_weekends: bool = True
    """A festival day on a Saturday or Sunday gives a weekday off after the festival (Art. 6)."""
    in_force_from: int = 2025
    """Years before it had other counts (and the package knows 2004 on): none are applied to them."""


def _lunar_to_solar(year: int, month: int, day: int) -> date:
    solar = Lunar.fromYmd(year, month, day).getSolar()
    return date(solar.getYear(), solar.getMonth(), solar.getDay())


def qingming(year: int) -> date:
    """The day of the Qingming solar term (4 or 5 April), Beijing time."""
    term = Lunar.fromYmd(year, 1, 1).getJieQiTable()["清明"]
    return date(term.getYear(), term.getMonth(), term.getDay())


def festivals(year: int, days: StatutoryDays = StatutoryDays()) -> list[tuple[str, list[date]]]:
    """Each festival of the year and its statutory days, in calendar order."""

    def run(first: date, count: int) -> list[date]:
        return [first + timedelta(days=i) for i in range(count)]

    new_year_day = _lunar_to_solar(year, 1, 1)
    spring_start = new_year_day - timedelta(days=1) if days.spring_festival_from_eve else new_year_day
    out = [
        ("New Year's Day", run(date(year, 1, 1), days.new_year)),
        ("Spring Festival", run(spring_start, days.spring_festival)),
        ("Qingming", run(qingming(year), days.qingming)),
        ("Labour Day", run(date(year, 5, 1), days.labour_day)),
        ("Dragon Boat Festival", run(_lunar_to_solar(year, 5, 5), days.dragon_boat)),
        ("Mid-Autumn Festival", run(_lunar_to_solar(year, 8, 15), days.mid_autumn)),
        ("National Day", run(date(year, 10, 1), days.national_day)),
    ]
    return sorted(((name, ds) for name, ds in out if ds), key=lambda f: f[1][0])


def days_off(year: int, days: StatutoryDays = StatutoryDays()) -> dict[date, str]:
    """The year's statutory days off, with make-up days for those on a weekend, by date. A day two
    festivals share (Mid-Autumn on 1-3 October) is one day off: how the notice makes that up varies."""
    off: dict[date, str] = {}
    if year < days.in_force_from:
        return off
    for name, festival in festivals(year, days):
        for d in festival:
            off.setdefault(d, name)
        owed = sum(1 for d in festival if d.weekday() >= 5) if days.make_up_weekends else 0
        d = festival[-1]
        while owed:
            d += timedelta(days=1)
            if d.weekday() < 5 and d not in off:
                off[d] = f"{name} (make-up day)"
                owed -= 1
    return off
