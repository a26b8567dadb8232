"""The integrative frame as structure: the clinic-editable list of therapeutic modalities and the modality on
preparation and integration notes; the integration plan's practices (practice, frequency) with the check-in at each
integration session and the adherence a supervisor sees beside the measures; the dosing session's set-and-setting
checklist from the protocol. Earlier signed notes, which never held these fields, hash as they did."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import audit_actions, login
from tests.session_data import held_session, session_url
from tracker.extensions import db
from tracker.factories import make_patient
from tracker.modalities import ModalityError, check_choice, clinic_modalities, defaults, parse_list
from tracker.models import Clinic, IntegrationPlanVersion, SessionKind, SessionNote
from tracker.notes.fields import note_content
from tracker.plans.practices import PracticeError, adherence, check_in, clean
from tracker.plans.services import save_version

CRISIS = "988, or the clinic on 555-0100"

# -- modalities ------------------------------------------------------------------------------------------------------


def test_the_default_modalities_are_the_articles_and_the_trials_each_with_a_source():
    names = [m.name for m in defaults()]
    for name in (
        "Internal Family Systems",
        "Compassionate Inquiry",
        "Jungian analysis",
        "Somatic psychotherapy",
        "Motivational enhancement therapy",
        "Cognitive behavioural therapy",
    ):
        assert name in names
    assert all(m.source for m in defaults())


def test_a_clinic_list_is_one_per_line_without_repeats(people):
    assert parse_list(" Internal Family Systems \n\n  Breath-led somatic work\n") == [
        "Internal Family Systems",
        "Breath-led somatic work",
    ]
    with pytest.raises(ModalityError, match="Line 2 repeats 'ifs'"):
        parse_list("IFS\nifs")
    with pytest.raises(ModalityError, match="at least one"):
        parse_list("\n \n")
    clinic = db.session.get(Clinic, people.clinic.id)
    assert clinic_modalities(clinic) == [m.name for m in defaults()]
    clinic.modalities = ["Gestalt"]
    assert check_choice("Gestalt", clinic, None) == "Gestalt"
    assert check_choice("Jungian analysis", clinic, "Jungian analysis") == "Jungian analysis"  # kept on its note
    with pytest.raises(ModalityError, match="clinic's list"):
        check_choice("Jungian analysis", clinic, None)


@pytest.mark.parametrize("persona", ["lead", "supervisor", "outsider"])
def test_only_an_admin_edits_the_modalities(client, people, persona):
    login(client, getattr(people, persona))
    assert client.get("/admin/modalities").status_code == 403
    assert client.post("/admin/modalities", data={"names": "X"}).status_code == 403


def test_the_admin_saves_the_clinics_list_audited(client, people):
    login(client, people.admin)
    page = client.get("/admin/modalities")
    assert page.status_code == 200 and "Internal Family Systems" in page.text and "Schwartz RC" in page.text
    assert client.post("/admin/modalities", data={"names": "IFS\nIFS"}).status_code == 422
    response = client.post("/admin/modalities", data={"names": "Internal Family Systems\nHakomi"})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Clinic, people.clinic.id).modalities == ["Internal Family Systems", "Hakomi"]
    assert audit_actions()[-1] == "clinic.modalities"


def test_a_preparation_note_records_a_modality_from_the_clinics_list(client, people, protocols):
    session = held_session(people.patient, people.lead, protocols, SessionKind.PREPARATION, 120, 60)
    login(client, people.lead)
    page = client.get(session_url(people.patient, session)).text
    assert '<option value="Compassionate Inquiry">' in page
    bad = client.post(
        session_url(people.patient, session, "/note"),
        data={"topics": "Set and setting", "modality": "Made-up therapy", "version_id": ""},
    )
    assert bad.status_code == 422 and "Choose a modality from the clinic&#39;s list." in bad.text
    good = client.post(
        session_url(people.patient, session, "/note"),
        data={"topics": "Set and setting", "modality": "Internal Family Systems", "version_id": ""},
    )
    assert good.status_code == 302
    note = db.session.scalar(select(SessionNote).where(SessionNote.session_id == session.id))
    assert note.fields["modality"] == "Internal Family Systems"
    assert note_content(note, session)["fields"]["modality"] == "Internal Family Systems"


def test_a_note_without_the_new_fields_hashes_as_before(people, protocols):
    """Notes signed before versions (version 1) never held a modality, a check-in or a checklist: their content has
    no such key; the current version holds every field and says so (tests/test_signature_versions.py)."""
    session = held_session(people.patient, people.lead, protocols, SessionKind.PREPARATION, 120, 60)
    from tracker.models.base import utcnow
    from tracker.notes import saving

    note, _ = saving.save_note(
        people.lead, people.patient, session, None, saving.NoteInput(fields={"topics": "Expectations"}), None, utcnow()
    )
    assert set(note_content(note, session, 1)["fields"]) == {"topics", "intention", "consent", "questions"}
    current = note_content(note, session)
    assert set(current["fields"]) == {"topics", "intention", "consent", "questions", "modality"}
    assert current["version"] == 2


# -- practices and check-ins (pure) ------------------------------------------------------------------------------


def test_practice_rows_are_complete_or_dropped():
    rows = [("Breathwork", "daily"), ("", ""), ("  Time in   nature ", "weekly")]
    assert clean(rows) == [
        {"practice": "Breathwork", "frequency": "daily"},
        {"practice": "Time in nature", "frequency": "weekly"},
    ]
    for bad, field in (
        ([("Breathwork", "")], "frequency"),
        ([("", "daily")], "practice"),
        ([("Walk", "daily"), ("walk", "weekly")], "practice"),
    ):
        with pytest.raises(PracticeError) as refused:
            clean(bad)
        assert refused.value.field == field


def test_a_check_in_answers_every_practice_of_the_plan():
    plan = [{"practice": "Breathwork", "frequency": "daily"}, {"practice": "Journaling", "frequency": "weekly"}]
    assert check_in(plan, ["as_planned", None]) == [
        {"practice": "Breathwork", "frequency": "daily", "adherence": "as_planned"},
        {"practice": "Journaling", "frequency": "weekly", "adherence": None},
    ]
    with pytest.raises(PracticeError, match="plan changed"):
        check_in(plan, ["as_planned"])
    with pytest.raises(PracticeError, match="how the practice went"):
        check_in(plan, ["sometimes", None])


# -- through the pages ------------------------------------------------------------------------------------------


def _plan_form(based_on: int, **extra: str) -> dict[str, str]:
    data = {"based_on": str(based_on), "crisis_line": CRISIS, "section_1": "You felt safe again."}
    data.update(extra)
    return data


def test_the_plan_keeps_practices_as_structured_items(client, people):
    login(client, people.lead)
    url = f"/patients/{people.patient.id}/plan/edit"
    assert 'list="practice-suggestions"' in client.get(url).text
    half = client.post(url, data=_plan_form(0, practice_1="Breathwork"))
    assert half.status_code == 422 and "Choose how often." in half.text
    saved = client.post(
        url,
        data=_plan_form(
            0, practice_1="Breathwork", frequency_1="daily", practice_2="Time in nature", frequency_2="weekly"
        ),
    )
    assert saved.status_code == 302
    version = db.session.scalar(select(IntegrationPlanVersion))
    assert version.practice_items == [
        {"practice": "Breathwork", "frequency": "daily"},
        {"practice": "Time in nature", "frequency": "weekly"},
    ]
    page = client.get(f"/patients/{people.patient.id}/plan").text
    assert "Your practices" in page and "Breathwork: every day" in page


def _plan_with_practices(people) -> IntegrationPlanVersion:
    version = save_version(
        people.lead,
        people.patient,
        {"Insights and themes": "Safety."},
        CRISIS,
        0,
        [{"practice": "Breathwork", "frequency": "daily"}, {"practice": "Time in nature", "frequency": "weekly"}],
    )
    db.session.commit()
    assert version is not None
    return version


def _integration(people, protocols, minutes_ago: int):
    return held_session(people.patient, people.lead, protocols, SessionKind.INTEGRATION, minutes_ago, 60)


def _note_form(version: int, *answers: str, **extra: str) -> dict[str, str]:
    data = {
        "themes": "Grief and relief",
        "risk_check": "no_concern",
        "checkin_plan_version": str(version),
        "version_id": "",
    }
    data.update({f"practice_checkin-{n}": answer for n, answer in enumerate(answers)})
    data.update(extra)
    return data


def test_an_integration_note_checks_in_on_each_practice_before_signing(client, people, protocols):
    from tracker.factories import PASSWORD

    version = _plan_with_practices(people)
    session = _integration(people, protocols, 300)
    login(client, people.lead)
    page = client.get(session_url(people.patient, session)).text
    assert "Check-in on the plan" in page and "Breathwork" in page and 'name="practice_checkin-1"' in page
    assert (
        client.post(
            session_url(people.patient, session, "/note"), data=_note_form(version.number, "as_planned", "")
        ).status_code
        == 302
    )
    sign = client.post(session_url(people.patient, session, "/sign"), data={"password": PASSWORD})
    assert sign.status_code == 409
    assert "Check in on each practice of the integration plan (or mark it not discussed): Time in nature." in sign.text
    # The plan changed while the form was open: the check-in is asked again.
    stale = client.post(
        session_url(people.patient, session, "/note"),
        data=_note_form(version.number - 1, "as_planned", "not_done", version_id="1"),
    )
    assert stale.status_code == 422 and "plan changed since the page was opened" in stale.text
    assert (
        client.post(
            session_url(people.patient, session, "/note"),
            data=_note_form(version.number, "as_planned", "not_done", version_id="1"),
        ).status_code
        == 302
    )
    assert client.post(session_url(people.patient, session, "/sign"), data={"password": PASSWORD}).status_code == 302
    note = db.session.scalar(select(SessionNote).where(SessionNote.session_id == session.id))
    assert note.is_signed
    assert [i["adherence"] for i in note_content(note, session)["fields"]["practice_checkin"]["items"]] == [
        "as_planned",
        "not_done",
    ]


def test_a_supervisor_sees_adherence_over_time_beside_the_measures(client, people, protocols):
    from tracker.factories import PASSWORD
    from tracker.models.base import utcnow
    from tracker.notes import saving, signing

    version = _plan_with_practices(people)
    for minutes, answers in ((3000, ["as_planned", "partly"]), (600, ["as_planned", "not_done"])):
        session = _integration(people, protocols, minutes)
        note, _ = saving.save_note(
            people.lead,
            people.patient,
            session,
            None,
            saving.NoteInput(
                fields={
                    "themes": "x",
                    "risk_check": "no_concern",
                    "practice_checkin": {"plan_version": str(version.number), "answers": answers},
                }
            ),
            None,
            utcnow(),
        )
        signing.sign_note(people.lead, people.patient, session, note, None, PASSWORD, None, True, utcnow())
    db.session.commit()
    login(client, people.supervisor)
    page = client.get(f"/patients/{people.patient.id}/measures").text
    assert "Integration practices: adherence" in page
    assert "2 of 2 check-ins as planned" in page and "0 of 2 check-ins as planned" in page
    assert page.count('badge text-bg-success">As planned') == 2 and "Partly" in page and "Not done" in page


def test_adherence_rows_keep_a_practice_dropped_from_the_plan():
    from datetime import UTC, datetime

    from tracker.plans.practices import CheckIn

    entries = [
        CheckIn(datetime(2026, 1, 5, tzinfo=UTC), "a", {"Walk": "as_planned"}),
        CheckIn(datetime(2026, 1, 12, tzinfo=UTC), "b", {"Breathwork": "partly"}),
    ]
    rows = adherence([{"practice": "Breathwork", "frequency": "daily"}], entries)
    assert [(r.practice, r.cells) for r in rows] == [("Breathwork", (None, "partly")), ("Walk", ("as_planned", None))]
    assert rows[0].share == "0 of 1 check-ins as planned"


# -- set and setting ------------------------------------------------------------------------------------------------


def test_a_dosing_note_confirms_the_protocols_set_and_setting(client, people, protocols):
    from tests.session_data import in_dosing

    patient = make_patient(
        people.lead,
        people.co_therapist,
        protocols=protocols,
        protocol_code="psilocybin-cancer-hopkins",
        family_name="Zzsetting",
    )
    in_dosing(patient, people.lead, protocols)
    session = held_session(patient, people.lead, protocols, SessionKind.DOSING, 500, 480)
    login(client, people.lead)
    page = client.get(session_url(patient, session)).text
    assert 'id="set-and-setting"' in page and "Eyeshades offered" in page and "Touch consent confirmed" in page
    url = session_url(patient, session, "/note")
    bad = client.post(url, data={"body": "Calm.", "set_and_setting": ["room", "disco-ball"], "version_id": ""})
    assert bad.status_code == 422 and "Confirm items of the protocol" in bad.text
    assert (
        client.post(
            url, data={"body": "Calm.", "set_and_setting": ["room", "eyeshades", "sitter"], "version_id": ""}
        ).status_code
        == 302
    )
    note = db.session.scalar(select(SessionNote).where(SessionNote.session_id == session.id))
    checklist = {item["id"]: item["confirmed"] for item in note.fields["set_and_setting"]}
    assert checklist == {
        "room": True,
        "music": False,
        "eyeshades": True,
        "sitter": True,
        "touch-consent": False,
        "intention": False,
    }
    page = client.get(session_url(patient, session)).text
    assert 'value="eyeshades" id="set-and-setting-eyeshades" checked' in page


def test_the_session_record_pdf_shows_the_modality_and_the_check_in(client, people, protocols):
    """The printed record of a signed integration note carries what was signed: the modality and the check-in."""
    from tracker.factories import PASSWORD
    from tracker.models.base import utcnow
    from tracker.notes import saving, signing
    from tracker.reports.content import Stamp, record_document

    version = _plan_with_practices(people)
    session = _integration(people, protocols, 900)
    note, _ = saving.save_note(
        people.lead,
        people.patient,
        session,
        None,
        saving.NoteInput(
            fields={
                "themes": "x",
                "risk_check": "no_concern",
                "modality": "Somatic psychotherapy",
                "practice_checkin": {"plan_version": str(version.number), "answers": ["partly", "not_discussed"]},
            }
        ),
        None,
        utcnow(),
    )
    signing.sign_note(people.lead, people.patient, session, note, None, PASSWORD, None, True, utcnow())
    db.session.commit()
    with client.application.test_request_context():
        html = record_document(db.session, people.patient, session, Stamp(people.lead, utcnow()))
    assert "<h3>Therapeutic modality</h3><p>Somatic psychotherapy</p>" in html
    assert "<li>Breathwork: Partly</li>" in html and "<li>Time in nature: Not discussed</li>" in html
