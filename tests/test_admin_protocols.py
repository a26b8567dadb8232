"""The admin pages that show the protocol templates: the list, one template in full, and who may open them."""

from __future__ import annotations

import html

import pytest

from tests.conftest import audit_actions, login

PERSONAS = ["lead", "co_therapist", "supervisor", "other_therapist", "other_supervisor", "admin", "outsider"]
CODES = [
    "mdma-ptsd",
    "psilocybin-mdd",
    "ketamine-iv-trd",
    "esketamine-rems-trd",
    "psilocybin-cancer-hopkins",
    "psilocybin-cancer-nyu",
    "psilocybin-aud",
    "psilocybin-tobacco",
    "psilocybin-ocd",
]


def _text(response) -> str:
    return html.unescape(response.text)


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("url", ["/admin/protocols", "/admin/protocols/mdma-ptsd"])
def test_it_shows_protocols_to_admins_only(client, people, persona, url):
    login(client, getattr(people, persona))
    response = client.get(url)
    assert response.status_code == (200 if persona == "admin" else 403)
    assert ("MDMA" in response.text) is (persona == "admin")


def test_it_lists_every_loaded_protocol_with_its_plan_and_no_file_path(client, people, protocols):
    login(client, people.admin)
    page = _text(client.get("/admin/protocols"))
    for code, protocol in protocols.items():
        assert protocol.name in page and f'href="/admin/protocols/{code}"' in page
        assert protocol.substance in page and protocol.path not in page and ".toml" not in page
    assert "3 / 3 / 3" in page  # MDMA: preparation / dosing / integration per dosing (MAPP1/MAPP2)
    assert "2 / 2 / 1" in page  # psilocybin
    assert "PTSD" in page and "Treatment-resistant depression" in page
    assert "PROTOCOL_DIR" in page and "restart" in page


def test_the_accounts_page_links_to_the_protocols(client, people):
    login(client, people.admin)
    assert 'href="/admin/protocols"' in client.get("/admin/users").text


@pytest.mark.parametrize("code", CODES)
def test_it_shows_every_section_of_a_protocol(client, people, protocols, code):
    protocol = protocols[code]
    login(client, people.admin)
    response = client.get(f"/admin/protocols/{code}")
    assert response.status_code == 200
    page = _text(response)
    assert protocol.path not in page
    assert all(source in page for source in protocol.sources)
    if protocol.sessions.note:
        assert protocol.sessions.note in page
    for item in protocol.screening:
        assert item.text in page and item.source in page
        assert all(value in page for value in item.acceptable + item.choices)
    for check in protocol.pre_dosing:
        assert check.text in page and check.source in page
    for rule in protocol.interactions:
        assert rule.note in page and rule.source in page and protocol.item(rule.raises).text in page
        assert all(name in page for name in rule.drug_names)
    for limit in protocol.vital_limits:
        assert limit.source in page
    if protocol.vitals_schedule:
        assert protocol.vitals_schedule in page
    if protocol.minimum_observation_minutes is not None:
        assert f"{protocol.minimum_observation_minutes} minutes" in page
    for measure in protocol.measures:
        assert measure.instrument in page and measure.source in page
    assert all(section in page for section in protocol.integration_plan_sections)
    for heading in ("Absolute exclusions", "Items for a supervisor's review", "Requirements"):
        assert heading in page


def test_it_groups_screening_items_by_kind(client, people):
    login(client, people.admin)
    page = _text(client.get("/admin/protocols/mdma-ptsd"))
    exclusions, rest = page.split("Absolute exclusions (8)")[1].split("Items for a supervisor's review (2)")
    reviews, requirements = rest.split("Requirements (5)")
    assert "Eating disorder with active purging" in exclusions and "Eating disorder" not in reviews
    assert "Substance use disorder" in reviews and "Substance use disorder" not in requirements
    assert "Pregnancy test" in requirements and "Pregnancy test" not in exclusions


def test_it_flags_clinic_settings_with_their_note(client, people):
    login(client, people.admin)
    mdma = _text(client.get("/admin/protocols/mdma-ptsd"))
    # The 7-day pregnancy-test window, the vital limits and the measures carry setting notes.
    assert "7 days before the session" in mdma
    assert "The 7-day window is a clinic setting: the sources say 'before each session' without a window." in mdma
    assert "Comparators, not phase 3 stopping rules [U]: clinic setting." in mdma
    assert mdma.count("Clinic setting</span>") >= 6
    # The psilocybin vitals schedule has no setting note, but its text is marked uncertain with [U].
    psilocybin = _text(client.get("/admin/protocols/psilocybin-mdd"))
    schedule = psilocybin.split("Vital signs during dosing sessions")[1].split("Alert limits")[0]
    assert "Clinic setting</span>" in schedule and "marked uncertain [U]" in schedule


def test_it_shows_limits_and_interaction_details(client, people):
    login(client, people.admin)
    page = _text(client.get("/admin/protocols/mdma-ptsd"))
    limits = page.split("Alert limits")[1].split("Measures due")[0]
    assert "Systolic blood pressure (mmHg)" in limits and "160" in limits and "38" in limits
    interactions = page.split("Medication interaction rules")[1].split("Vital signs during")[0]
    assert "ssri, snri" in interactions and "Yes: must be stopped before any dosing session" in interactions
    assert "psychiatric-medication-taper" in interactions and "supervisor's review" in interactions
    psilocybin = _text(client.get("/admin/protocols/psilocybin-mdd"))
    assert "tramadol" in psilocybin and "absolute exclusion" in psilocybin


def test_an_unknown_protocol_is_404(client, people):
    login(client, people.admin)
    assert client.get("/admin/protocols/no-such-protocol").status_code == 404


def test_it_shows_no_patient_data_and_writes_no_audit_rows(client, people):
    login(client, people.admin)
    before = audit_actions()
    for url in ["/admin/protocols", *[f"/admin/protocols/{code}" for code in CODES]]:
        response = client.get(url)
        assert "Zzpatient" not in response.text and "CANARY-1" not in response.text
    assert audit_actions() == before


def test_it_shows_the_research_marker_set_and_setting_and_required_results(client, people, protocols):
    login(client, people.admin)
    listing = _text(client.get("/admin/protocols"))
    assert listing.count("Research protocol \u2014 not an approved treatment") == 5
    page = _text(client.get("/admin/protocols/psilocybin-aud"))
    assert "Research protocol \u2014 not an approved treatment" in page
    assert protocols["psilocybin-aud"].regulatory.note in page
    assert "Laboratory results before each dosing session" in page and "Alanine aminotransferase (ALT)" in page
    assert "90 days before the session" in page
    assert "Set and setting of a dosing session" in page and "Eyeshades offered" in page
    ocd = _text(client.get("/admin/protocols/psilocybin-ocd"))
    assert "Exploratory" in ocd and "(exploratory evidence)" in ocd
    mdma = _text(client.get("/admin/protocols/mdma-ptsd"))
    assert "Research protocol \u2014" not in mdma and "Not stated in the protocol file" in mdma
