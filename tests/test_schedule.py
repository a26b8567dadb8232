"""The measures schedule as a pure function: due, done, overdue and upcoming from the protocol's timepoints and the
dates of dosing sessions, results and the end of treatment, across several dosing cycles."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tracker.models import Clinic
from tracker.protocols import MeasureDue
from tracker.schedule import (
    Course,
    Dated,
    Occurrence,
    Settings,
    Status,
    Timepoint,
    baseline_problems,
    end_of_treatment,
    schedule,
)

ALL = ("baseline", "after_each_dosing", "end_of_treatment", "follow_up")
PCL5 = MeasureDue("pcl5", ALL, "test")
CSSRS = MeasureDue("cssrs", ("baseline", "after_each_dosing"), "test")
SETTINGS = Settings(
    baseline_max_age_days=30,
    after_dosing_window_days=14,
    end_after_last_dosing_days=28,
    end_window_days=14,
    follow_up_days=(90, 180),
    follow_up_window_days=14,
)
D1, D2, D3 = date(2026, 3, 2), date(2026, 3, 30), date(2026, 4, 27)  # MDMA: three sessions about a month apart


def day(offset: int, base: date = D1) -> date:
    return base + timedelta(days=offset)


def results(*dates: date, instrument: str = "pcl5") -> list[Dated]:
    return [Dated(index + 1, instrument, on) for index, on in enumerate(dates)]


def of(found: list[Occurrence], timepoint: str, number: int | None = None) -> Occurrence:
    matches = [o for o in found if o.timepoint == timepoint and (number is None or o.number == number)]
    assert len(matches) == 1, matches
    return matches[0]


def statuses(found: list[Occurrence]) -> list[tuple[str, int | None, Status]]:
    return [(o.timepoint.value, o.number, o.status) for o in found]


# Baseline ---------------------------------------------------------------------------------------------------------


def test_in_preparation_the_baseline_is_due_until_a_recent_result_exists():
    course = Course(planned_dosings=3)
    today = date(2026, 2, 20)
    found = schedule([PCL5], course, [], today, SETTINGS)
    baseline = of(found, "baseline")
    assert baseline.status is Status.DUE
    assert (baseline.opens, baseline.closes) == (today - timedelta(days=30), today)
    done = of(schedule([PCL5], course, results(today - timedelta(days=30)), today, SETTINGS), "baseline")
    assert done.status is Status.DONE and done.results == (1,)
    stale = of(schedule([PCL5], course, results(today - timedelta(days=31)), today, SETTINGS), "baseline")
    assert stale.status is Status.DUE


def test_once_dosed_the_baseline_is_what_came_before_the_first_session():
    course = Course(planned_dosings=3, dosing_dates=(D1,))
    today = day(10)
    assert of(schedule([PCL5], course, results(day(-3)), today, SETTINGS), "baseline").status is Status.DONE
    assert of(schedule([PCL5], course, results(D1), today, SETTINGS), "baseline").status is Status.DONE
    # A result after the first dosing session is not a baseline; dosing without one leaves it overdue.
    late = of(schedule([PCL5], course, results(day(1)), today, SETTINGS), "baseline")
    assert late.status is Status.OVERDUE and (late.opens, late.closes) == (day(-30), D1)
    assert of(schedule([PCL5], course, results(day(-31)), today, SETTINGS), "baseline").status is Status.OVERDUE


def test_results_of_another_instrument_do_not_count():
    course = Course(planned_dosings=3)
    found = schedule([PCL5], course, results(date(2026, 2, 19), instrument="phq9"), date(2026, 2, 20), SETTINGS)
    assert of(found, "baseline").status is Status.DUE


# After each dosing, across cycles ------------------------------------------------------------------------------


def test_after_each_dosing_has_one_occurrence_per_planned_session_and_the_unheld_ones_are_upcoming():
    course = Course(planned_dosings=3, dosing_dates=(D1,))
    found = schedule([PCL5], course, [], day(3), SETTINGS)
    after = [o for o in found if o.timepoint is Timepoint.AFTER_EACH_DOSING]
    assert [(o.number, o.status) for o in after] == [(1, Status.DUE), (2, Status.UPCOMING), (3, Status.UPCOMING)]
    assert (after[0].opens, after[0].closes) == (day(1), day(14))
    assert after[1].opens is None and after[1].closes is None


def test_the_dosing_day_itself_is_not_after_dosing():
    course = Course(planned_dosings=1, dosing_dates=(D1,))
    assert of(schedule([PCL5], course, [], D1, SETTINGS), "after_each_dosing").status is Status.UPCOMING
    assert of(schedule([PCL5], course, results(D1), day(2), SETTINGS), "after_each_dosing").status is Status.DUE


def test_three_dosing_cycles_done_overdue_and_due():
    course = Course(planned_dosings=3, dosing_dates=(D1, D2, D3))
    found = schedule([PCL5], course, results(day(-5), day(7), day(3, D3)), day(5, D3), SETTINGS)
    assert [(o.number, o.status) for o in found if o.timepoint is Timepoint.AFTER_EACH_DOSING] == [
        (1, Status.DONE),
        (2, Status.OVERDUE),
        (3, Status.DONE),
    ]
    assert of(found, "after_each_dosing", 1).results == (2,)
    without_third = schedule([PCL5], course, results(day(-5), day(7)), day(5, D3), SETTINGS)
    assert of(without_third, "after_each_dosing", 3).status is Status.DUE
    late = schedule([PCL5], course, results(day(-5), day(7)), day(15, D3), SETTINGS)
    assert of(late, "after_each_dosing", 3).status is Status.OVERDUE


def test_the_window_closes_on_the_day_of_the_next_dosing_session():
    """Twice-weekly esketamine: the window after a session ends when the next one is given."""
    dates = (D1, day(3), day(7))
    course = Course(planned_dosings=8, dosing_dates=dates)
    found = schedule(
        [MeasureDue("phq9", ("after_each_dosing",), "t")], course, results(day(3), instrument="phq9"), day(8), SETTINGS
    )
    first, second, third = (of(found, "after_each_dosing", n) for n in (1, 2, 3))
    assert (first.opens, first.closes, first.status) == (day(1), day(3), Status.DONE)
    assert (second.opens, second.closes, second.status) == (day(4), day(7), Status.OVERDUE)
    assert (third.opens, third.closes, third.status) == (day(8), day(21), Status.DUE)
    assert len([o for o in found if o.timepoint is Timepoint.AFTER_EACH_DOSING]) == 8


def test_dosing_dates_are_sorted_and_a_day_counts_once():
    course = Course(planned_dosings=2, dosing_dates=(D2, D1, D1))
    assert course.dosing_dates == (D1, D2)


def test_more_sessions_than_planned_are_all_listed():
    course = Course(planned_dosings=1, dosing_dates=(D1, D2))
    found = schedule([PCL5], course, [], day(1, D2), SETTINGS)
    assert [o.number for o in found if o.timepoint is Timepoint.AFTER_EACH_DOSING] == [1, 2]


# End of treatment and follow-ups --------------------------------------------------------------------------------


def test_end_of_treatment_is_unknown_until_every_planned_session_is_held():
    course = Course(planned_dosings=3, dosing_dates=(D1, D2))
    assert end_of_treatment(course, SETTINGS) is None
    found = schedule([PCL5], course, [], day(3, D2), SETTINGS)
    assert of(found, "end_of_treatment").status is Status.UPCOMING
    assert [o.status for o in found if o.timepoint is Timepoint.FOLLOW_UP] == [Status.UPCOMING] * 2
    assert [o.label for o in found if o.timepoint is Timepoint.FOLLOW_UP] == [
        "Follow-up 1 (90 days after the end of treatment)",
        "Follow-up 2 (180 days after the end of treatment)",
    ]


def test_end_of_treatment_is_expected_after_the_last_session_then_set_by_completion():
    course = Course(planned_dosings=3, dosing_dates=(D1, D2, D3))
    expected = day(28, D3)
    assert end_of_treatment(course, SETTINGS) == expected
    end = of(schedule([PCL5], course, [], day(5, D3), SETTINGS), "end_of_treatment")
    assert (end.opens, end.closes, end.status) == (day(14, D3), day(42, D3), Status.UPCOMING)
    assert of(schedule([PCL5], course, [], day(20, D3), SETTINGS), "end_of_treatment").status is Status.DUE
    assert (
        of(schedule([PCL5], course, results(day(30, D3)), day(60, D3), SETTINGS), "end_of_treatment").status
        is Status.DONE
    )
    assert of(schedule([PCL5], course, [], day(43, D3), SETTINGS), "end_of_treatment").status is Status.OVERDUE

    completed = Course(planned_dosings=3, dosing_dates=(D1, D2, D3), completed_on=day(5, D3))
    end = of(schedule([PCL5], completed, [], day(5, D3), SETTINGS), "end_of_treatment")
    # Never before the day after the last dosing session, whatever the window.
    assert (end.opens, end.closes, end.status) == (day(1, D3), day(19, D3), Status.DUE)


def test_completing_early_drops_the_dosing_sessions_that_never_happened():
    course = Course(planned_dosings=3, dosing_dates=(D1,), completed_on=day(40))
    found = schedule([PCL5], course, results(day(-1), day(5)), day(41), SETTINGS)
    assert statuses(found) == [
        ("baseline", None, Status.DONE),
        ("after_each_dosing", 1, Status.DONE),
        ("end_of_treatment", None, Status.DUE),
        ("follow_up", 1, Status.UPCOMING),
        ("follow_up", 2, Status.UPCOMING),
    ]


def test_follow_ups_are_counted_from_the_end_of_treatment():
    end = date(2026, 6, 1)
    course = Course(planned_dosings=1, dosing_dates=(D1,), completed_on=end)
    found = schedule([PCL5], course, results(end + timedelta(days=80)), end + timedelta(days=100), SETTINGS)
    first, second = of(found, "follow_up", 1), of(found, "follow_up", 2)
    assert (first.opens, first.closes, first.status) == (
        end + timedelta(days=76),
        end + timedelta(days=104),
        Status.DONE,
    )
    assert (second.opens, second.closes, second.status) == (
        end + timedelta(days=166),
        end + timedelta(days=194),
        Status.UPCOMING,
    )
    later = schedule([PCL5], course, results(end + timedelta(days=80)), end + timedelta(days=195), SETTINGS)
    assert of(later, "follow_up", 2).status is Status.OVERDUE


def test_only_the_protocols_timepoints_are_scheduled():
    course = Course(planned_dosings=2, dosing_dates=(D1,))
    found = schedule(
        [CSSRS, MeasureDue("qids_sr16", ("baseline", "end_of_treatment"), "t")], course, [], day(2), SETTINGS
    )
    assert [(o.instrument, o.timepoint.value, o.number) for o in found] == [
        ("cssrs", "baseline", None),
        ("cssrs", "after_each_dosing", 1),
        ("cssrs", "after_each_dosing", 2),
        ("qids_sr16", "baseline", None),
        ("qids_sr16", "end_of_treatment", None),
    ]


def test_the_windows_are_settings():
    course = Course(planned_dosings=1, dosing_dates=(D1,))
    wide = Settings(after_dosing_window_days=30, baseline_max_age_days=90, follow_up_days=(30,))
    found = schedule([PCL5], course, results(day(-60), day(25)), day(26), wide)
    assert of(found, "baseline").status is Status.DONE
    assert of(found, "after_each_dosing").status is Status.DONE
    assert len([o for o in found if o.timepoint is Timepoint.FOLLOW_UP]) == 1


def test_a_clinic_s_settings_are_its_windows():
    clinic = Clinic(
        measure_baseline_max_age_days=20,
        measure_after_dosing_window_days=7,
        measure_end_after_last_dosing_days=21,
        measure_end_window_days=10,
        measure_follow_up_days="30,365",
        measure_follow_up_window_days=5,
    )
    assert Settings.of_clinic(clinic) == Settings(20, 7, 21, 10, (30, 365), 5)


# Properties -----------------------------------------------------------------------------------------------------


@given(
    gaps=st.lists(st.integers(1, 60), max_size=6),
    offsets=st.lists(st.integers(-60, 400), max_size=12),
    today=st.integers(0, 600),
    planned=st.integers(1, 8),
)
def test_statuses_follow_the_windows(gaps, offsets, today, planned):
    dates = [D1]
    for gap in gaps:
        dates.append(dates[-1] + timedelta(days=gap))
    found = schedule([PCL5], Course(planned, tuple(dates)), results(*(day(o) for o in offsets)), day(today), SETTINGS)
    for occurrence in found:
        if occurrence.opens is None:
            assert occurrence.status is Status.UPCOMING and not occurrence.results
            continue
        assert occurrence.opens <= occurrence.closes
        inside = [r for r in results(*(day(o) for o in offsets)) if occurrence.opens <= r.on <= occurrence.closes]
        assert (occurrence.status is Status.DONE) == bool(inside)
        if occurrence.status is Status.OVERDUE:
            assert day(today) > occurrence.closes
        if occurrence.status is Status.DUE:
            assert occurrence.opens <= day(today) <= occurrence.closes
    after = [o for o in found if o.timepoint is Timepoint.AFTER_EACH_DOSING]
    assert len(after) == max(planned, len(dates))


# The gate's question ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dated", "problem"),
    [
        ((), "Baseline PCL-5 not recorded: record it on the patient's measures page before the first dosing session."),
        ((D1,), None),
        ((day(-30),), None),
        (
            (day(-31),),
            "Baseline PCL-5: the latest is dated 2026-01-30, more than 30 days before this first dosing "
            "session. Record a new one.",
        ),
        (
            (day(1),),
            "Baseline PCL-5 not recorded: record it on the patient's measures page before the first dosing session.",
        ),
    ],
)
def test_baseline_problems_name_the_instrument_and_what_to_do(dated, problem):
    found = baseline_problems([PCL5, MeasureDue("phq9", ("after_each_dosing",), "t")], results(*dated), D1, SETTINGS)
    assert found == ([problem] if problem else [])
