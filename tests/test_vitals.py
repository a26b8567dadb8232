"""Vital signs (tracker/vitals.py): each protocol's thresholds flag what lies outside them and nothing else, and
impossible values are refused with a message, whatever the numbers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tracker import vitals
from tracker.protocols import VitalLimit, load_protocols
from tracker.vitals import PLAUSIBLE, Reading

PROTOCOLS = load_protocols()
LIMITS = [(code, limit) for code, protocol in sorted(PROTOCOLS.items()) for limit in protocol.vital_limits]


def reading(sign: str, value: float) -> Reading:
    return Reading(**{sign: value})


# Each shipped threshold, at and just beyond the limit -------------------------------------------------------------

#: (protocol, sign, value just inside, value just outside), from the protocol files and their sources.
THRESHOLDS = [
    ("mdma-ptsd", "systolic", 160, 161),  # SBP > 160 in 33% [46]
    ("mdma-ptsd", "heart_rate", 100, 101),  # HR > 100 in 29% [46]
    ("mdma-ptsd", "temperature", 38.0, 38.1),  # > 38 C in 19% [46]
    ("ketamine-iv-trd", "systolic", 180, 181),  # SmPC > 180/100 [66]
    ("ketamine-iv-trd", "diastolic", 100, 101),
    ("esketamine-rems-trd", "systolic", 140, 141),  # label > 140/90 [70]
    ("esketamine-rems-trd", "diastolic", 90, 91),
    ("esketamine-rems-trd", "spo2", 93, 92),  # pulse oximetry; alert below 93 (clinic setting)
]


@pytest.mark.parametrize("code,sign,inside,outside", THRESHOLDS)
def test_each_protocol_threshold_flags_only_beyond_the_limit(code, sign, inside, outside):
    limits = PROTOCOLS[code].vital_limits
    assert vitals.check(reading(sign, inside), limits) == []
    (flag,) = vitals.check(reading(sign, outside), limits)
    assert flag.sign == sign and flag.value == outside
    assert flag.direction == ("below" if sign == "spo2" else "above")
    assert flag.source  # every flag carries the threshold's source
    assert vitals.LABELS[sign] in flag.text and "protocol's limit" in flag.text


def test_the_thresholds_cover_every_limit_shipped():
    assert {(code, limit.sign) for code, limit in LIMITS} == {(code, sign) for code, sign, _, _ in THRESHOLDS}


def test_psilocybin_sets_no_limits_so_nothing_is_flagged():
    assert PROTOCOLS["psilocybin-mdd"].vital_limits == ()
    assert vitals.check(Reading(220, 130, 160, 40.0, 80), ()) == []


def test_a_reading_flags_every_value_out_of_range_in_a_fixed_order():
    flags = vitals.check(Reading(systolic=171, diastolic=104, heart_rate=112), PROTOCOLS["mdma-ptsd"].vital_limits)
    assert [f.sign for f in flags] == ["systolic", "heart_rate"]  # MDMA sets no diastolic limit
    assert flags[1].text == "Heart rate 112 bpm is above the protocol's limit of 100 bpm"


# Properties over any value -----------------------------------------------------------------------------------------


def plausible(sign: str) -> st.SearchStrategy[float]:
    low, high = PLAUSIBLE[sign]
    if sign == "temperature":
        return st.floats(low, high, allow_nan=False).map(lambda v: round(v, 1))
    return st.integers(int(low), int(high))


@given(data=st.data(), case=st.sampled_from(LIMITS))
def test_any_value_outside_a_limit_is_flagged_and_any_inside_is_not(data, case):
    _code, limit = case
    value = data.draw(plausible(limit.sign))
    flags = vitals.check(reading(limit.sign, value), [limit])
    beyond = (limit.high is not None and value > limit.high) or (limit.low is not None and value < limit.low)
    assert bool(flags) is beyond
    assert vitals.validate(reading(limit.sign, value)) == {}  # a flagged value is still a valid reading


@given(
    low=st.one_of(st.none(), st.integers(20, 120)),
    width=st.integers(1, 100),
    value=st.floats(-1000, 1000, allow_nan=False),
)
def test_the_flag_follows_the_limit_for_any_threshold(low, width, value):
    limit = VitalLimit("heart_rate", float(low) if low is not None else None,
                       float((low or 20) + width), "test")
    flagged = bool(vitals.check(Reading(heart_rate=value), [limit]))
    assert flagged is (value > limit.high or (limit.low is not None and value < limit.low))


# Nonsense is refused ---------------------------------------------------------------------------------------------

NONSENSE = [
    (Reading(heart_rate=-5), "heart_rate", "cannot be negative"),
    (Reading(systolic=-120, diastolic=80), "systolic", "cannot be negative"),
    (Reading(heart_rate=400), "heart_rate", "not possible"),
    (Reading(systolic=80, diastolic=120), "systolic", "must be above diastolic"),
    (Reading(systolic=90, diastolic=90), "systolic", "must be above diastolic"),
    (Reading(temperature=3.7), "temperature", "not possible"),
    (Reading(temperature=98.6), "temperature", "not possible"),  # Fahrenheit typed into Celsius
    (Reading(spo2=101), "spo2", "not possible"),
    (Reading(), "systolic", "at least one measurement"),
]


@pytest.mark.parametrize("given_reading,field,message", NONSENSE)
def test_nonsense_is_refused_with_a_message_next_to_the_field(given_reading, field, message):
    assert message in vitals.validate(given_reading)[field]


@given(sign=st.sampled_from(vitals.SIGNS), value=st.floats(-1e6, 1e6, allow_nan=False))
def test_any_value_outside_what_is_possible_is_refused(sign, value):
    low, high = PLAUSIBLE[sign]
    problems = vitals.validate(reading(sign, value))
    assert (sign in problems) is not (low <= value <= high)


@given(systolic=st.integers(50, 300), diastolic=st.integers(20, 200))
def test_systolic_must_exceed_diastolic(systolic, diastolic):
    problems = vitals.validate(Reading(systolic=systolic, diastolic=diastolic))
    assert ("systolic" in problems) is (systolic <= diastolic)
