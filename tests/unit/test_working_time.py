"""Legal deadlines counted in working hours and working days (PROCEDURE.md, steps 5 and 6)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.engine.working_time import WorkingCalendar, vietnam_public_holidays

SAIGON = ZoneInfo("Asia/Ho_Chi_Minh")
CAT_LAI = WorkingCalendar()


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """Return a Saigon wall-clock time."""
    return datetime(year, month, day, hour, minute, tzinfo=SAIGON)


def as_local(instant: datetime) -> datetime:
    """Return a UTC result as Saigon wall-clock time, checking that it is UTC."""
    assert instant.utcoffset() == timedelta(0)
    return instant.astimezone(SAIGON)


# --- The holidays the calendar relies on -----------------------------------------------------------------


def test_package_knows_vietnamese_public_holidays_of_2026() -> None:
    weekdays_off = sorted(d for d in vietnam_public_holidays(2026) if d.weekday() < 5)
    assert weekdays_off == [
        date(2026, 1, 1),
        *(date(2026, 2, d) for d in range(16, 21)),  # Tet: eve and days 1-4
        date(2026, 4, 27),  # Hung Kings (Sunday 26 April, observed on Monday)
        date(2026, 4, 30),
        date(2026, 5, 1),
        date(2026, 8, 31),  # day off swapped against Saturday 22 August
        date(2026, 9, 1),
        date(2026, 9, 2),
        date(2026, 11, 24),  # Vietnam Cultural Day, new in 2026
    ]


def test_package_knows_vietnamese_public_holidays_of_2027() -> None:
    weekdays_off = sorted(d for d in vietnam_public_holidays(2027) if d.weekday() < 5)
    assert weekdays_off == [
        date(2027, 1, 1),
        date(2027, 2, 4),  # Tet falls on Saturday 6 February: Thursday 4 to Wednesday 10 February
        date(2027, 2, 5),
        date(2027, 2, 8),
        date(2027, 2, 9),
        date(2027, 2, 10),
        date(2027, 4, 16),  # Hung Kings
        date(2027, 4, 30),
        date(2027, 5, 3),  # Labour Day (Saturday 1 May) observed on Monday
        date(2027, 9, 2),
        date(2027, 9, 3),
        date(2027, 11, 24),
    ]


def test_weekends_and_holidays_are_not_working_days() -> None:
    assert CAT_LAI.is_working_day(date(2026, 3, 6))  # Friday
    assert not CAT_LAI.is_working_day(date(2026, 3, 7))  # Saturday
    assert not CAT_LAI.is_working_day(date(2026, 3, 8))  # Sunday
    assert not CAT_LAI.is_working_day(date(2026, 4, 30))
    assert not CAT_LAI.is_working_day(date(2027, 2, 10))


def test_saturday_worked_in_exchange_for_a_day_off_is_a_working_day() -> None:
    assert CAT_LAI.is_working_day(date(2026, 8, 22))
    assert not CAT_LAI.is_working_day(date(2026, 8, 31))
    without_swaps = WorkingCalendar(package_swapped_working_days=False)
    assert not without_swaps.is_working_day(date(2026, 8, 22))


def test_is_working_day_of_an_aware_datetime_uses_the_local_date() -> None:
    # 17:30 UTC on Friday 6 March is already Saturday 00:30 in Saigon.
    assert not CAT_LAI.is_working_day(datetime(2026, 3, 6, 17, 30, tzinfo=UTC))
    assert CAT_LAI.is_working_day(datetime(2026, 3, 6, 16, 30, tzinfo=UTC))


# --- Working hours ---------------------------------------------------------------------------------------


def test_branch_head_has_two_working_hours_across_a_weekend() -> None:
    deadline = CAT_LAI.add_working_hours(local(2026, 3, 6, 16), 2)  # Friday 16:00
    assert as_local(deadline) == local(2026, 3, 9, 8, 30)  # Monday 08:30


def test_deadline_landing_on_closing_time_stays_at_closing_time() -> None:
    deadline = CAT_LAI.add_working_hours(local(2026, 3, 6, 15), 2)
    assert as_local(deadline) == local(2026, 3, 6, 17)


def test_request_filed_before_opening_counts_from_opening() -> None:
    deadline = CAT_LAI.add_working_hours(local(2026, 3, 10, 6, 15), 2)
    assert as_local(deadline) == local(2026, 3, 10, 9, 30)


def test_request_filed_after_closing_counts_from_next_morning() -> None:
    deadline = CAT_LAI.add_working_hours(local(2026, 3, 10, 18, 45), 2)
    assert as_local(deadline) == local(2026, 3, 11, 9, 30)


def test_request_filed_during_reunification_day_counts_from_next_working_day() -> None:
    # Thursday 30 April and Friday 1 May 2026 are holidays, then the weekend.
    deadline = CAT_LAI.add_working_hours(local(2026, 4, 30, 10), 2)
    assert as_local(deadline) == local(2026, 5, 4, 9, 30)


def test_result_entered_within_two_working_hours_across_tet_2027() -> None:
    deadline = CAT_LAI.add_working_hours(local(2027, 2, 3, 16), 2)  # Wednesday before Tet
    assert as_local(deadline) == local(2027, 2, 11, 8, 30)  # Thursday after Tet


def test_two_working_hours_across_national_day_2026() -> None:
    # Monday 31 August (swapped), Tuesday 1 and Wednesday 2 September are off.
    deadline = CAT_LAI.add_working_hours(local(2026, 8, 28, 16), 2)
    assert as_local(deadline) == local(2026, 9, 3, 8, 30)


def test_two_working_hours_across_national_day_2027() -> None:
    deadline = CAT_LAI.add_working_hours(local(2027, 9, 1, 16), 2)  # Wednesday
    assert as_local(deadline) == local(2027, 9, 6, 8, 30)  # Monday


def test_agency_designated_place_gives_one_working_hour() -> None:
    deadline = CAT_LAI.add_working_hours(local(2026, 3, 10, 16, 30), 1)
    assert as_local(deadline) == local(2026, 3, 11, 8, 0)


def test_lunch_break_does_not_count_when_configured() -> None:
    with_lunch = WorkingCalendar(lunch_break=(time(11, 30), time(13, 0)))
    deadline = with_lunch.add_working_hours(local(2026, 3, 10, 11), 2)
    assert as_local(deadline) == local(2026, 3, 10, 14, 30)
    assert with_lunch.working_hours_between(local(2026, 3, 10, 0), local(2026, 3, 11, 0)) == 8.0


def test_start_given_in_another_timezone_returns_utc() -> None:
    start = datetime(2026, 3, 6, 9, 0, tzinfo=UTC)  # Friday 16:00 in Saigon
    assert CAT_LAI.add_working_hours(start, 2) == datetime(2026, 3, 9, 1, 30, tzinfo=UTC)


def test_working_hours_between_counts_only_office_time() -> None:
    assert CAT_LAI.working_hours_between(local(2026, 3, 6, 16), local(2026, 3, 9, 8, 30)) == 2.0
    assert CAT_LAI.working_hours_between(local(2026, 3, 9, 0), local(2026, 3, 14, 0)) == 5 * 9.5
    assert CAT_LAI.working_hours_between(local(2026, 3, 9, 12), local(2026, 3, 9, 11)) == 0.0


def test_zero_hours_from_closing_time_stays_at_closing_time() -> None:
    assert as_local(CAT_LAI.add_working_hours(local(2026, 3, 6, 17), 0)) == local(2026, 3, 6, 17)
    assert as_local(CAT_LAI.add_working_hours(local(2026, 3, 6, 17), 0.5)) == local(2026, 3, 9, 8)


# --- Working days ----------------------------------------------------------------------------------------


def test_ten_working_days_from_the_friday_before_30_april_2026() -> None:
    # Monday 27 April (Hung Kings observed), Thursday 30 April and Friday 1 May are off.
    deadline = CAT_LAI.add_working_days(local(2026, 4, 24, 10), 10)
    assert as_local(deadline) == local(2026, 5, 13, 17)


def test_ten_working_days_from_the_friday_before_30_april_2027() -> None:
    # Friday 30 April and Monday 3 May (Labour Day observed) are off.
    deadline = CAT_LAI.add_working_days(local(2027, 4, 23, 10), 10)
    assert as_local(deadline) == local(2027, 5, 11, 17)


def test_three_working_days_for_food_safety_do_not_count_the_start_day() -> None:
    deadline = CAT_LAI.add_working_days(local(2026, 3, 9, 7, 30), 3)  # Monday at opening
    assert as_local(deadline) == local(2026, 3, 12, 17)  # Thursday closing


def test_working_days_from_a_weekend_count_from_the_next_working_day() -> None:
    from_saturday = CAT_LAI.add_working_days(local(2026, 3, 7, 10), 1)
    from_friday_evening = CAT_LAI.add_working_days(local(2026, 3, 6, 20), 1)
    assert as_local(from_saturday) == as_local(from_friday_evening) == local(2026, 3, 9, 17)


def test_working_days_across_tet_2027() -> None:
    deadline = CAT_LAI.add_working_days(local(2027, 2, 3, 9), 2)
    assert as_local(deadline) == local(2027, 2, 12, 17)


def test_zero_working_days_is_the_end_of_the_start_day() -> None:
    assert as_local(CAT_LAI.add_working_days(local(2026, 3, 9, 9), 0)) == local(2026, 3, 9, 17)
    assert as_local(CAT_LAI.add_working_days(local(2026, 3, 7, 9), 0)) == local(2026, 3, 9, 17)


# --- Configuration and bad input -------------------------------------------------------------------------


def test_compensatory_day_off_decreed_later_is_honoured() -> None:
    calendar = WorkingCalendar(extra_holidays=[date(2026, 3, 9)])
    assert not calendar.is_working_day(date(2026, 3, 9))
    deadline = calendar.add_working_hours(local(2026, 3, 6, 16), 2)
    assert as_local(deadline) == local(2026, 3, 10, 8, 30)


def test_saturday_worked_in_compensation_is_honoured() -> None:
    calendar = WorkingCalendar(extra_working_days=[date(2026, 3, 7)])
    deadline = calendar.add_working_hours(local(2026, 3, 6, 16), 2)
    assert as_local(deadline) == local(2026, 3, 7, 8, 30)


def test_a_date_cannot_be_both_extra_holiday_and_extra_working_day() -> None:
    with pytest.raises(ValueError, match="both"):
        WorkingCalendar(extra_holidays=[date(2026, 3, 7)], extra_working_days=[date(2026, 3, 7)])


def test_invalid_office_hours_are_rejected() -> None:
    with pytest.raises(ValueError, match="office_start"):
        WorkingCalendar(office_start=time(17), office_end=time(7, 30))
    with pytest.raises(ValueError, match="lunch_break"):
        WorkingCalendar(lunch_break=(time(13), time(12)))
    with pytest.raises(ValueError, match="timezone"):
        WorkingCalendar(timezone="Asia/Cat_Lai")


def test_naive_datetimes_are_rejected() -> None:
    naive = datetime(2026, 3, 6, 16)
    aware = local(2026, 3, 6, 16)
    for call in (
        lambda: CAT_LAI.add_working_hours(naive, 2),
        lambda: CAT_LAI.add_working_days(naive, 2),
        lambda: CAT_LAI.working_hours_between(naive, aware),
        lambda: CAT_LAI.working_hours_between(aware, naive),
        lambda: CAT_LAI.is_working_day(naive),
    ):
        with pytest.raises(ValueError, match="timezone-aware"):
            call()


def test_negative_durations_are_rejected() -> None:
    with pytest.raises(ValueError, match="hours"):
        CAT_LAI.add_working_hours(local(2026, 3, 6, 16), -1)
    with pytest.raises(ValueError, match="days"):
        CAT_LAI.add_working_days(local(2026, 3, 6, 16), -1)


# --- Properties ------------------------------------------------------------------------------------------

aware_datetimes = st.datetimes(
    min_value=datetime(2026, 1, 1),
    max_value=datetime(2028, 12, 31, 23, 59, 59),
    timezones=st.sampled_from([UTC, SAIGON, ZoneInfo("Europe/Paris"), timezone(timedelta(hours=-5))]),
    allow_imaginary=False,
)
working_hours = st.floats(min_value=0, max_value=200, allow_nan=False, allow_infinity=False)


@settings(max_examples=300)
@given(start=aware_datetimes, hours=working_hours)
def test_working_hours_between_is_the_inverse_of_add_working_hours(start: datetime, hours: float) -> None:
    deadline = CAT_LAI.add_working_hours(start, hours)
    assert deadline >= start
    assert CAT_LAI.working_hours_between(start, deadline) == pytest.approx(hours, abs=1e-6)


@settings(max_examples=300)
@given(a=aware_datetimes, b=aware_datetimes)
def test_adding_the_hours_between_two_instants_never_overshoots(a: datetime, b: datetime) -> None:
    hours = CAT_LAI.working_hours_between(a, b)
    reached = CAT_LAI.add_working_hours(a, hours)
    assert reached <= b or hours == 0
    assert CAT_LAI.working_hours_between(reached, b) == pytest.approx(0, abs=1e-6)


@given(start=aware_datetimes, days=st.integers(min_value=1, max_value=30))
def test_working_day_deadline_is_closing_time_of_a_working_day(start: datetime, days: int) -> None:
    deadline = as_local(CAT_LAI.add_working_days(start, days))
    assert deadline.time() == time(17, 0)
    assert CAT_LAI.is_working_day(deadline.date())
    assert deadline.date() > start.astimezone(SAIGON).date()
    assert CAT_LAI.add_working_days(start, days + 1) > CAT_LAI.add_working_days(start, days)
