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
dosing_sessions = 1
co_therapy_required = false
sources = ["Clinic protocol v1"]
"""


def test_the_shipped_protocols_load_and_cite_sources():
    catalogue = load_protocols()
    assert {"mdma-ptsd", "psilocybin-mdd", "ketamine-iv-trd", "esketamine-rems-trd"} <= set(catalogue)
    assert catalogue["mdma-ptsd"].dosing_sessions == 3  # MAPP1/MAPP2
    assert catalogue["psilocybin-mdd"].dosing_sessions == 2  # Davis 2021
    assert all(p.sources for p in catalogue.values())


def test_a_clinic_adds_a_protocol_without_code(tmp_path: Path):
    (tmp_path / "custom.toml").write_text(VALID)
    app = create_app(TestConfig, EXTRA_PROTOCOL_DIR=str(tmp_path))
    assert "clinic-custom" in app.extensions["protocols"]


@pytest.mark.parametrize("change,message", [
    (lambda s: s.replace('dosing_sessions = 1\n', ''), "custom.toml: missing field 'dosing_sessions'"),
    (lambda s: s.replace('dosing_sessions = 1', 'dosing_sessions = "one"'),
     "custom.toml: field 'dosing_sessions' must be int, got str"),
    (lambda s: s.replace('dosing_sessions = 1', 'dosing_sessions = true'),
     "custom.toml: field 'dosing_sessions' must be int, got bool"),
    (lambda s: s.replace('"major_depression"', '"hiccups"'), "custom.toml: field 'indications'"),
    (lambda s: s.replace('sources = ["Clinic protocol v1"]', 'sources = []'), "field 'sources' must cite"),
    (lambda s: s.replace('code = "clinic-custom"', 'code = "mdma-ptsd"'), "field 'code': 'mdma-ptsd' is already"),
    (lambda s: s + "\n[[[", "custom.toml: not valid TOML"),
])
def test_a_broken_protocol_file_stops_start_up_naming_file_and_field(tmp_path: Path, change, message):
    (tmp_path / "custom.toml").write_text(change(VALID))
    with pytest.raises(ProtocolError, match=message.replace("(", r"\(").replace("[", r"\[")):
        create_app(TestConfig, EXTRA_PROTOCOL_DIR=str(tmp_path))
