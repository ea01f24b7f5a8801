"""Working calendar: legal deadlines counted in working hours and working days.

The specialized-inspection procedure counts its deadlines in working time (PROCEDURE.md, "The steps of
one consignment"): Customs confirms a release for preservation within 2 working hours, enters a result
within 2 working hours, food-safety checks take 3 working days, and so on. Weekends and Vietnamese public
holidays do not count; office hours default to 07:30-17:00 at the Cat Lai tariff office (configurable).

`WorkingCalendar` answers four questions, always with timezone-aware datetimes (naive ones are refused)
and always returning UTC:

* `is_working_day(d)` - is this local calendar date a working day?
* `add_working_hours(start, hours)` - when do `hours` of office time starting at `start` run out?
* `add_working_days(start, days)` - the deadline of a period of `days` working days (rule below).
* `working_hours_between(a, b)` - how much office time lies between two instants.

Working days. A date is a working day unless it is a Saturday or Sunday, or a public holiday. In order of
precedence: `extra_holidays` (compensatory days off decreed each year) are never working days;
`extra_working_days` (Saturdays worked in compensation) always are; weekend days that the `holidays`
package records as worked in exchange for a substitute day off are working days (see below); then
Saturdays, Sundays and the package's public holidays are not.

Public holidays come from the `holidays` package (`holidays.country_holidays("VN")`, public category),
looked up once per year and cached. Version 0.109 knows, for each year:

* New Year's Day (1 January), moved to the next working day when it falls on a weekend;
* Tet (Lunar New Year): the eve plus the first four days, with a day falling on a Saturday moved to the
  previous working day and one on a Sunday to the next - e.g. 2027 (Tet on Saturday 6 February):
  Thursday 4 to Wednesday 10 February;
* Hung Kings' Commemoration Day (10th day of the 3rd lunar month), moved off weekends;
* Reunification Day (30 April) and International Labour Day (1 May), moved off weekends;
* National Day: 2 September plus one adjacent day (1 or 3 September, since 2021), moved off weekends;
* Vietnam Cultural Day (24 November), from 2026 on (Resolution 80-NQ/TW);
* one-off days off swapped against a worked weekend day by government decision, e.g. Monday
  31 August 2026 off in exchange for Saturday 22 August 2026.

For 2026 that is 1 Jan; 16-20 Feb; 27 Apr (Hung Kings, observed from Sunday 26 Apr); 30 Apr; 1 May;
31 Aug (swap); 1-2 Sep; 24 Nov. For 2027: 1 Jan; 4-5, 8-10 Feb (Tet, around the weekend of 6-7 Feb);
16 Apr; 30 Apr; 3 May (Labour Day observed from Saturday 1 May); 2-3 Sep; 24 Nov.

The package lists the swapped day off as a holiday but not the weekend day worked in exchange; this module
reads the worked day from the package's table of such swaps (`package_swapped_working_days=True`, the
default) so the two stay consistent. Swaps decreed after the installed package was released must be added
by hand with `extra_holidays` / `extra_working_days`.

Deadline rules:

* Working hours: only time inside office hours (minus the optional lunch break) on working days counts.
  A start outside office hours starts counting at the next opening. A deadline that lands exactly on
  closing time stays at closing time (17:00), not the next morning.
* Working days: the deadline is the end of office hours (17:00 local) of the n-th working day after the
  start day. The start day itself never counts, whatever the time of day; a start on a non-working day
  therefore counts its first day on the next working day (a start on Saturday or on Friday evening both
  have Monday as day 1 when Monday is a working day). Zero days means the end of office hours of the
  start day, or of the next working day when the start day is not one.

Everything walks day by day (never minute by minute) with per-year holiday sets cached, so a call costs
a few microseconds per calendar day spanned and is cheap enough to use per work item on list pages.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

# A calendar with no working day in a whole year is misconfigured; stop walking instead of looping forever.
_MAX_DAYS_WITHOUT_WORK = 366
_ONE_DAY = timedelta(days=1)
_ONE_HOUR = timedelta(hours=1)


@lru_cache(maxsize=64)
def vietnam_public_holidays(year: int) -> frozenset[date]:
    """Return the dates of Vietnam's public holidays and official days off in `year`."""
    return frozenset(holidays.country_holidays("VN", years=year).keys())


@lru_cache(maxsize=64)
def vietnam_swapped_working_days(year: int) -> frozenset[date]:
    """Return the weekend dates in `year` worked in exchange for a day off, per the holidays package."""
    try:
        from holidays.countries.vietnam import VietnamStaticHolidays

        table = VietnamStaticHolidays.special_public_holidays
    except (ImportError, AttributeError):  # pragma: no cover - depends on the installed package
        return frozenset()
    worked: set[date] = set()
    # Entries are (month, day, worked_month, worked_day[, worked_year]) or tuples of such entries, keyed
    # by the year of the day off; the worked day may fall in the previous year (e.g. 27 Dec 2014).
    for key in (year, year + 1):
        entries = table.get(key, ())
        if entries and not isinstance(entries[0], tuple):
            entries = (entries,)
        for entry in entries:
            try:
                worked_year = entry[4] if len(entry) > 4 else key
                worked_day = date(worked_year, entry[2], entry[3])
            except (IndexError, TypeError, ValueError):  # pragma: no cover - unexpected package data
                continue
            if worked_day.year == year:
                worked.add(worked_day)
    return frozenset(worked)


def _require_aware(value: datetime, name: str) -> datetime:
    """Return `value` converted to UTC, refusing naive datetimes."""
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"{name} must be a timezone-aware datetime, got naive {value.isoformat()}; "
            "attach a tzinfo, e.g. datetime(..., tzinfo=ZoneInfo('Asia/Ho_Chi_Minh')) or UTC"
        )
    return value.astimezone(UTC)


def _as_date_set(values: Iterable[date], name: str) -> frozenset[date]:
    """Return `values` as a frozenset of plain dates, refusing datetimes and other types."""
    result = frozenset(values)
    for value in result:
        if isinstance(value, datetime) or not isinstance(value, date):
            raise TypeError(f"{name} must contain dates, got {value!r}")
    return result


@dataclass(frozen=True)
class WorkingCalendar:
    """Office hours, weekends and holidays used to count legal deadlines."""

    timezone: str = "Asia/Ho_Chi_Minh"
    office_start: time = time(7, 30)
    office_end: time = time(17, 0)
    lunch_break: tuple[time, time] | None = None
    extra_holidays: Iterable[date] = frozenset()
    extra_working_days: Iterable[date] = frozenset()
    package_swapped_working_days: bool = True
    _tz: ZoneInfo = field(init=False, repr=False, compare=False)
    _periods: tuple[tuple[time, time], ...] = field(init=False, repr=False, compare=False)
    _working: dict[date, bool] = field(init=False, repr=False, compare=False)  # answers so far, per day

    def __post_init__(self) -> None:
        """Validate the configuration and precompute the daily office periods."""
        try:
            tz = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {self.timezone!r}") from exc
        for name in ("office_start", "office_end"):
            value = getattr(self, name)
            if not isinstance(value, time) or value.tzinfo is not None:
                raise ValueError(f"{name} must be a naive local time, got {value!r}")
        if not self.office_start < self.office_end:
            raise ValueError(f"office_start {self.office_start} must be before office_end {self.office_end}")
        periods: tuple[tuple[time, time], ...] = ((self.office_start, self.office_end),)
        lunch = self.lunch_break
        if lunch is not None:
            lunch = tuple(lunch)
            if len(lunch) != 2 or not self.office_start < lunch[0] < lunch[1] < self.office_end:
                raise ValueError(
                    f"lunch_break must be a (start, end) pair strictly inside office hours, got {lunch!r}"
                )
            periods = ((self.office_start, lunch[0]), (lunch[1], self.office_end))
        extra_off = _as_date_set(self.extra_holidays, "extra_holidays")
        extra_on = _as_date_set(self.extra_working_days, "extra_working_days")
        if both := extra_off & extra_on:
            raise ValueError(f"dates both extra holidays and extra working days: {sorted(both)}")
        object.__setattr__(self, "lunch_break", lunch)
        object.__setattr__(self, "extra_holidays", extra_off)
        object.__setattr__(self, "extra_working_days", extra_on)
        object.__setattr__(self, "_tz", tz)
        object.__setattr__(self, "_periods", periods)
        object.__setattr__(self, "_working", {})

    @property
    def hours_per_day(self) -> float:
        """Working hours in one full working day (office hours less the lunch break)."""
        return sum((e.hour * 60 + e.minute) - (s.hour * 60 + s.minute) for s, e in self._periods) / 60

    @property
    def tz(self) -> ZoneInfo:
        """Return the calendar's local timezone."""
        return self._tz

    def is_working_day(self, d: date) -> bool:
        """Tell whether local date `d` (or the local date of an aware datetime) is a working day."""
        if isinstance(d, datetime):
            d = _require_aware(d, "d").astimezone(self._tz).date()
        known = self._working.get(d)
        if known is None:
            known = self._working[d] = self._decide_working_day(d)
        return known

    def _decide_working_day(self, d: date) -> bool:
        if d in self.extra_holidays:
            return False
        if d in self.extra_working_days:
            return True
        if d.weekday() >= 5:
            return self.package_swapped_working_days and d in vietnam_swapped_working_days(d.year)
        return d not in vietnam_public_holidays(d.year)

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """Return the UTC instant when `hours` of office time counted from `start` run out."""
        current = _require_aware(start, "start")
        if not isinstance(hours, int | float) or isinstance(hours, bool) or not math.isfinite(hours):
            raise ValueError(f"hours must be a finite number, got {hours!r}")
        if hours < 0:
            raise ValueError(f"hours must not be negative, got {hours!r}")
        remaining = timedelta(hours=hours)
        for day in self._working_days_from(self._local_date(current)):
            for opens, closes in self._office_periods(day):
                if closes < current:
                    continue
                begin = max(opens, current)
                available = closes - begin
                if remaining <= available:
                    return begin + remaining
                remaining -= available
        raise AssertionError("unreachable")  # pragma: no cover - _working_days_from never ends normally

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """Return the UTC closing time of the `days`-th working day after the start day."""
        current = _require_aware(start, "start")
        if not isinstance(days, int) or isinstance(days, bool) or days < 0:
            raise ValueError(f"days must be a non-negative integer, got {days!r}")
        start_day = self._local_date(current)
        days_walked = self._working_days_from(start_day if days == 0 else start_day + _ONE_DAY)
        for counted, day in enumerate(days_walked, start=1):
            if counted >= days:
                return self._local_instant(day, self.office_end)
        raise AssertionError("unreachable")  # pragma: no cover - _working_days_from never ends normally

    def working_hours_between(self, a: datetime, b: datetime) -> float:
        """Return the office hours between `a` and `b`, or 0 when `b` is not after `a`."""
        begin = _require_aware(a, "a")
        end = _require_aware(b, "b")
        if end <= begin:
            return 0.0
        total = timedelta(0)
        first_day = self._local_date(begin)
        last_day = self._local_date(end)
        for day in {first_day, last_day}:  # the two partial days: overlap with their office periods
            if self.is_working_day(day):
                for opens, closes in self._office_periods(day):
                    overlap = min(closes, end) - max(opens, begin)
                    if overlap > timedelta(0):
                        total += overlap
        full_days = 0  # every working day in between is a whole office day
        day = first_day + _ONE_DAY
        while day < last_day:
            full_days += self.is_working_day(day)
            day += _ONE_DAY
        return total / _ONE_HOUR + full_days * self.hours_per_day

    def _local_date(self, instant: datetime) -> date:
        """Return the local calendar date of an aware instant."""
        return instant.astimezone(self._tz).date()

    def _local_instant(self, day: date, at: time) -> datetime:
        """Return local wall-clock time `at` on `day` as a UTC datetime."""
        return datetime.combine(day, at, tzinfo=self._tz).astimezone(UTC)

    def _office_periods(self, day: date) -> list[tuple[datetime, datetime]]:
        """Return the office periods of `day` as (opening, closing) UTC pairs."""
        return [
            (self._local_instant(day, opens), self._local_instant(day, closes))
            for opens, closes in self._periods
        ]

    def _working_days_from(self, first: date) -> Iterator[date]:
        """Yield the working days from `first` (inclusive) onwards."""
        day = first
        idle = 0
        while True:
            if self.is_working_day(day):
                idle = 0
                yield day
            else:
                idle += 1
                if idle > _MAX_DAYS_WITHOUT_WORK:
                    raise ValueError(f"no working day in the {idle} days before {day}; check the calendar")
            day += _ONE_DAY
