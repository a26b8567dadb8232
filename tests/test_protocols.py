"""Protocol templates load from data files and a broken file names the file and the field."""

from __future__ import annotations

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


@pytest.mark.parametrize("change,message", [
    (lambda s: s.replace('\ndosing = 1\n', '\n'), "custom.toml: missing field 'sessions.dosing'"),
    (lambda s: s.replace('\ndosing = 1', '\ndosing = "one"'), "custom.toml: field 'sessions.dosing' must be int, got str"),
    (lambda s: s.replace('\ndosing = 1', '\ndosing = true'), "custom.toml: field 'sessions.dosing' must be int, got bool"),
    (lambda s: s.replace('kind = "requirement"', 'kind = "maybe"'),
     "custom.toml: field 'screening[0].kind' must be one of exclusion, review, requirement, got 'maybe'"),
    (lambda s: s.replace('text = "Consent signed"\n', ''), "custom.toml: missing field 'screening[0].text'"),
    (lambda s: s + '\n[[pre_dosing]]\nid = "x"\ntext = "x"\nrequirement = "nope"\nsource = "x"\n',
     "custom.toml: field 'pre_dosing[0].requirement' must name a requirement item"),
    (lambda s: s + '\n[[vital_limits]]\nsign = "mood"\nhigh = 1\nsource = "x"\n',
     "custom.toml: field 'vital_limits[0].sign' must be one of"),
    (lambda s: s.replace('"major_depression"', '"hiccups"'), "custom.toml: field 'indications'"),
    (lambda s: s.replace('sources = ["Clinic protocol v1"]', 'sources = []'), "field 'sources' must cite"),
    (lambda s: s.replace('code = "clinic-custom"', 'code = "mdma-ptsd"'), "field 'code': 'mdma-ptsd' is already"),
    (lambda s: s + "\n[[[", "custom.toml: not valid TOML"),
])
def test_a_broken_protocol_file_stops_start_up_naming_file_and_field(tmp_path: Path, change, message):
    (tmp_path / "custom.toml").write_text(change(VALID))
    with pytest.raises(ProtocolError, match=message.replace("(", r"\(").replace("[", r"\[")):
        create_app(TestConfig, EXTRA_PROTOCOL_DIR=str(tmp_path))
