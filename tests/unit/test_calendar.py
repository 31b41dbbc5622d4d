"""Business hours: schedule parsing, open/closed, next opening, and business-minute
arithmetic across DST changes and holidays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from frontdesk.domain.calendar import BusinessHours
from frontdesk.domain.errors import ValidationFailed

BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = BusinessHours.parse({
    "timezone": "Europe/Berlin",
    "weekly": {d: ["09:00-12:00", "13:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
    "holidays": ["2026-12-25", "2026-12-26", "2026-04-03"],
})
NEW_YORK_LATE = BusinessHours.parse({
    "timezone": "America/New_York",
    "weekly": {"mon": ["00:00-03:30", "20:00-24:00"], "sat": ["10:00-14:00"], "sun": ["01:00-04:00"]},
})


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


def test_open_only_inside_the_ranges_of_a_working_day():
    assert OFFICE.is_open(berlin(2026, 3, 2, 9, 0))          # Monday 09:00
    assert not OFFICE.is_open(berlin(2026, 3, 2, 12, 30))    # lunch
    assert not OFFICE.is_open(berlin(2026, 3, 2, 17, 0))     # closing time is exclusive
    assert not OFFICE.is_open(berlin(2026, 3, 7, 10, 0))     # Saturday


def test_holidays_are_closed():
    assert not OFFICE.is_open(berlin(2026, 12, 25, 10, 0))
    assert OFFICE.next_opening(berlin(2026, 12, 24, 17, 30)) == berlin(2026, 12, 28, 9, 0)


def test_next_opening_is_now_when_open_and_the_next_range_otherwise():
    assert OFFICE.next_opening(berlin(2026, 3, 2, 10, 0)) == berlin(2026, 3, 2, 10, 0)
    assert OFFICE.next_opening(berlin(2026, 3, 2, 12, 15)) == berlin(2026, 3, 2, 13, 0)
    assert OFFICE.next_opening(berlin(2026, 3, 6, 18, 0)) == berlin(2026, 3, 9, 9, 0)


def test_adding_business_minutes_skips_lunch_nights_and_weekends():
    assert OFFICE.add_business_minutes(berlin(2026, 3, 2, 11, 0), 90) == berlin(2026, 3, 2, 13, 30)
    assert OFFICE.add_business_minutes(berlin(2026, 3, 6, 16, 0), 120) == berlin(2026, 3, 9, 10, 0)
    assert OFFICE.add_business_minutes(berlin(2026, 3, 7, 12, 0), 15) == berlin(2026, 3, 9, 9, 15)


def test_a_working_day_keeps_its_local_hours_across_the_dst_change():
    # Berlin moves to summer time on Sunday 2026-03-29: Monday opens at 09:00 local, 07:00 UTC.
    friday_close = berlin(2026, 3, 27, 16, 0)
    assert OFFICE.add_business_minutes(friday_close, 120) == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)
    assert OFFICE.business_minutes_between(friday_close, berlin(2026, 3, 30, 10, 0)) == 120


def test_business_minutes_between_is_negative_backwards_and_zero_when_closed():
    a, b = berlin(2026, 3, 2, 8, 0), berlin(2026, 3, 2, 18, 0)
    assert OFFICE.business_minutes_between(a, b) == 7 * 60
    assert OFFICE.business_minutes_between(b, a) == -7 * 60
    assert OFFICE.business_minutes_between(berlin(2026, 3, 7, 0, 0), berlin(2026, 3, 8, 23, 0)) == 0


def test_a_schedule_that_never_opens_has_no_next_opening():
    closed = BusinessHours.parse({"timezone": "UTC", "weekly": {}})
    assert closed.next_opening(datetime(2026, 1, 1, tzinfo=UTC)) is None
    with pytest.raises(ValueError):
        closed.add_business_minutes(datetime(2026, 1, 1, tzinfo=UTC), 5)


@pytest.mark.parametrize(("data", "field"), [
    ({"timezone": "Mars/Olympus"}, "business_hours.timezone"),
    ({"weekly": {"mon": ["09:00-12:00", "11:00-13:00"]}}, "business_hours.weekly.mon"),
    ({"weekly": {"mon": ["17:00-09:00"]}}, "business_hours.weekly.mon[0]"),
    ({"weekly": {"mon": ["9am-5pm"]}}, "business_hours.weekly.mon[0]"),
    ({"weekly": {"mon": ["25:00-26:00"]}}, "business_hours.weekly.mon[0]"),
    ({"weekly": {"funday": ["09:00-10:00"]}}, "business_hours.weekly.funday"),
    ({"holidays": ["25/12/2026"]}, "business_hours.holidays[0]"),
    ({"opening": {}}, "business_hours.opening"),
])
def test_bad_schedules_name_the_field(data, field):
    with pytest.raises(ValidationFailed) as refused:
        BusinessHours.parse(data)
    assert refused.value.field == field


def test_a_schedule_survives_its_json_form():
    assert BusinessHours.parse(OFFICE.as_json()) == OFFICE


instants = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1),
                        timezones=st.just(UTC))


@settings(max_examples=300, deadline=None)
@given(start=instants, minutes=st.integers(min_value=0, max_value=60 * 24 * 20))
@pytest.mark.parametrize("hours", [OFFICE, NEW_YORK_LATE], ids=["berlin-office", "new-york-late"])
def test_adding_minutes_then_measuring_gives_them_back(hours, start, minutes):
    end = hours.add_business_minutes(start, minutes)
    assert end >= start
    assert hours.business_minutes_between(start, end) == pytest.approx(minutes, abs=1e-6)


@settings(max_examples=200, deadline=None)
@given(start=instants, minutes=st.integers(min_value=1, max_value=60 * 24 * 10))
@pytest.mark.parametrize("hours", [OFFICE, NEW_YORK_LATE], ids=["berlin-office", "new-york-late"])
def test_adding_minutes_ends_inside_or_at_the_end_of_an_open_range(hours, start, minutes):
    end = hours.add_business_minutes(start, minutes)
    assert hours.is_open(end - timedelta(seconds=1))
