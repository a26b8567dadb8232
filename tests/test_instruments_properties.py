"""Properties of scoring over random answers: totals in range, the band that holds the total, bands that never go
down as answers go up, rules that match an independent reading of the published sources, and bad answers that
always raise ``ScoringError`` and nothing else. The Hypothesis profile (example count, derandomised in CI) is set in
conftest.
"""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import assume, example, given
from hypothesis import strategies as st

from tracker.instruments import ScoringError, change, get_instrument, score

WITH_TOTAL = ["phq9", "gad7", "pcl5", "qids_sr16", "madrs"]
HIGHEST = {"phq9": 3, "gad7": 3, "pcl5": 4, "qids_sr16": 3, "madrs": 6}
COUNT = {"phq9": 9, "gad7": 7, "pcl5": 20, "qids_sr16": 16, "madrs": 10}
#: Upper bounds of each band, least severe first, from the published sources (Kroenke 2001, Spitzer 2006, the
#: IDS/QIDS site, Snaith 1986; PCL-5 at the default cut-point 33).
BAND_TOPS = {
    "phq9": [4, 9, 14, 19, 27],
    "gad7": [4, 9, 14, 21],
    "pcl5": [32, 80],
    "qids_sr16": [5, 10, 15, 20, 27],
    "madrs": [6, 19, 34, 60],
}
QIDS_DOMAINS = [[1, 2, 3, 4], [5], [6, 7, 8, 9], [10], [11], [12], [13], [14], [15, 16]]
PCL5_CLUSTERS = {"B": (range(1, 6), 1), "C": (range(6, 8), 1), "D": (range(8, 15), 2), "E": (range(15, 21), 2)}


def valid_answers(code: str) -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(0, HIGHEST[code]), min_size=COUNT[code], max_size=COUNT[code])


def instrument_and_answers() -> st.SearchStrategy[tuple[str, list[int]]]:
    return st.sampled_from(WITH_TOTAL).flatmap(lambda code: st.tuples(st.just(code), valid_answers(code)))


def expected_total(code: str, answers: list[int]) -> int:
    if code == "qids_sr16":
        return sum(max(answers[n - 1] for n in domain) for domain in QIDS_DOMAINS)
    return sum(answers)


def expected_band_index(code: str, total: int) -> int:
    return next(index for index, top in enumerate(BAND_TOPS[code]) if total <= top)


@given(instrument_and_answers())
@example(("phq9", [3] * 9))
@example(("phq9", [0] * 9))
@example(("qids_sr16", [2, 3, 1, 0, 2, 1, 0, 2, 0, 1, 2, 0, 2, 1, 3, 1]))  # 16 by domains, 21 as a plain sum
@example(("pcl5", [4] * 20))
def test_total_in_range_and_the_band_holds_it(case):
    code, answers = case
    result = score(code, answers)
    instrument = get_instrument(code)
    assert instrument.total_range is not None and result.total is not None
    low, high = instrument.total_range
    assert low <= result.total <= high
    assert result.total == expected_total(code, answers)
    assert result.band_index == expected_band_index(code, result.total)
    band = instrument.bands[result.band_index]
    assert band.label == result.band
    assert band.min is not None and band.max is not None and band.min <= result.total <= band.max


@given(instrument_and_answers(), st.data())
def test_bands_never_go_down_as_answers_go_up(case, data):
    code, answers = case
    raised = [data.draw(st.integers(a, HIGHEST[code])) for a in answers]
    lower, higher = score(code, answers), score(code, raised)
    assert lower.total is not None and higher.total is not None
    assert higher.total >= lower.total
    assert higher.band_index >= lower.band_index


@given(st.sampled_from(WITH_TOTAL).flatmap(lambda c: st.tuples(st.just(c), valid_answers(c), valid_answers(c))))
def test_a_higher_total_never_has_a_lower_band(case):
    code, first, second = case
    a, b = score(code, first), score(code, second)
    assert a.total is not None and b.total is not None
    if a.total <= b.total:
        assert a.band_index <= b.band_index


@given(st.lists(st.integers(0, 3), min_size=16, max_size=16))
@example([3, 3, 3, 3] + [0] * 12)
def test_qids_total_is_the_sum_of_domain_scores_and_never_above_the_plain_sum(answers):
    result = score("qids_sr16", answers)
    assert result.total == sum(s.score for s in result.subscales) <= sum(answers)
    assert [s.score for s in result.subscales] == [max(answers[n - 1] for n in d) for d in QIDS_DOMAINS]


@given(st.lists(st.integers(0, 4), min_size=20, max_size=20))
@example([2, 1, 1, 1, 1, 2, 1, 2, 2, 1, 1, 1, 1, 1, 2, 2, 1, 1, 1, 1])
def test_pcl5_clusters_add_up_and_the_diagnosis_follows_the_cluster_rule(answers):
    result = score("pcl5", answers)
    assert sum(s.score for s in result.subscales) == result.total
    met = {
        cluster: sum(1 for n in items if answers[n - 1] >= 2) >= needed
        for cluster, (items, needed) in PCL5_CLUSTERS.items()
    }
    assert {s.code: s.met for s in result.subscales} == met
    assert result.provisional_diagnosis is all(met.values())


yes_no = st.sampled_from(["yes", "no"])


@st.composite
def cssrs_answers(draw: st.DrawFn) -> list[str | None]:
    q1, q2 = draw(yes_no), draw(yes_no)
    ideation = [draw(yes_no) for _ in range(3)] if q2 == "yes" else [None, None, None]
    return [q1, q2, *ideation, draw(st.sampled_from(["no", "past_3_months", "lifetime"]))]


def expected_cssrs_level(a: list[str | None]) -> str:
    if "yes" in (a[3], a[4]) or a[5] == "past_3_months":
        return "high risk"
    if a[2] == "yes" or a[5] == "lifetime":
        return "moderate risk"
    if "yes" in (a[0], a[1]):
        return "low risk"
    return "no risk"


@given(cssrs_answers())
@example(["no", "no", None, None, None, "past_3_months"])
def test_cssrs_level_follows_the_triage_table_and_only_moderate_or_high_is_urgent(answers):
    result = score("cssrs", answers)
    level = expected_cssrs_level(answers)
    assert (result.total, result.band) == (None, level)
    assert result.urgent is (level in {"moderate risk", "high risk"})


# -- invalid answers ---------------------------------------------------------------------------------------------

junk = st.one_of(
    st.none(),
    st.booleans(),
    st.floats(allow_nan=True),
    st.text(max_size=5),
    st.binary(max_size=3),
    st.integers(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)
#: Bad answers to a numeric item (whole numbers are drawn around the scale, and the valid ones left out).
bad_numeric = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 9),
    st.integers(),
    st.floats(),
    st.text(max_size=3),
    st.binary(max_size=2),
    st.lists(st.integers(0, 3), max_size=2),
)


@given(instrument_and_answers(), st.integers(0, 19), bad_numeric)
@example(("pcl5", [1] * 20), 19, 5)  # 1-5 coding
@example(("phq9", [0] * 9), 8, True)
def test_one_bad_answer_always_raises_scoring_error(case, position, value):
    code, answers = case
    assume(not (type(value) is int and 0 <= value <= HIGHEST[code]))
    bad: list[Any] = list(answers)
    bad[position % len(bad)] = value
    try:
        score(code, bad)
    except ScoringError as error:
        assert get_instrument(code).short_name in str(error)
    else:
        raise AssertionError(f"{code} accepted {bad!r}")


@given(instrument_and_answers(), st.integers(1, 5), st.booleans())
def test_a_wrong_number_of_answers_always_raises_scoring_error(case, by, longer):
    code, answers = case
    wrong = answers + [0] * by if longer else answers[:-by]
    try:
        score(code, wrong)
    except ScoringError as error:
        assert f"expected {COUNT[code]} answers" in str(error)
    else:
        raise AssertionError(f"{code} accepted {len(wrong)} answers")


@given(cssrs_answers(), st.data())
def test_a_bad_cssrs_answer_always_raises_scoring_error(answers, data):
    bad: list[Any] = list(answers)
    how = data.draw(st.sampled_from(["junk", "missing", "skipped_but_answered", "asked_but_missing"]))
    if how == "junk":
        options = ("yes", "no", "past_3_months", "lifetime")
        bad[data.draw(st.integers(0, 5))] = data.draw(junk.filter(lambda v: v is not None and v not in options))
    elif how == "missing":
        bad[data.draw(st.sampled_from([0, 1, 5]))] = None
    elif how == "skipped_but_answered":
        bad[1], bad[data.draw(st.integers(2, 4))] = "no", data.draw(yes_no)
    else:
        bad[1], bad[data.draw(st.integers(2, 4))] = "yes", None
    try:
        score("cssrs", bad)
    except ScoringError as error:
        assert str(error).startswith("C-SSRS item ")
    else:
        raise AssertionError(f"accepted {bad!r}")


@given(st.sampled_from([*WITH_TOTAL, "cssrs", "nope"]), st.one_of(junk, st.lists(junk, max_size=22)))
def test_anything_at_all_is_scored_or_refused_with_scoring_error(code, answers):
    with contextlib.suppress(ScoringError):
        score(code, answers)


@given(st.sampled_from([*WITH_TOTAL, "cssrs"]), junk, junk)
def test_change_on_anything_is_read_or_refused_with_scoring_error(code, baseline, current):
    with contextlib.suppress(ScoringError):
        change(code, baseline, current)


@given(st.sampled_from(WITH_TOTAL), st.data())
def test_change_difference_is_current_minus_baseline(code, data):
    low, high = get_instrument(code).total_range or (0, 0)
    baseline, current = data.draw(st.integers(low, high)), data.draw(st.integers(low, high))
    result = change(code, baseline, current)
    assert result.difference == current - baseline
