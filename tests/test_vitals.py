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

#: (protocol, sign, value just inside, value just outside, direction), from the protocol files and their sources.
THRESHOLDS = [
    ("mdma-ptsd", "systolic", 160, 161, "above"),  # SBP > 160 in 33% (Vizeli 2017)
    ("mdma-ptsd", "systolic", 90, 89, "below"),  # below 90/60 (AHA)
    ("mdma-ptsd", "diastolic", 100, 101, "above"),  # ESH/ESC 2018 grade 2
    ("mdma-ptsd", "diastolic", 60, 59, "below"),
    ("mdma-ptsd", "heart_rate", 100, 101, "above"),  # HR > 100 in 29% (Vizeli 2017)
    ("mdma-ptsd", "heart_rate", 41, 40, "below"),  # NEWS2 scores 40 or less 3
    ("mdma-ptsd", "temperature", 38.0, 38.1, "above"),  # > 38 C in 19% (Vizeli 2017)
    ("mdma-ptsd", "temperature", 35.1, 35.0, "below"),  # NEWS2 scores 35.0 or less 3
    ("psilocybin-mdd", "systolic", 160, 161, "above"),
    ("psilocybin-mdd", "systolic", 90, 89, "below"),
    ("psilocybin-mdd", "diastolic", 100, 101, "above"),
    ("psilocybin-mdd", "diastolic", 60, 59, "below"),
    ("psilocybin-mdd", "heart_rate", 130, 131, "above"),  # NEWS2 scores 131 or more 3
    ("psilocybin-mdd", "heart_rate", 41, 40, "below"),
    ("ketamine-iv-trd", "systolic", 180, 181, "above"),  # SmPC > 180/100
    ("ketamine-iv-trd", "systolic", 90, 89, "below"),
    ("ketamine-iv-trd", "diastolic", 100, 101, "above"),
    ("ketamine-iv-trd", "diastolic", 60, 59, "below"),
    ("ketamine-iv-trd", "heart_rate", 130, 131, "above"),
    ("ketamine-iv-trd", "heart_rate", 41, 40, "below"),
    ("ketamine-iv-trd", "spo2", 92, 91, "below"),  # NEWS2 scores 91 or less 3
    ("esketamine-rems-trd", "systolic", 180, 181, "above"),  # ESH/ESC 2018 grade 3 (the label's 140/90 is pre-dose)
    ("esketamine-rems-trd", "systolic", 90, 89, "below"),
    ("esketamine-rems-trd", "diastolic", 110, 111, "above"),
    ("esketamine-rems-trd", "diastolic", 60, 59, "below"),
    ("esketamine-rems-trd", "spo2", 93, 92, "below"),  # pulse oximetry; alert below 93 (clinic setting)
    # The psilocybin protocols of the further indications (cancer, alcohol, tobacco, OCD) keep psilocybin-mdd's limits
    # (same sources).
    *[
        (code, sign, inside, outside, direction)
        for code in (
            "psilocybin-cancer-hopkins",
            "psilocybin-cancer-nyu",
            "psilocybin-aud",
            "psilocybin-tobacco",
            "psilocybin-ocd",
        )
        for sign, inside, outside, direction in (
            ("systolic", 160, 161, "above"),
            ("systolic", 90, 89, "below"),
            ("diastolic", 100, 101, "above"),
            ("diastolic", 60, 59, "below"),
            ("heart_rate", 130, 131, "above"),
            ("heart_rate", 41, 40, "below"),
        )
    ],
]


@pytest.mark.parametrize("code,sign,inside,outside,direction", THRESHOLDS)
def test_each_protocol_threshold_flags_only_beyond_the_limit(code, sign, inside, outside, direction):
    limits = PROTOCOLS[code].vital_limits
    assert vitals.check(reading(sign, inside), limits) == []
    (flag,) = vitals.check(reading(sign, outside), limits)
    assert flag.sign == sign and flag.value == outside
    assert flag.direction == direction
    assert flag.source  # every flag carries the threshold's source
    assert vitals.LABELS[sign] in flag.text and "protocol's limit" in flag.text


def test_the_thresholds_cover_every_limit_shipped():
    """Every low and every high limit a protocol ships, except an SpO2 ceiling of 100% (nothing lies above it)."""
    shipped = {
        (code, limit.sign, direction)
        for code, limit in LIMITS
        for direction, bound in (("above", limit.high), ("below", limit.low))
        if bound is not None and not (limit.sign == "spo2" and direction == "above" and bound >= 100)
    }
    assert shipped == {(code, sign, direction) for code, sign, _, _, direction in THRESHOLDS}


def test_every_monitored_sign_has_a_low_and_a_high_limit():
    for protocol in PROTOCOLS.values():
        assert protocol.monitored_signs, protocol.code
        for sign in protocol.monitored_signs:
            limit = protocol.limit(sign)
            assert limit is not None and limit.low is not None and limit.high is not None, (protocol.code, sign)


def test_no_limits_flag_nothing():
    assert vitals.check(Reading(220, 130, 160, 40.0, 80), ()) == []


def test_a_reading_flags_every_value_out_of_range_in_a_fixed_order():
    flags = vitals.check(Reading(systolic=171, diastolic=104, heart_rate=112), PROTOCOLS["mdma-ptsd"].vital_limits)
    assert [f.sign for f in flags] == ["systolic", "diastolic", "heart_rate"]
    assert flags[2].text == "Heart rate 112 bpm is above the protocol's limit of 100 bpm"


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
    limit = VitalLimit("heart_rate", float(low) if low is not None else None, float((low or 20) + width), "test")
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
