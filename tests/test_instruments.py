"""Instrument scoring: bands, item flags, clusters, domains, skip logic, refusals and change rules, by example.

Expected bands and rules are written out here from the published sources (each named below and cited in full in
the instrument's data file), not read from the data files, so a typo
in a file fails a test instead of being copied into the expectation.
"""

from __future__ import annotations

import pytest

from tracker.instruments import ScoringError, change, get_instrument, score, standing_only


def answers_with_total(code: str, total: int) -> list[int]:
    """Answers giving ``total``: filled item by item (for QIDS-SR16, the first item of each domain)."""
    instrument = get_instrument(code)
    slots = [s.items[0] for s in instrument.subscales] if code == "qids_sr16" else range(1, len(instrument.items) + 1)
    answers = [0] * len(instrument.items)
    left = total
    for number in slots:
        answers[number - 1] = min(left, instrument.item(number).scale.highest)
        left -= answers[number - 1]
    assert left == 0, f"{code} cannot reach {total}"
    return answers


# -- bands at every boundary -----------------------------------------------------------------------------------

BOUNDARIES = [
    # PHQ-9: Kroenke K, Spitzer RL, Williams JBW 2001, J Gen Intern Med 16:606
    *[("phq9", t, "minimal") for t in (0, 4)],
    *[("phq9", t, "mild") for t in (5, 9)],
    *[("phq9", t, "moderate") for t in (10, 14)],
    *[("phq9", t, "moderately severe") for t in (15, 19)],
    *[("phq9", t, "severe") for t in (20, 27)],
    # GAD-7: Spitzer RL, Kroenke K, Williams JBW, Löwe B 2006, Arch Intern Med 166:1092
    *[("gad7", t, "minimal") for t in (0, 4)],
    *[("gad7", t, "mild") for t in (5, 9)],
    *[("gad7", t, "moderate") for t in (10, 14)],
    *[("gad7", t, "severe") for t in (15, 21)],
    # PCL-5 at the default cut-point 33: National Center for PTSD, Using the PCL-5; Bovin MJ et al. 2016, Psychol
    # Assess 28:1379
    *[("pcl5", t, "below provisional cut-point") for t in (0, 32)],
    *[("pcl5", t, "at or above provisional cut-point") for t in (33, 80)],
    # QIDS-SR16: https://ids-qids.org/interpretation.html
    *[("qids_sr16", t, "none") for t in (0, 5)],
    *[("qids_sr16", t, "mild") for t in (6, 10)],
    *[("qids_sr16", t, "moderate") for t in (11, 15)],
    *[("qids_sr16", t, "severe") for t in (16, 20)],
    *[("qids_sr16", t, "very severe") for t in (21, 27)],
    # MADRS: Snaith RP, Harrop FM, Newby DA, Teale C 1986, Br J Psychiatry 148:599
    *[("madrs", t, "absent") for t in (0, 6)],
    *[("madrs", t, "mild") for t in (7, 19)],
    *[("madrs", t, "moderate") for t in (20, 34)],
    *[("madrs", t, "severe") for t in (35, 60)],
]


@pytest.mark.parametrize(("code", "total", "band"), BOUNDARIES)
def test_each_band_boundary(code, total, band):
    result = score(code, answers_with_total(code, total))
    assert (result.total, result.band) == (total, band)


@pytest.mark.parametrize(
    ("cut_point", "total", "band"), [(31, 30, "below"), (31, 31, "at or above"), (32, 32, "at or above")]
)
def test_the_pcl5_cut_point_is_a_setting_within_31_to_33(cut_point, total, band):
    result = score("pcl5", answers_with_total("pcl5", total), cut_point=cut_point)
    assert result.band == f"{band} provisional cut-point"
    assert result.cut_point == cut_point
    assert score("pcl5", [0] * 20).cut_point == 33


@pytest.mark.parametrize("cut_point", [30, 34, 38, True, "33", 33.0])
def test_a_pcl5_cut_point_outside_31_to_33_is_refused(cut_point):
    with pytest.raises(ScoringError, match="PCL-5: cut-point"):
        score("pcl5", [0] * 20, cut_point=cut_point)


def test_only_the_pcl5_takes_a_cut_point():
    with pytest.raises(ScoringError, match="PHQ-9: has no cut-point"):
        score("phq9", [0] * 9, cut_point=33)


# -- item-level and total flags ----------------------------------------------------------------------------------


@pytest.mark.parametrize("item9", [1, 2, 3])
def test_phq9_item9_above_zero_raises_an_urgent_flag(item9):
    result = score("phq9", [0] * 8 + [item9])
    assert [(f.code, f.urgent) for f in result.flags] == [("phq9-item9", True)]
    assert "clinician follow-up" in result.flags[0].message
    assert result.urgent


def test_phq9_item9_at_zero_raises_nothing_even_with_a_severe_total():
    result = score("phq9", [3] * 8 + [0])
    assert (result.total, result.band, result.flags, result.urgent) == (24, "severe", (), False)


def test_gad7_total_of_10_warrants_evaluation_but_is_not_urgent():
    assert score("gad7", answers_with_total("gad7", 9)).flags == ()
    result = score("gad7", answers_with_total("gad7", 10))
    assert [(f.code, f.urgent) for f in result.flags] == [("gad7-evaluate", False)]


@pytest.mark.parametrize(
    ("answer", "code", "urgent", "high_risk"),
    [(1, "qids-item12", False, False), (2, "qids-item12-frequent", True, False), (3, "qids-item12-plan", True, True)],
)
def test_qids_item12_each_answer_has_its_flag_two_is_urgent_three_holds_the_dose(answer, code, urgent, high_risk):
    """Rush 2003: 2 = thoughts of suicide or death several times a week; 3 = several times a day in depth, or
    specific plans, or an attempt."""
    answers = [0] * 16
    assert score("qids_sr16", answers).flags == ()
    answers[11] = answer
    result = score("qids_sr16", answers)
    assert [(f.code, f.urgent, f.high_risk) for f in result.flags] == [(code, urgent, high_risk)]
    assert (result.urgent, result.high_risk) == (urgent, high_risk)
    assert "Rush AJ et al. 2003" in result.flags[0].source


@pytest.mark.parametrize(
    ("rating", "codes", "high_risk"),
    [
        (0, [], False),
        (3, [], False),
        (4, ["madrs-item10"], False),
        (5, ["madrs-item10"], False),
        (6, ["madrs-item10-plans"], True),
    ],
)
def test_madrs_item10_at_4_is_urgent_and_explicit_plans_at_6_hold_the_dose(rating, codes, high_risk):
    result = score("madrs", [6] * 9 + [rating])
    assert [f.code for f in result.flags] == codes
    assert (result.urgent, result.high_risk) == (bool(codes), high_risk)
    assert all("Montgomery SA, \u00c5sberg M 1979" in f.source for f in result.flags)


def test_only_cssrs_high_risk_of_the_cssrs_flags_holds_the_dose():
    assert score("cssrs", ["yes", "yes", "no", "yes", "no", "no"]).high_risk
    moderate = score("cssrs", ["yes", "yes", "yes", "no", "no", "no"])
    assert moderate.urgent and not moderate.high_risk
    assert not score("phq9", [3] * 9).high_risk  # item 9 asks about thoughts, not plans


LIFETIME_ONLY = ["no", "no", None, None, None, "lifetime"]


@pytest.mark.parametrize(
    ("answers", "standing"),
    [
        (LIFETIME_ONLY, True),
        (["yes", "no", None, None, None, "lifetime"], True),  # low-risk ideation adds nothing urgent
        (["yes", "yes", "yes", "no", "no", "lifetime"], False),  # question 3 is new: moderate by itself
        (["yes", "yes", "no", "yes", "no", "lifetime"], False),  # worse: high risk
        (["no", "no", None, None, None, "past_3_months"], False),  # behaviour within 3 months: worse
        (["no", "no", None, None, None, "no"], False),  # not urgent at all
    ],
)
def test_a_lifetime_answer_alone_is_a_standing_answer_and_anything_new_or_worse_is_not(answers, standing):
    found = standing_only("cssrs", answers)
    assert bool(found) is standing
    if standing:
        assert [(s.item, s.equals) for s in found] == [(6, "lifetime")]
        assert "Posner K et al. 2011" in found[0].source


@pytest.mark.parametrize("code", ["phq9", "gad7", "pcl5", "qids_sr16", "madrs"])
def test_instruments_without_standing_answers_never_have_one(code):
    instrument = get_instrument(code)
    answers = [item.scale.highest for item in instrument.items]
    assert standing_only(code, answers) == ()


# -- PCL-5 clusters and provisional diagnosis --------------------------------------------------------------------

#: Just meets the rule: one endorsed (≥2) item in B and C, two in D and E, everything else 1 (not endorsed).
JUST_MEETING = [*(2, 1, 1, 1, 1), *(2, 1), *(2, 2, 1, 1, 1, 1, 1), *(2, 2, 1, 1, 1, 1)]


def test_pcl5_cluster_sums_and_a_just_met_diagnosis():
    result = score("pcl5", JUST_MEETING)
    assert result.total == 26
    assert [(s.code, s.score, s.endorsed, s.required, s.met) for s in result.subscales] == [
        ("B", 6, 1, 1, True),
        ("C", 3, 1, 1, True),
        ("D", 9, 2, 2, True),
        ("E", 8, 2, 2, True),
    ]
    assert result.provisional_diagnosis is True
    # Below the cut-point yet meeting the cluster rule: the two are reported separately.
    assert result.band == "below provisional cut-point"


@pytest.mark.parametrize(("item", "cluster"), [(1, "B"), (6, "C"), (9, "D"), (16, "E")])
def test_pcl5_diagnosis_just_missed_in_each_cluster(item, cluster):
    answers = list(JUST_MEETING)
    answers[item - 1] = 1  # a 1 ("A little bit") is not endorsed
    result = score("pcl5", answers)
    assert result.subscale(cluster).met is False
    assert [s.code for s in result.subscales if not s.met] == [cluster]
    assert result.provisional_diagnosis is False


def test_pcl5_high_total_without_the_cluster_pattern_is_no_diagnosis():
    answers = [4] * 5 + [0, 0] + [4] * 7 + [4] * 6  # no avoidance
    result = score("pcl5", answers)
    assert result.total == 72
    assert result.band == "at or above provisional cut-point"
    assert result.provisional_diagnosis is False
    assert result.subscale("C").met is False


def test_pcl5_refuses_a_5_so_1_to_5_coding_cannot_slip_through():
    with pytest.raises(ScoringError) as caught:
        score("pcl5", [1, 2, 5] + [1] * 17)
    assert str(caught.value) == "PCL-5 item 3: 5 is outside 0\u20134"
    with pytest.raises(ScoringError, match="PCL-5 item 1: 5 is outside"):
        score("pcl5", [5] * 20)


# -- QIDS-SR16 domains -----------------------------------------------------------------------------------------


def test_qids_sleep_items_all_3_contribute_3_not_12():
    result = score("qids_sr16", [3, 3, 3, 3] + [0] * 12)
    assert result.subscale("sleep").score == 3
    assert (result.total, result.band) == (3, "none")


def test_qids_worked_example_differs_from_the_16_item_sum():
    answers = [2, 3, 1, 0, 2, 1, 0, 2, 0, 1, 2, 0, 2, 1, 3, 1]
    assert sum(answers) == 21  # a plain sum would say "very severe"
    result = score("qids_sr16", answers)
    # domains: sleep 3, mood 2, appetite/weight 2, concentration 1, self-view 2, SI 0, interest 2, energy 1,
    # psychomotor 3
    assert {s.code: s.score for s in result.subscales} == {
        "sleep": 3,
        "mood": 2,
        "appetite_weight": 2,
        "concentration": 1,
        "self_view": 2,
        "suicidal_ideation": 0,
        "interest": 2,
        "energy": 1,
        "psychomotor": 3,
    }
    assert (result.total, result.band) == (16, "severe")


def test_qids_maximum_is_27():
    assert score("qids_sr16", [3] * 16).total == 27


# -- C-SSRS screener: skip logic and risk levels -----------------------------------------------------------------

NO_IDEATION = ["no", "no", None, None, None]


@pytest.mark.parametrize(
    ("answers", "level"),
    [
        (["no", "no", None, None, None, "no"], "no risk"),
        (["yes", "no", None, None, None, "no"], "low risk"),
        (["no", "yes", "no", "no", "no", "no"], "low risk"),
        (["yes", "yes", "no", "no", "no", "no"], "low risk"),
        (["yes", "yes", "yes", "no", "no", "no"], "moderate risk"),
        ([*NO_IDEATION, "lifetime"], "moderate risk"),
        (["yes", "yes", "yes", "no", "no", "lifetime"], "moderate risk"),
        (["yes", "yes", "no", "yes", "no", "no"], "high risk"),
        (["yes", "yes", "no", "no", "yes", "no"], "high risk"),
        ([*NO_IDEATION, "past_3_months"], "high risk"),
        (["yes", "yes", "yes", "no", "no", "past_3_months"], "high risk"),
    ],
)
def test_cssrs_risk_levels(answers, level):
    result = score("cssrs", answers)
    assert result.band == level
    assert result.total is None
    assert result.urgent is (level in {"moderate risk", "high risk"})


def test_cssrs_moderate_and_high_raise_urgent_flags_with_their_messages():
    moderate = score("cssrs", [*NO_IDEATION, "lifetime"])
    assert [(f.code, f.urgent) for f in moderate.flags] == [("cssrs-moderate-risk", True)]
    high = score("cssrs", ["yes", "yes", "no", "no", "yes", "no"])
    assert [(f.code, f.urgent) for f in high.flags] == [("cssrs-high-risk", True)]
    assert "immediate mental-health referral" in high.flags[0].message
    assert score("cssrs", ["yes", "no", None, None, None, "no"]).flags == ()


def test_cssrs_q2_no_with_q3_answered_is_refused():
    with pytest.raises(ScoringError) as caught:
        score("cssrs", ["yes", "no", "no", None, None, "no"])
    assert str(caught.value).startswith("C-SSRS item 3: must be left unanswered (None) because item 2 is not 'yes'")


@pytest.mark.parametrize("missing", [3, 4, 5])
def test_cssrs_q2_yes_with_q3_to_q5_missing_is_refused(missing):
    answers: list[str | None] = ["no", "yes", "no", "no", "no", "no"]
    answers[missing - 1] = None
    with pytest.raises(ScoringError, match=rf"C-SSRS item {missing}: answer missing \(asked because item 2 is 'yes'\)"):
        score("cssrs", answers)


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ([None, "no", None, None, None, "no"], "C-SSRS item 1: answer missing"),
        (["no", None, None, None, None, "no"], "C-SSRS item 2: answer missing"),
        ([*NO_IDEATION, None], "C-SSRS item 6: answer missing"),
        ([*NO_IDEATION, "yes"], "C-SSRS item 6: 'yes' is not one of 'no', 'past_3_months', 'lifetime'"),
        ([True, "no", None, None, None, "no"], "C-SSRS item 1: True is not one of 'no', 'yes'"),
        ([1, "no", None, None, None, "no"], "C-SSRS item 1: 1 is not one of"),
        (["Yes", "no", None, None, None, "no"], "C-SSRS item 1: 'Yes' is not one of"),
        (["no", "no", None, None, None], "C-SSRS: expected 6 answers"),
    ],
)
def test_cssrs_bad_answers_name_the_item(answers, message):
    with pytest.raises(ScoringError, match=message.replace("(", r"\(")):
        score("cssrs", answers)


# -- refusals of bad answers -----------------------------------------------------------------------------------


def test_the_message_names_instrument_item_value_and_range():
    with pytest.raises(ScoringError) as caught:
        score("phq9", [0] * 8 + [4])
    assert str(caught.value) == "PHQ-9 item 9: 4 is outside 0\u20133"
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("code", "answers", "message"),
    [
        ("phq9", [0] * 8, "PHQ-9: expected 9 answers (items 1\u20139 in order), got 8"),
        ("phq9", [0] * 10, "PHQ-9: expected 9 answers (items 1\u20139 in order), got 10"),
        ("gad7", [], "GAD-7: expected 7 answers (items 1\u20137 in order), got 0"),
        ("gad7", [0, -1, 0, 0, 0, 0, 0], "GAD-7 item 2: -1 is outside 0\u20133"),
        ("madrs", [0] * 9 + [7], "MADRS item 10: 7 is outside 0\u20136"),
        ("qids_sr16", [0] * 15 + [4], "QIDS-SR16 item 16: 4 is outside 0\u20133"),
        ("phq9", [0, 0, None, 0, 0, 0, 0, 0, 0], "PHQ-9 item 3: answer missing"),
        ("phq9", [0, 1.0, 0, 0, 0, 0, 0, 0, 0], "PHQ-9 item 2: 1.0 is not a whole number 0\u20133"),
        ("phq9", [0, "1", 0, 0, 0, 0, 0, 0, 0], "PHQ-9 item 2: '1' is not a whole number 0\u20133"),
        ("phq9", [0, True, 0, 0, 0, 0, 0, 0, 0], "PHQ-9 item 2: True is not a whole number 0\u20133"),
        ("pcl5", [False] + [0] * 19, "PCL-5 item 1: False is not a whole number 0\u20134"),
        ("phq9", "000000000", "PHQ-9: answers must be a list in item order, got str"),
        ("phq9", {1: 0}, "PHQ-9: answers must be a list in item order, got dict"),
        ("phq9", None, "PHQ-9: answers must be a list in item order, got NoneType"),
        ("phq9", (n for n in [0] * 9), "PHQ-9: answers must be a list in item order, got generator"),
    ],
)
def test_bad_answers_are_refused_with_the_item_named(code, answers, message):
    with pytest.raises(ScoringError) as caught:
        score(code, answers)
    assert str(caught.value) == message


def test_a_tuple_of_answers_is_as_good_as_a_list():
    assert score("phq9", (1,) * 9).total == 9


def test_an_unknown_instrument_is_refused():
    with pytest.raises(ScoringError, match="unknown instrument 'caps5'; known: audit, cssrs, ftnd, gad7"):
        score("caps5", [])


# -- change between totals ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("baseline", "current", "reliable", "meaningful"),
    [(50, 46, False, False), (50, 45, True, False), (50, 41, True, False), (50, 40, True, True), (40, 50, True, True)],
)
def test_pcl5_change_reliable_at_5_and_clinically_meaningful_at_10(baseline, current, reliable, meaningful):
    result = change("pcl5", baseline, current)
    assert result.difference == current - baseline
    assert (result.reliable, result.clinically_meaningful) == (reliable, meaningful)
    assert (result.response, result.remission) == (None, None)


@pytest.mark.parametrize(
    ("baseline", "current", "response", "remission"),
    [
        (30, 15, True, False),  # exactly 50%
        (30, 16, False, False),
        (31, 15, True, False),  # 51.6%
        (31, 16, False, False),  # 48.4%
        (30, 10, True, True),
        (20, 11, False, False),
        (12, 10, False, True),  # remission without response
        (40, 45, False, False),
    ],
)
def test_madrs_change_response_at_50_percent_and_remission_at_10(baseline, current, response, remission):
    result = change("madrs", baseline, current)
    assert (result.response, result.remission) == (response, remission)
    assert (result.reliable, result.clinically_meaningful) == (None, None)


def test_madrs_response_is_undefined_from_a_baseline_of_zero():
    result = change("madrs", 0, 0)
    assert (result.response, result.remission) == (None, True)


@pytest.mark.parametrize(
    ("code", "baseline", "current", "response", "remission"),
    [
        ("phq9", 20, 10, True, False),  # exactly 50%
        ("phq9", 20, 11, False, False),
        ("phq9", 9, 4, True, True),  # remission: below 5
        ("phq9", 9, 5, False, False),  # 5 is not remission (44% drop)
        ("phq9", 6, 4, False, True),  # remission without response
        ("qids_sr16", 16, 8, True, False),
        ("qids_sr16", 16, 9, False, False),
        ("qids_sr16", 11, 5, True, True),  # remission: 5 or below
        ("qids_sr16", 11, 6, False, False),
        ("qids_sr16", 7, 5, False, True),
    ],
)
def test_phq9_and_qids_response_at_50_percent_remission_below_5_and_at_most_5(
    code, baseline, current, response, remission
):
    """PHQ-9: NCQA HEDIS DRR-E (remission < 5); QIDS-SR16: STAR*D, Trivedi 2006 (remission <= 5)."""
    result = change(code, baseline, current)
    assert (result.response, result.remission) == (response, remission)


def test_without_change_rules_only_the_difference_is_given():
    result = change("gad7", 15, 8)
    assert result.difference == -7
    assert (result.reliable, result.clinically_meaningful, result.response, result.remission) == (None,) * 4


@pytest.mark.parametrize(
    ("code", "baseline", "current", "message"),
    [
        ("cssrs", 0, 0, "C-SSRS: has no total"),
        ("phq9", 28, 0, "PHQ-9: baseline total 28 is outside 0\u201327"),
        ("phq9", 0, -1, "PHQ-9: current total -1 is outside 0\u201327"),
        ("madrs", True, 0, "MADRS: baseline total True is not a whole number"),
        ("madrs", 10, 5.0, "MADRS: current total 5.0 is not a whole number"),
    ],
)
def test_change_refuses_what_it_cannot_read(code, baseline, current, message):
    with pytest.raises(ScoringError, match=message):
        change(code, baseline, current)


@pytest.mark.parametrize(
    ("code", "answers", "item"),
    [
        ("phq9", [0, 0, None, 0, 0, 0, 0, 0, 0], 3),
        ("phq9", [0, 0, 0, 0, 0, 0, 0, 0, 4], 9),
        ("pcl5", [0] * 19 + ["2"], 20),
        ("cssrs", ["no", "no", "no", None, None, "no"], 3),
        ("cssrs", ["no", "yes", "no", "no", "no", "maybe"], 6),
        ("phq9", [0] * 8, None),
    ],
)
def test_a_scoring_error_names_the_item_for_the_form(code, answers, item):
    """The recording form shows the message next to ``error.item``."""
    with pytest.raises(ScoringError) as caught:
        score(code, answers)
    assert caught.value.item == item
    if item is not None:
        assert f"item {item}:" in str(caught.value)


def test_item_problems_lists_every_bad_item_at_once():
    from tracker.instruments import item_problems

    cssrs = get_instrument("cssrs")
    assert item_problems(cssrs, [None, "yes", None, "no", "maybe", None]) == {
        1: "C-SSRS item 1: answer missing",
        3: "C-SSRS item 3: answer missing (asked because item 2 is 'yes')",
        5: "C-SSRS item 5: 'maybe' is not one of 'no', 'yes'",
        6: "C-SSRS item 6: answer missing",
    }
    assert item_problems(cssrs, ["no", "no", None, None, None, "no"]) == {}
    assert item_problems(get_instrument("phq9"), [0] * 8) == {}  # a wrong count is score()'s to explain
