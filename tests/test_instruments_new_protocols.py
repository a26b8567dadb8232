"""The instruments the psilocybin protocols for cancer distress, alcohol, tobacco and OCD need, scored against their
published scoring keys, bands and change rules.

Every expectation is written out here from the primary source named beside it (not read from the data files), so a
typo in a file fails a test instead of being copied into the expectation.
"""

from __future__ import annotations

import pytest

from tracker.instruments import ScoringError, change, get_instrument, score

# -- AUDIT (Babor TF et al. 2001, WHO/MSD/MSB/01.6a) -------------------------------------------------------------


def test_audit_scores_questions_1_to_8_from_0_to_4_and_9_and_10_as_0_2_or_4():
    assert score("audit", [4] * 10).total == 40
    assert score("audit", [0] * 10).total == 0
    for bad in (1, 3):
        with pytest.raises(ScoringError, match=rf"AUDIT item 9: {bad} is not one of 0, 2 or 4") as refused:
            score("audit", [0] * 8 + [bad, 0])
        assert refused.value.item == 9
    with pytest.raises(ScoringError, match="AUDIT item 1: 5 is outside 0\u20134"):
        score("audit", [5] + [0] * 9)


def test_audit_worked_answers():
    """Drinks 2-3 times a week (3), 3 or 4 drinks a day (1), six or more monthly (2), never the past-year harms
    (0 x 5), an injury but not in the last year (2), someone concerned during the last year (4): 12, zone II."""
    result = score("audit", [3, 1, 2, 0, 0, 0, 0, 0, 2, 4])
    assert (result.total, result.band, result.flags) == (12, "Zone II: hazardous drinking", ())


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "Zone I: low risk"),
        (7, "Zone I: low risk"),
        (8, "Zone II: hazardous drinking"),
        (15, "Zone II: hazardous drinking"),
        (16, "Zone III: harmful drinking"),
        (19, "Zone III: harmful drinking"),
        (20, "Zone IV: possible dependence"),
        (40, "Zone IV: possible dependence"),
    ],
)
def test_audit_risk_zones_at_each_boundary(total, band):
    answers = [0] * 10
    left = total
    for index in range(8):
        answers[index] = min(4, left)
        left -= answers[index]
    answers[8], answers[9] = (4, 4) if left == 8 else (left, 0)
    result = score("audit", answers)
    assert (result.total, result.band) == (total, band)
    assert bool(result.flags) is (total >= 20)  # zone IV: referral for diagnostic evaluation, not urgent
    assert not result.urgent


# -- Timeline Followback (Sobell & Sobell 1992), past 28 days ------------------------------------------------------


def test_tlfb_total_is_heavy_drinking_days_with_drinking_days_beside_it():
    result = score("tlfb", [12, 5])
    assert result.total == 5 and result.band == "heavy drinking days"
    assert {s.code: s.score for s in result.subscales} == {"drinking_days": 12, "heavy_drinking_days": 5}
    assert score("tlfb", [3, 0]).band == "no heavy drinking days"
    assert score("tlfb", [28, 28]).total == 28


def test_tlfb_refuses_more_heavy_drinking_days_than_drinking_days():
    with pytest.raises(ScoringError, match="TLFB-28 item 2: 6 is more than the 5 given for item 1") as refused:
        score("tlfb", [5, 6])
    assert refused.value.item == 2
    with pytest.raises(ScoringError, match="TLFB-28 item 1: 29 is outside 0\u201328"):
        score("tlfb", [29, 0])


# -- FTND (Heatherton TF et al. 1991, Br J Addict 86:1119, Table 1) ------------------------------------------------


def test_ftnd_scoring_key():
    # Within 5 minutes 3, difficult to refrain 1, the first cigarette 1, 31 or more a day 3, more in the morning 1,
    # smokes when ill 1: the maximum, 10.
    assert score("ftnd", [3, 1, 1, 3, 1, 1]).total == 10
    labels = {o.value: o.label for o in get_instrument("ftnd").item(1).scale.options}
    assert labels == {0: "After 60 minutes", 1: "31 to 60 minutes", 2: "6 to 30 minutes", 3: "Within 5 minutes"}
    per_day = {o.value: o.label for o in get_instrument("ftnd").item(4).scale.options}
    assert per_day == {0: "10 or less", 1: "11 to 20", 2: "21 to 30", 3: "31 or more"}
    # A smoker of 19 a day (Johnson 2014's mean), first cigarette 6-30 minutes after waking, no to the rest: 3.
    assert score("ftnd", [2, 0, 0, 1, 0, 0]).total == 3


@pytest.mark.parametrize(
    ("answers", "band"),
    [
        ([2, 0, 0, 0, 0, 0], "very low dependence"),
        ([2, 0, 0, 1, 0, 0], "low dependence"),
        ([3, 1, 0, 1, 0, 0], "medium dependence"),
        ([3, 1, 1, 1, 0, 0], "high dependence"),
        ([3, 1, 1, 2, 0, 0], "high dependence"),
        ([3, 1, 1, 2, 1, 0], "very high dependence"),
    ],
)
def test_ftnd_dependence_levels(answers, band):
    assert score("ftnd", answers).band == band


# -- MEQ-30 (Barrett FS et al. 2015, J Psychopharmacol 29:1182; factors of MacLean KA et al. 2012) ----------------

MYSTICAL = [4, 5, 6, 9, 14, 15, 16, 18, 20, 21, 23, 24, 25, 26, 28]
POSITIVE_MOOD = [2, 8, 12, 17, 27, 30]
TRANSCENDENCE = [1, 7, 11, 13, 19, 22]
INEFFABILITY = [3, 10, 29]


def _answers(per_item: dict[int, int], default: int = 0) -> list[int]:
    return [per_item.get(number, default) for number in range(1, 31)]


def test_meq30_factors_hold_the_published_items():
    assert sorted(MYSTICAL + POSITIVE_MOOD + TRANSCENDENCE + INEFFABILITY) == list(range(1, 31))
    for code, items in (
        ("mystical", MYSTICAL),
        ("positive_mood", POSITIVE_MOOD),
        ("transcendence", TRANSCENDENCE),
        ("ineffability", INEFFABILITY),
    ):
        result = score("meq30", _answers({n: 5 for n in items}))
        assert result.subscale(code).score == 5 * len(items)
        assert result.total == 5 * len(items)
        assert sum(s.score for s in result.subscales) == result.total


def test_meq30_complete_mystical_experience_at_60_percent_of_every_factor():
    """60% of each factor's maximum: 45 of 75, 18 of 30, 18 of 30, 9 of 15 (an answer of 3 on every item)."""
    exactly = score("meq30", [3] * 30)
    assert exactly.total == 90 and exactly.provisional_diagnosis is True
    assert [(s.code, s.score, s.required, s.met) for s in exactly.subscales] == [
        ("mystical", 45, 45, True),
        ("positive_mood", 18, 18, True),
        ("transcendence", 18, 18, True),
        ("ineffability", 9, 9, True),
    ]
    one_short = score("meq30", _answers({3: 2}, default=3))  # ineffability 8 of 15
    assert one_short.provisional_diagnosis is False
    assert one_short.subscale("ineffability").met is False
    # A high total is not enough: 150 points of mystical and mood, none of ineffability.
    lopsided = score("meq30", _answers({n: 0 for n in INEFFABILITY}, default=5))
    assert lopsided.total == 135 and lopsided.provisional_diagnosis is False
    assert score("meq30", [5] * 30).total == 150


def test_meq30_has_no_severity_bands_and_raises_no_flags():
    assert [b.label for b in get_instrument("meq30").bands] == ["read by factor"]
    assert score("meq30", [5] * 30).flags == ()


# -- HAM-A (Hamilton M 1959; bands of Matza LS et al. 2010; change rules of Griffiths RR et al. 2016) -------------


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "no or minimal anxiety"),
        (7, "no or minimal anxiety"),
        (8, "mild"),
        (14, "mild"),
        (15, "moderate"),
        (23, "moderate"),
        (24, "severe"),
        (56, "severe"),
    ],
)
def test_hama_severity_ranges(total, band):
    answers = [min(4, max(0, total - 4 * i)) for i in range(14)]
    result = score("hama", answers)
    assert (result.total, result.band) == (total, band)


def test_hama_response_and_remission_as_griffiths_2016_defines_them():
    assert change("hama", 20, 10).response is True  # a drop of exactly 50%
    assert change("hama", 20, 11).response is False
    remitted = change("hama", 20, 7)
    assert (remitted.response, remitted.remission) == (True, True)
    # 7 or less without a 50% drop is not remission: 12 -> 7 is a 42% drop.
    assert (change("hama", 12, 7).response, change("hama", 12, 7).remission) == (False, False)
    assert change("hama", 16, 8).remission is False  # 50% drop, but 8 is above 7


# -- HADS subscales (Zigmond AS & Snaith RP 1983), clinician-entered totals -------------------------------------


@pytest.mark.parametrize("code", ["hads_a", "hads_d"])
@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "non-case"),
        (7, "non-case"),
        (8, "doubtful case"),
        (10, "doubtful case"),
        (11, "definite case"),
        (21, "definite case"),
    ],
)
def test_hads_subscale_cut_points(code, total, band):
    assert score(code, [total]).band == band


@pytest.mark.parametrize("code", ["hads_a", "hads_d", "ybocs"])
def test_a_clinician_entered_total_holds_no_item_and_refuses_what_is_out_of_range(code):
    instrument = get_instrument(code)
    assert len(instrument.items) == 1 and "holds no item" in instrument.licence
    highest = instrument.item(1).scale.highest
    with pytest.raises(ScoringError, match=f"item 1: {highest + 1} is outside 0\u2013{highest}"):
        score(code, [highest + 1])


# -- Y-BOCS (Goodman WK et al. 1989), change rules of Mataix-Cols D et al. 2016 ------------------------------------


def test_ybocs_response_at_35_percent_and_remission_at_12():
    assert change("ybocs", 20, 13).response is True  # 35%
    assert change("ybocs", 20, 14).response is False  # 30%
    assert change("ybocs", 30, 12).remission is True
    assert change("ybocs", 30, 13).remission is False


# -- how the measures page reads them --------------------------------------------------------------------------


def _result(code: str, answers: list[int], on: str):
    from datetime import date

    from tracker.models import MeasureResult

    scored = score(code, answers)
    return MeasureResult(
        id=1,
        instrument=code,
        administered_on=date.fromisoformat(on),
        total=scored.total,
        band=scored.band,
        band_index=scored.band_index,
        provisional_diagnosis=scored.provisional_diagnosis,
    )


def test_the_hama_trend_says_remission_needs_the_response_too():
    from tracker.outcomes.trends import change_sentences

    hama = get_instrument("hama")
    baseline, latest = (
        _result("hama", [4, 4, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], "2026-01-01"),
        _result("hama", [3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], "2026-02-05"),
    )
    sentences = change_sentences(hama, baseline, latest)
    assert "Response (a drop of at least 50% from baseline): yes." in sentences
    assert "Remission (a drop of at least 50% and 7 or below): yes." in sentences


def test_the_meq30_trend_reads_the_session_by_its_classification_not_as_a_change():
    from datetime import date

    from tracker.outcomes.trends import trends

    (trend,) = trends(["meq30"], [_result("meq30", [3] * 30, "2026-02-02")], [date(2026, 2, 1)])
    assert trend.change == [
        "MEQ-30 of 2026-02-02: 90 of 150; complete mystical experience: met (60% of the maximum on every factor; "
        "Barrett 2015 (the complete-experience method of Griffiths 2006 and 2008, validated for the MEQ30))."
    ]
