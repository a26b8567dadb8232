"""The clinic's clock (tracker/clinictime.py): local input to UTC and back, days, daylight-saving gaps and folds, at
UTC-7 (Denver, UTC-6 in summer) and UTC+11 (Sydney in the southern summer, UTC+10 in winter)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tracker import clinictime
from tracker.clinictime import NonexistentTime, day_bounds, day_of, from_local, is_ambiguous, shown, zone

DENVER = zone("America/Denver")
DASH = "\u2013"
SYDNEY = zone("Australia/Sydney")


def test_a_0900_session_in_denver_is_1600_utc_in_winter_and_1500_in_summer():
    assert from_local(datetime(2027, 1, 12, 9, 0), DENVER) == datetime(2027, 1, 12, 16, 0, tzinfo=UTC)
    assert from_local(datetime(2027, 7, 12, 9, 0), DENVER) == datetime(2027, 7, 12, 15, 0, tzinfo=UTC)
    assert shown(datetime(2027, 1, 12, 16, 0, tzinfo=UTC), DENVER) == "2027-01-12 09:00 MST"
    assert shown(datetime(2027, 7, 12, 15, 0, tzinfo=UTC), DENVER) == "2027-07-12 09:00 MDT"


def test_a_morning_in_sydney_is_the_previous_day_in_utc():
    moment = from_local(datetime(2027, 1, 12, 8, 30), SYDNEY)
    assert moment == datetime(2027, 1, 11, 21, 30, tzinfo=UTC)  # UTC+11 in January
    assert day_of(moment, SYDNEY) == date(2027, 1, 12)
    assert moment.date() == date(2027, 1, 11)
    assert shown(moment, SYDNEY, "%H:%M") == "08:30 AEDT"


def test_the_hour_skipped_when_summer_time_starts_is_refused_with_the_gap_named():
    with pytest.raises(NonexistentTime) as refused:
        from_local(datetime(2027, 3, 14, 2, 30), DENVER)  # second Sunday of March: 02:00 -> 03:00
    assert "does not exist in America/Denver" in str(refused.value)
    assert "from 02:00 to 03:00" in str(refused.value)
    with pytest.raises(NonexistentTime):
        from_local(datetime(2026, 10, 4, 2, 0), SYDNEY)  # first Sunday of October: 02:00 -> 03:00
    # Either side of the gap is fine.
    assert from_local(datetime(2027, 3, 14, 1, 59), DENVER) == datetime(2027, 3, 14, 8, 59, tzinfo=UTC)
    assert from_local(datetime(2027, 3, 14, 3, 0), DENVER) == datetime(2027, 3, 14, 9, 0, tzinfo=UTC)


def test_the_repeated_hour_when_clocks_go_back_is_read_as_its_first_occurrence():
    typed = datetime(2026, 11, 1, 1, 30)  # Denver: 01:00-02:00 happens twice
    assert is_ambiguous(typed, DENVER)
    moment = from_local(typed, DENVER)
    assert moment == datetime(2026, 11, 1, 7, 30, tzinfo=UTC)  # MDT (UTC-6), the first one
    assert shown(moment, DENVER) == "2026-11-01 01:30 MDT"
    assert shown(moment + timedelta(hours=1), DENVER) == "2026-11-01 01:30 MST"  # the second, told apart
    assert not is_ambiguous(datetime(2026, 11, 1, 3, 0), DENVER)
    assert not is_ambiguous(datetime(2027, 3, 14, 2, 30), DENVER)  # a gap is not a fold
    sydney_fold = datetime(2027, 4, 4, 2, 30)  # first Sunday of April: 03:00 -> 02:00
    assert is_ambiguous(sydney_fold, SYDNEY)
    assert from_local(sydney_fold, SYDNEY) == datetime(2027, 4, 3, 15, 30, tzinfo=UTC)  # AEDT, UTC+11


def test_days_across_a_daylight_saving_change_are_23_and_25_hours_long():
    start, end = day_bounds(date(2027, 3, 14), DENVER)
    assert (start, end - start) == (datetime(2027, 3, 14, 7, 0, tzinfo=UTC), timedelta(hours=23))
    start, end = day_bounds(date(2026, 11, 1), DENVER)
    assert (start, end - start) == (datetime(2026, 11, 1, 6, 0, tzinfo=UTC), timedelta(hours=25))
    start, end = day_bounds(date(2026, 10, 4), SYDNEY)
    assert (start, end - start) == (datetime(2026, 10, 3, 14, 0, tzinfo=UTC), timedelta(hours=23))


def test_a_zone_that_skips_midnight_starts_the_day_at_the_first_minute_that_exists():
    santiago = zone("America/Santiago")  # summer time starts at 00:00 on the first Sunday of September
    assert clinictime.local(clinictime.start_of_day(date(2026, 9, 6), santiago), santiago).hour == 1


def test_today_is_the_clinics_date_not_the_servers():
    late_utc = datetime(2027, 1, 12, 23, 30, tzinfo=UTC)
    assert clinictime.today(SYDNEY, late_utc) == date(2027, 1, 13)
    assert clinictime.today(DENVER, late_utc) == date(2027, 1, 12)
    early_utc = datetime(2027, 1, 12, 3, 0, tzinfo=UTC)
    assert clinictime.today(DENVER, early_utc) == date(2027, 1, 11)


@pytest.mark.parametrize("name", ["", " UTC", "../etc/passwd", "/usr/share/zoneinfo/UTC", "Mars/Olympus", "utc x"])
def test_only_iana_names_are_zones(name):
    assert not clinictime.is_zone_name(name)
    with pytest.raises(ValueError):
        zone(name)


def test_the_choices_are_canonical_names_and_utc():
    names = clinictime.zone_names()
    assert {"UTC", "America/Denver", "Australia/Sydney", "Europe/London"} <= set(names)
    assert not any(n.startswith(("Etc/", "US/", "posix/")) for n in names)
    assert list(names) == sorted(names)


def test_an_input_shows_the_clinics_clock():
    assert clinictime.input_value(datetime(2027, 1, 11, 21, 30, tzinfo=UTC), SYDNEY) == "2027-01-12T08:30"
    assert clinictime.input_value(None, SYDNEY) == ""


@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2037, 12, 31)),
    st.sampled_from(["America/Denver", "Australia/Sydney", "Europe/London", "Asia/Kolkata", "UTC"]),
)
def test_every_local_time_that_exists_comes_back_as_typed(typed, name):
    tz = zone(name)
    typed = typed.replace(second=0, microsecond=0)
    try:
        moment = from_local(typed, tz)
    except NonexistentTime:
        return
    assert moment.tzinfo is UTC
    assert clinictime.local(moment, tz).replace(tzinfo=None) == typed


def test_a_range_names_the_zone_once_or_both_across_a_change():
    start = from_local(datetime(2027, 1, 12, 9, 0), DENVER)
    assert clinictime.shown_range(start, start + timedelta(minutes=90), DENVER) == f"2027-01-12 09:00 {DASH} 10:30 MST"
    overnight = clinictime.shown_range(start, start + timedelta(hours=20), DENVER)
    assert overnight == f"2027-01-12 09:00 {DASH} 2027-01-13 05:00 MST"
    fold = from_local(datetime(2026, 11, 1, 0, 30), DENVER)
    assert clinictime.shown_range(fold, fold + timedelta(hours=2), DENVER) == f"2026-11-01 00:30 MDT {DASH} 01:30 MST"
    assert clinictime.shown_range(start, None, DENVER) == "2027-01-12 09:00 MST"
