"""Protocol templates load from data files and a broken file names the file and the field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from config import TestConfig
from tracker import create_app
from tracker.protocols import ProtocolError, load_protocols

VALID = """
code = "clinic-custom"
name = "A clinic's own protocol"
substance = "Psilocybin"
indications = ["major_depression"]
co_therapy_required = false
sources = ["Clinic protocol v1"]

[sessions]
preparation = 1
dosing = 1
integration_per_dosing = 1

[[screening]]
id = "consent"
kind = "requirement"
text = "Consent signed"
source = "Clinic policy"
"""


def test_the_shipped_protocols_load_and_cite_sources():
    catalogue = load_protocols()
    assert {"mdma-ptsd", "psilocybin-mdd", "ketamine-iv-trd", "esketamine-rems-trd"} <= set(catalogue)
    assert catalogue["mdma-ptsd"].sessions.dosing == 3  # MAPP1/MAPP2
    assert catalogue["mdma-ptsd"].sessions.preparation == 3
    assert catalogue["psilocybin-mdd"].sessions.dosing == 2  # Davis 2021
    for protocol in catalogue.values():
        assert protocol.sources and protocol.screening and protocol.integration_plan_sections
        assert all(item.source for item in protocol.screening)
        assert all(rule.source for rule in protocol.interactions)
        kinds = {item.kind.value for item in protocol.screening}
        assert kinds == {"exclusion", "review", "requirement"}, protocol.code


def test_a_clinic_adds_a_protocol_without_code(tmp_path: Path):
    (tmp_path / "custom.toml").write_text(VALID)
    app = create_app(TestConfig, EXTRA_PROTOCOL_DIR=str(tmp_path))
    assert "clinic-custom" in app.extensions["protocols"]


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda s: s.replace("\ndosing = 1\n", "\n"), "custom.toml: missing field 'sessions.dosing'"),
        (
            lambda s: s.replace("\ndosing = 1", '\ndosing = "one"'),
            "custom.toml: field 'sessions.dosing' must be int, got str",
        ),
        (
            lambda s: s.replace("\ndosing = 1", "\ndosing = true"),
            "custom.toml: field 'sessions.dosing' must be int, got bool",
        ),
        (
            lambda s: s.replace('kind = "requirement"', 'kind = "maybe"'),
            "custom.toml: field 'screening[0].kind' must be one of exclusion, review, requirement, got 'maybe'",
        ),
        (lambda s: s.replace('text = "Consent signed"\n', ""), "custom.toml: missing field 'screening[0].text'"),
        (
            lambda s: s + '\n[[pre_dosing]]\nid = "x"\ntext = "x"\nrequirement = "nope"\nsource = "x"\n',
            "custom.toml: field 'pre_dosing[0].requirement' must name a requirement item",
        ),
        (
            lambda s: s + '\n[[vital_limits]]\nsign = "mood"\nhigh = 1\nsource = "x"\n',
            "custom.toml: field 'vital_limits[0].sign' must be one of",
        ),
        (lambda s: s.replace('"major_depression"', '"hiccups"'), "custom.toml: field 'indications'"),
        (lambda s: s.replace('sources = ["Clinic protocol v1"]', "sources = []"), "field 'sources' must cite"),
        (lambda s: s.replace('code = "clinic-custom"', 'code = "mdma-ptsd"'), "field 'code': 'mdma-ptsd' is already"),
        (lambda s: s + "\n[[[", "custom.toml: not valid TOML"),
    ],
)
def test_a_broken_protocol_file_stops_start_up_naming_file_and_field(tmp_path: Path, change, message):
    (tmp_path / "custom.toml").write_text(change(VALID))
    with pytest.raises(ProtocolError, match=message.replace("(", r"\(").replace("[", r"\[")):
        create_app(TestConfig, EXTRA_PROTOCOL_DIR=str(tmp_path))


#: VALID plus an exclusion (screening[1]) and a review item (screening[2]), an interaction rule and a pre-dosing check.
FULL = (
    VALID
    + """
[[screening]]
id = "psychosis"
kind = "exclusion"
text = "Personal history of psychosis"
source = "Clinic policy"

[[screening]]
id = "maoi"
kind = "review"
text = "Takes an MAOI"
source = "Clinic policy"

[[pre_dosing]]
id = "consent-current"
text = "Consent still current"
requirement = "consent"
within_days = 30
source = "Clinic policy"

[[interactions]]
id = "maoi"
drug_classes = ["maoi"]
drug_names = ["Phenelzine"]
raises = "maoi"
note = "Serotonin toxicity"
source = "Clinic policy"
taper_before_dosing = true

[[vital_limits]]
sign = "systolic"
high = 160
source = "Clinic policy"

[[measures]]
instrument = "phq9"
timepoints = ["baseline"]
source = "Clinic policy"
"""
)


def _load(tmp_path: Path, text: str):
    (tmp_path / "custom.toml").write_text(text)
    return load_protocols([tmp_path])["clinic-custom"]


def test_a_full_protocol_file_loads_every_section(tmp_path: Path):
    protocol = _load(tmp_path, FULL)
    assert [item.kind.value for item in protocol.screening] == ["requirement", "exclusion", "review"]
    assert protocol.pre_dosing[0].within_days == 30
    rule = protocol.interactions[0]
    assert rule.drug_names == ("phenelzine",) and rule.taper_before_dosing  # names match whatever their case
    assert protocol.vital_limits[0].high == 160.0 and protocol.vital_limits[0].low is None
    assert protocol.critical_limits == ()
    assert protocol.measures[0].timepoints == ("baseline",)
    assert protocol.path == str(tmp_path / "custom.toml")


def _with(old: str, new: str):
    def change(text: str) -> str:
        assert old in text, old
        return text.replace(old, new, 1)

    return change


@pytest.mark.parametrize(
    "change,message",
    [
        # Interaction rules must raise an exclusion or review item of the same protocol.
        (
            _with('raises = "maoi"', 'raises = "nope"'),
            "custom.toml: field 'interactions[0].raises' must name an exclusion or review item of this protocol, "
            "got 'nope'",
        ),
        (
            _with('raises = "maoi"', 'raises = "consent"'),
            "custom.toml: field 'interactions[0].raises' must name an exclusion or review item of this protocol, "
            "got 'consent'",
        ),
        (
            _with('drug_classes = ["maoi"]', 'drug_classes = ["ssris"]'),
            "custom.toml: field 'interactions[0].drug_classes' has unknown classes ['ssris']",
        ),
        (
            _with('drug_classes = ["maoi"]\ndrug_names = ["Phenelzine"]', "drug_classes = []"),
            "custom.toml: field 'interactions[0].drug_classes' or drug_names must name at least one drug",
        ),
        # Requirement-only keys on other kinds of item.
        (
            _with('text = "Personal history of psychosis"', 'text = "Psychosis"\nacceptable = ["no"]'),
            "custom.toml: field 'screening[1]' only requirement items take acceptable, choices, allow_not_applicable",
        ),
        (
            _with('text = "Takes an MAOI"', 'text = "MAOI"\nallow_not_applicable = true'),
            "custom.toml: field 'screening[2]' only requirement items take acceptable, choices, allow_not_applicable",
        ),
        (
            _with('text = "Consent signed"', 'text = "Consent signed"\nchoices = ["signed"]\nacceptable = ["yes"]'),
            "custom.toml: field 'screening[0].acceptable' must be among its choices",
        ),
        (_with('id = "psychosis"', 'id = "consent"'), "custom.toml: field 'screening[1].id' repeats 'consent'"),
        # Pre-dosing checks name a requirement.
        (
            _with('requirement = "consent"', 'requirement = "psychosis"'),
            "custom.toml: field 'pre_dosing[0].requirement' must name a requirement item of this protocol, "
            "got 'psychosis'",
        ),
        (
            _with("within_days = 30", "within_days = -1"),
            "custom.toml: field 'pre_dosing[0].within_days' must not be negative",
        ),
        # Sessions, limits, measures.
        (
            _with("preparation = 1", "preparation = -1"),
            "custom.toml: field 'sessions.preparation' must not be negative",
        ),
        (_with("\ndosing = 1", "\ndosing = 0"), "custom.toml: field 'sessions.dosing' must be at least 1"),
        (_with("high = 160", "high = 160\nlow = 170"), "custom.toml: field 'vital_limits[0].low' must be below high"),
        (_with("high = 160\n", ""), "custom.toml: field 'vital_limits[0].high' or low must be given"),
        # A critical limit needs the sign's vital limit, and lies at or beyond it.
        (
            lambda s: s + '\n[[critical_limits]]\nsign = "spo2"\nlow = 88\nsource = "x"\n',
            "custom.toml: field 'critical_limits[0].sign' 'spo2' needs its vital_limits first",
        ),
        (
            lambda s: s + '\n[[critical_limits]]\nsign = "systolic"\nhigh = 150\nsource = "x"\n',
            "custom.toml: field 'critical_limits[0].high' must be at or above the vital limit's high (160.0)",
        ),
        (
            lambda s: s + '\n[[critical_limits]]\nsign = "systolic"\nlow = 80\nsource = "x"\n',
            "custom.toml: field 'critical_limits[0].low' must be at or below the vital limit's low (None)",
        ),
        (
            lambda s: (
                s + '\n[[critical_limits]]\nsign = "systolic"\nhigh = 180\nsource = "x"\n'
                '\n[[critical_limits]]\nsign = "systolic"\nhigh = 190\nsource = "x"\n'
            ),
            "custom.toml: field 'critical_limits[1].sign' repeats 'systolic'",
        ),
        (
            _with('timepoints = ["baseline"]', 'timepoints = ["weekly"]'),
            "custom.toml: field 'measures[0].timepoints' must be some of baseline",
        ),
        (
            _with('timepoints = ["baseline"]', "timepoints = []"),
            "custom.toml: field 'measures[0].timepoints' must be some",
        ),
        # A misspelt instrument would drop the measure from the schedule and the dosing gate.
        (
            _with('instrument = "phq9"', 'instrument = "phq-9"'),
            "custom.toml: field 'measures[0].instrument' must be one of audit, cssrs, ftnd, gad7, hads_a, hads_d, "
            "hama, madrs, meq30, pcl5, phq9, qids_sr16, tlfb, ybocs, got 'phq-9'",
        ),
        # A misspelt optional field would silently drop what it sets (a time window, a taper): it is refused.
        (
            _with("within_days = 30", "within_day = 30"),
            "custom.toml: field 'pre_dosing[0].within_day' is not a known field; check its spelling",
        ),
        (
            _with("taper_before_dosing = true", "taper_before_dosng = true"),
            "custom.toml: field 'interactions[0].taper_before_dosng' is not a known field",
        ),
        (
            _with('text = "Consent signed"', 'text = "Consent signed"\nallow_not_aplicable = true'),
            "custom.toml: field 'screening[0].allow_not_aplicable' is not a known field",
        ),
        (
            _with("integration_per_dosing = 1", "integration_per_dosing = 1\ndosing_spacing_day = 28"),
            "custom.toml: field 'sessions.dosing_spacing_day' is not a known field",
        ),
        (
            _with("high = 160", "high = 160\nsetting_notes = 'clinic'"),
            "custom.toml: field 'vital_limits[0].setting_notes' is not a known field",
        ),
        (
            _with('instrument = "phq9"', 'instrument = "phq9"\nwhen = "weekly"'),
            "custom.toml: field 'measures[0].when' is not a known field",
        ),
        (
            _with("co_therapy_required = false", "co_therapy_required = false\nminimum_observation_minute = 60"),
            "custom.toml: field 'minimum_observation_minute' is not a known field",
        ),
    ],
)
def test_a_protocol_file_mistake_names_file_and_field(tmp_path: Path, change, message):
    (tmp_path / "custom.toml").write_text(change(FULL))
    with pytest.raises(ProtocolError) as error:
        load_protocols([tmp_path])
    assert str(error.value).startswith(message)


def test_a_misspelt_field_stops_start_up(tmp_path: Path):
    (tmp_path / "custom.toml").write_text(FULL.replace("within_days = 30", "within_day = 30"))
    with pytest.raises(ProtocolError, match=r"custom\.toml: field 'pre_dosing\[0\]\.within_day' is not a known"):
        create_app(TestConfig, EXTRA_PROTOCOL_DIR=str(tmp_path))


@pytest.mark.parametrize(
    "extra,message",
    [
        (
            '\n[[interactions]]\nid = "x"\ndrug_names = [""]\nraises = "consent"\nnote = "n"\nsource = "s"\n',
            "field 'interactions[0].drug_names' must not hold an empty name",
        ),
        (
            '\n[[pre_dosing]]\nid = "p"\ntext = "t"\nrequirement = "consent"\nsource = "s"\n' * 2,
            "field 'pre_dosing[1].id' repeats 'p'",
        ),
    ],
)
def test_rules_that_would_misfire_are_refused(tmp_path: Path, extra, message):
    (tmp_path / "custom.toml").write_text(VALID + extra)
    with pytest.raises(ProtocolError, match=re.escape(message)):
        create_app(TestConfig, EXTRA_PROTOCOL_DIR=str(tmp_path))


@pytest.mark.parametrize("code", sorted(load_protocols()))
def test_each_protocol_has_critical_limits_for_its_monitored_signs_each_sourced_and_marked(protocols, code):
    """No protocol source gives an in-session critical limit, so each is a clinic setting naming the guideline
    its value comes from (ACC/AHA 2017 hypertensive crisis, NEWS2 2017 red scores)."""
    protocol = protocols[code]
    assert {limit.sign for limit in protocol.critical_limits} == set(protocol.monitored_signs)
    for limit in protocol.critical_limits:
        assert "ACC/AHA 2017" in limit.source or "NEWS2 2017" in limit.source
        assert "clinic setting" in (limit.setting_note or "")
    sources = " ".join(protocol.sources)
    assert "doi:10.1161/HYP.0000000000000065" in sources and "NEWS2 2017:" in sources


# -- the psilocybin protocols of the further indications (cancer, alcohol, tobacco, OCD) ----------------------------

NEW_PROTOCOLS = {
    # code: (indication, dosing sessions, dose unit, allowed doses, exploratory)
    "psilocybin-cancer-hopkins": ("cancer_related_distress", 1, "mg_per_70kg", (22.0, 30.0), False),  # Griffiths 2016
    "psilocybin-cancer-nyu": ("cancer_related_distress", 1, "mg_per_kg", (0.3,), False),  # Ross 2016
    "psilocybin-aud": ("alcohol_use_disorder", 2, "mg_per_kg", (0.3, 0.4), False),  # Bogenschutz 2015
    "psilocybin-tobacco": ("tobacco_use_disorder", 3, "mg_per_70kg", (20.0, 30.0), False),  # Johnson 2014
    "psilocybin-ocd": ("obsessive_compulsive_disorder", 4, "mg_per_kg", (0.025, 0.1, 0.2, 0.3), True),  # Moreno 2006
}


@pytest.mark.parametrize("code", list(NEW_PROTOCOLS))
def test_each_new_protocol_loads_validates_and_cites_its_trial(code):
    protocol = load_protocols()[code]
    indication, dosing, unit, allowed, exploratory = NEW_PROTOCOLS[code]
    assert [i.value for i in protocol.indications] == [indication]
    assert protocol.sessions.dosing == dosing
    assert protocol.dose is not None and protocol.dose.unit.value == unit and protocol.dose.allowed == allowed
    assert protocol.research_marker == "Research protocol \u2014 not an approved treatment"
    assert protocol.regulatory is not None and protocol.regulatory.exploratory is exploratory
    trial = protocol.regulatory.source.split(";")[0]
    assert any(source.startswith(f"{trial}: ") and "doi:" in source for source in protocol.sources), trial
    # Every value cites its source.
    assert all(i.source for i in protocol.screening) and all(m.source for m in protocol.measures)
    assert all(s.source for s in protocol.set_and_setting) and all(r.source for r in protocol.required_labs)
    assert all(limit.source for limit in protocol.vital_limits) and protocol.dose.source
    assert {item.id for item in protocol.set_and_setting} >= {"room", "music", "eyeshades", "sitter", "touch-consent"}


def test_the_indications_the_seed_articles_name_each_have_a_protocol():
    from tracker.protocols import accepted_indications

    accepted = {i.value for i in accepted_indications(load_protocols().values())}
    assert accepted == {
        "ptsd",
        "major_depression",
        "treatment_resistant_depression",
        "cancer_related_distress",
        "alcohol_use_disorder",
        "tobacco_use_disorder",
        "obsessive_compulsive_disorder",
    }


def test_the_alcohol_protocol_requires_a_liver_test_before_dosing():
    required = load_protocols()["psilocybin-aud"].required_labs
    assert [(r.marker, r.within_days) for r in required] == [("alt", 90)]
    assert required[0].setting_note  # a clinic setting, said so


@pytest.mark.parametrize(
    "extra,message",
    [
        (
            '\n[regulatory]\nstatus = "pending"\nnote = "n"\nsource = "s"\n',
            "custom.toml: field 'regulatory.status' must be one of research, approved, off_label, got 'pending'",
        ),
        ('\n[regulatory]\nstatus = "research"\nsource = "s"\n', "custom.toml: missing field 'regulatory.note'"),
        (
            '\n[regulatory]\nstatus = "research"\nnote = "n"\nsource = "s"\nexplorative = true\n',
            "custom.toml: field 'regulatory.explorative' is not a known field",
        ),
        (
            '\n[[required_labs]]\nmarker = "alanine"\nsource = "s"\n',
            "custom.toml: field 'required_labs[0].marker' must be one of",
        ),
        (
            '\n[[required_labs]]\nmarker = "alt"\nsource = "s"\nwithin_day = 3\n',
            "custom.toml: field 'required_labs[0].within_day' is not a known field",
        ),
        (
            '\n[[set_and_setting]]\nid = "room"\ntext = "Room"\n',
            "custom.toml: missing field 'set_and_setting[0].source'",
        ),
        (
            '\n[[set_and_setting]]\nid = "room"\ntext = "Room"\nsource = "s"\n' * 2,
            "custom.toml: field 'set_and_setting[1].id' repeats 'room'",
        ),
    ],
)
def test_the_new_protocol_fields_refuse_mistakes(tmp_path: Path, extra, message):
    (tmp_path / "custom.toml").write_text(VALID + extra)
    with pytest.raises(ProtocolError) as error:
        load_protocols([tmp_path])
    assert str(error.value).startswith(message)


def test_a_protocol_without_a_regulatory_table_shows_no_marker(tmp_path: Path):
    assert _load(tmp_path, VALID).research_marker is None
    approved = VALID + '\n[regulatory]\nstatus = "approved"\nnote = "Label"\nsource = "FDA label"\n'
    assert _load(tmp_path, approved).research_marker is None
