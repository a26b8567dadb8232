"""Instrument definitions: the shipped files hold what their published sources say, and a broken file names the file
and field."""

from __future__ import annotations

import dataclasses
import doctest

import pytest

import tracker.instruments
from tracker.instruments import (
    DEFINITIONS_DIR,
    Administration,
    InstrumentError,
    Wording,
    get_instrument,
    instruments,
    load_instrument_file,
    load_instruments,
    score,
)
from tracker.instruments.scoring import score_answers
from tracker.protocols import load_protocols

CODES = {
    "phq9",
    "gad7",
    "pcl5",
    "cssrs",
    "qids_sr16",
    "madrs",
    "audit",
    "tlfb",
    "ftnd",
    "meq30",
    "hama",
    "hads_a",
    "hads_d",
    "ybocs",
}

# -- the catalogue ---------------------------------------------------------------------------------------------


def test_the_instruments_load_with_their_facts_and_sources():
    catalogue = instruments()
    assert set(catalogue) == CODES
    expected = {
        # code: (items, total range, administration)
        "phq9": (9, (0, 27), Administration.SELF_REPORT),
        "gad7": (7, (0, 21), Administration.SELF_REPORT),
        "pcl5": (20, (0, 80), Administration.SELF_REPORT),
        "cssrs": (6, None, Administration.CLINICIAN_OR_TRAINED_STAFF),
        "qids_sr16": (16, (0, 27), Administration.SELF_REPORT),
        "madrs": (10, (0, 60), Administration.CLINICIAN),
        "audit": (10, (0, 40), Administration.SELF_REPORT),
        "tlfb": (2, (0, 28), Administration.CLINICIAN),
        "ftnd": (6, (0, 10), Administration.SELF_REPORT),
        "meq30": (30, (0, 150), Administration.SELF_REPORT),
        "hama": (14, (0, 56), Administration.CLINICIAN),
        "hads_a": (1, (0, 21), Administration.SELF_REPORT),
        "hads_d": (1, (0, 21), Administration.SELF_REPORT),
        "ybocs": (1, (0, 40), Administration.CLINICIAN),
    }
    for code, (items, total_range, administration) in expected.items():
        instrument = catalogue[code]
        assert len(instrument.items) == items
        assert instrument.total_range == total_range
        assert instrument.administration is administration
        assert instrument.sources and instrument.licence and instrument.recall_period
        assert all(band.source for band in instrument.bands)
        assert all(flag.source for flag in instrument.flags)


def test_the_cssrs_is_paraphrased_and_qids_and_madrs_hold_labels_only():
    assert get_instrument("cssrs").wording is Wording.PARAPHRASED
    assert "licence" in get_instrument("cssrs").wording_note
    assert get_instrument("qids_sr16").wording is Wording.LABELS
    assert get_instrument("madrs").wording is Wording.LABELS
    assert [i.text for i in get_instrument("madrs").items] == [
        "Apparent sadness",
        "Reported sadness",
        "Inner tension",
        "Reduced sleep",
        "Reduced appetite",
        "Concentration difficulties",
        "Lassitude",
        "Inability to feel",
        "Pessimistic thoughts",
        "Suicidal thoughts",
    ]
    for code in ("phq9", "gad7", "pcl5"):
        assert get_instrument(code).wording is Wording.VERBATIM


def test_item_wording_is_the_published_text():
    assert get_instrument("phq9").item(9).text == (
        "Thoughts that you would be better off dead or of hurting yourself in some way"
    )
    assert get_instrument("gad7").item(7).text == "Feeling afraid as if something awful might happen"
    assert get_instrument("pcl5").item(17).text == 'Being "superalert" or watchful or on guard?'
    assert [o.label for o in get_instrument("pcl5").item(1).scale.options] == [
        "Not at all",
        "A little bit",
        "Moderately",
        "Quite a bit",
        "Extremely",
    ]


def test_every_instrument_a_protocol_schedules_is_defined():
    for protocol in load_protocols().values():
        for measure in protocol.measures:
            assert measure.instrument in CODES, f"{protocol.code} schedules undefined {measure.instrument!r}"


def test_the_package_docstring_example_runs():
    assert doctest.testmod(tracker.instruments).failed == 0


def test_a_result_cannot_be_changed():
    result = score("phq9", [0] * 9)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.total = 3  # type: ignore[misc]


# -- a broken definition file names the file and the field -------------------------------------------------------


def _broken(tmp_path, code, old, new):
    text = (DEFINITIONS_DIR / f"{code}.toml").read_text(encoding="utf-8")
    assert old in text, f"test out of date: {old!r} not in {code}.toml"
    path = tmp_path / f"{code}.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("code", "old", "new", "message"),
    [
        ("phq9", 'licence = "Pfizer', 'licensed = "Pfizer', "phq9.toml: field 'licensed' is not a field here"),
        ("phq9", 'recall_period = "past 2 weeks"\n', "", "phq9.toml: missing field 'recall_period'"),
        ("phq9", 'code = "phq9"', 'code = "phq-9"', "phq9.toml: field 'code' must match the file name"),
        ("phq9", 'rule = "sum"', 'rule = "average"', "phq9.toml: field 'rule' must be one of 'sum'"),
        ("phq9", "max = 27 }", "max = 26 }", "phq9.toml: field 'total.min' and max must be the range the items give"),
        ("phq9", "min = 5\n", "min = 6\n", "phq9.toml: field 'bands[1].min' must be 5"),
        ("phq9", "max = 27\n", "max = 26\n", "phq9.toml: field 'bands' must end at the highest total, 27"),
        ("phq9", "item = 9\n", "item = 10\n", "phq9.toml: field 'flags[0].item' must be an item number 1\u20139"),
        ("phq9", "urgent = true", 'urgent = "yes"', "phq9.toml: field 'flags[0].urgent' must be bool, got str"),
        ("phq9", "number = 2\n", "number = 3\n", "phq9.toml: field 'items[1].number' must be 2"),
        ("phq9", '{ value = 2, label = "More', '{ value = 4, label = "More', "field 'scales.frequency.options'"),
        ("phq9", 'text = "Poor appetite or overeating"', "text = ''", "phq9.toml: field 'items[4].text' must not be"),
        ("phq9", 'code = "phq9"', 'code = "phq9', "phq9.toml: not valid TOML"),
        ("cssrs", 'ask_if = { item = 2, equals = "yes" }', 'ask_if = { item = 4, equals = "yes" }', "earlier item"),
        (
            "cssrs",
            'ask_if = { item = 2, equals = "yes" }',
            'ask_if = { item = 2, equals = "y" }',
            "'items[2].ask_if.equals'",
        ),
        (
            "cssrs",
            'label = "no risk"',
            'label = "no risk"\nwhen_any = []',
            "field 'bands[0].when_any' must be left out",
        ),
        ("cssrs", 'band = "high risk"', 'band = "severe"', "cssrs.toml: field 'flags[1].band' must be one of the band"),
        ("pcl5", "default = 33", "default = 38", "pcl5.toml: field 'cut_point.default' must be within the allowed"),
        ("pcl5", "required = { B = 1", "required = { A = 1", "pcl5.toml: field 'diagnosis.required' names 'A'"),
        ("pcl5", "items = [6, 7]", "items = [6, 21]", "pcl5.toml: field 'subscales[1].items' must be numbers"),
        ("qids_sr16", "items = [15, 16]", "items = [15]", "field 'subscales' must use every item exactly once"),
        ("madrs", "remission_at_or_below = 10", "remission_at_or_below = 61", "'change_rules.remission_at_or_below'"),
        (
            "qids_sr16",
            "urgent = true\nhigh_risk = true",
            "urgent = false\nhigh_risk = true",
            "'flags[2].high_risk' needs urgent = true",
        ),
        ("qids_sr16", "at_most = 2\n", "at_most = 1\n", "'flags[1].at_most' needs an item flag and must not be below"),
        (
            "cssrs",
            'equals = "lifetime"\nsource',
            'equals = "no"\nsource',
            "'standing_answers[0].equals' must be an answer of item 6 other than its first",
        ),
        (
            "cssrs",
            'item = 6\nequals = "lifetime"',
            'item = 2\nequals = "yes"',
            "'standing_answers[0].item' must not be one that skip logic depends on",
        ),
        (
            "audit",
            '{ value = 2, label = "Yes, but',
            '{ value = 5, label = "Yes, but',
            "audit.toml: field 'scales.ever.options' must be whole numbers from 0 up, each above the one before",
        ),
        (
            "tlfb",
            "range = [0, 28]",
            "range = [0, 28]\noptions = []",
            "tlfb.toml: field 'scales.days.range' and options cannot both be given",
        ),
        ("tlfb", "range = [0, 28]", "range = [28, 0]", "tlfb.toml: field 'scales.days.range' must be [low, high]"),
        (
            "tlfb",
            "at_most_item = 1",
            "at_most_item = 2",
            "field 'items[1].at_most_item' must be the number of an earlier",
        ),
        (
            "tlfb",
            "total_items = [2]",
            "total_items = [3]",
            "tlfb.toml: field 'total_items' must be distinct item numbers",
        ),
        ("meq30", 'subscales = ["mystical"', 'subscales = ["unity"', "field 'diagnosis.subscales' names 'unity'"),
        ("meq30", "percent_of_maximum = 60", "percent_of_maximum = 160", "'diagnosis.percent_of_maximum' must be 1 to"),
        ("hama", "remission_at_or_below = 7\n", "", "'change_rules.remission_requires_response' needs response_"),
    ],
)
def test_a_broken_definition_names_the_file_and_field(tmp_path, code, old, new, message):
    with pytest.raises(InstrumentError, match=message.replace("(", r"\(").replace("[", r"\[")):
        load_instrument_file(_broken(tmp_path, code, old, new))


def test_a_directory_without_definitions_is_refused(tmp_path):
    with pytest.raises(InstrumentError, match="no instrument definitions"):
        load_instruments(tmp_path)


def test_a_new_instrument_is_a_data_file(tmp_path):
    """A two-item screener on the same 0 to 3 scale: no code needed."""
    text = (DEFINITIONS_DIR / "phq9.toml").read_text(encoding="utf-8")
    head = text[: text.index("[[items]]")].replace('code = "phq9"', 'code = "phq2"').replace("max = 27 }", "max = 6 }")
    head = head.replace('short_name = "PHQ-9"', 'short_name = "PHQ-2"')
    (tmp_path / "phq2.toml").write_text(
        head
        + '[[items]]\nnumber = 1\ntext = "Little interest"\n[[items]]\nnumber = 2\ntext = "Feeling down"\n'
        + '[[bands]]\nmin = 0\nmax = 2\nlabel = "negative"\nsource = "test"\n'
        + '[[bands]]\nmin = 3\nmax = 6\nlabel = "positive"\nsource = "test"\n',
        encoding="utf-8",
    )
    phq2 = load_instruments(tmp_path)["phq2"]
    assert (phq2.total_range, [b.label for b in phq2.bands]) == ((0, 6), ["negative", "positive"])
    assert score_answers(phq2, [1, 2]).band == "positive"
