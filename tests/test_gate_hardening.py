"""Ways around the dosing gate an outside review found, each closed at the door it used: the order of answers and
times, the patient's record changed after sign-off, the session moved or un-held under its dose, readings and
discharge outside the session, a supplemental dose alone, combination and run-together drug names, back-dated or
renamed medications, a protocol switched mid-course, self-review of a correction, and findings after sign-off."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import login
from tests.session_data import (
    FULL_SET,
    ago,
    dosing_note,
    held_session,
    in_dosing,
    minutes_ago,
    session_url,
    stamp,
    vitals_form,
)
from tests.test_patients import _form
from tracker import gate
from tracker.extensions import db
from tracker.factories import clear_for_dosing
from tracker.models import (
    AnswerValue,
    Medication,
    Patient,
    ReviewDecision,
    SessionNote,
    SexAtBirth,
    TherapySession,
    VitalReading,
)
from tracker.models.base import utcnow
from tracker.screening.queries import screening_state
from tracker.screening.services import (
    AnswerInput,
    MedicationInput,
    ScreeningError,
    add_medication,
    answer_item,
    current_checklist,
    review_item,
    start_checklist,
    update_medication,
)

TODAY = utcnow().date


def move_refusals(patient: Patient, protocols) -> list[str]:
    return [
        u.message
        for u in gate.check(
            db.session, patient, protocols[patient.protocol_code], gate.Door.MOVE_TO_DOSING, now=utcnow()
        )
    ]


# --- The session moved, un-held, or its times outside it --------------------------------------------------------


@pytest.fixture
def dosed(client, people, protocols) -> TherapySession:
    """A held MDMA dosing session with its dose saved (a draft note)."""
    patient = in_dosing(people.patient, people.lead, protocols)
    session = held_session(patient, people.lead, protocols)
    login(client, people.lead)
    assert client.post(session_url(patient, session, "/note"), data=dosing_note()).status_code == 302
    return session


def _edit(client, patient, session, **values):
    data = {
        "held_at": stamp(session.held_at),
        "duration_minutes": "540",
        "cycle": "1",
        "location": "Room 1",
        "present_ids": [str(m.user_id) for m in patient.care_team],
        "scheduled_at": "",
        "scheduled_minutes": "",
    }
    return client.post(session_url(patient, session, "/edit"), data={**data, **values})


def test_moving_a_session_after_its_dose_is_refused(client, people, dosed):
    response = _edit(client, people.patient, dosed, held_at=minutes_ago(400))  # the dose was given 590 min ago
    assert response.status_code == 422 and "outside the session" in response.text
    db.session.expire_all()
    assert db.session.get(TherapySession, dosed.id).held_at == dosed.held_at


def test_shortening_a_session_under_its_supplemental_dose_is_refused(client, people, dosed):
    response = _edit(client, people.patient, dosed, duration_minutes="60")
    assert response.status_code == 422 and "The supplemental dose is recorded at" in response.text


def test_a_session_with_a_dose_cannot_be_made_unheld(client, people, dosed):
    response = _edit(
        client,
        people.patient,
        dosed,
        held_at="",
        duration_minutes="",
        scheduled_at=stamp(utcnow() + timedelta(days=1)),
        scheduled_minutes="60",
    )
    assert response.status_code == 422 and "stays recorded as held" in response.text
    db.session.expire_all()
    assert db.session.get(TherapySession, dosed.id).held_at is not None


def test_a_dose_outside_the_session_is_refused_next_to_its_time(client, people, protocols):
    patient = in_dosing(people.patient, people.lead, protocols)
    session = held_session(patient, people.lead, protocols, duration=120)
    login(client, people.lead)
    response = client.post(
        session_url(patient, session, "/note"), data=dosing_note(supplemental_given_at=stamp(ago(300)))
    )
    assert response.status_code == 422 and 'id="dose_given_at-error"' in response.text
    assert "outside the session" in response.text
    assert db.session.scalar(select(SessionNote).where(SessionNote.session_id == session.id)) is None


def test_a_supplemental_dose_without_the_first_is_refused(client, people, protocols):
    patient = in_dosing(people.patient, people.lead, protocols)
    session = held_session(patient, people.lead, protocols)
    login(client, people.lead)
    response = client.post(session_url(patient, session, "/note"), data=dosing_note(dose_amount="", dose_given_at=""))
    assert response.status_code == 422
    assert db.session.scalar(select(SessionNote).where(SessionNote.session_id == session.id)) is None


@pytest.mark.parametrize("when", ["0001-01-01T00:00", "days before"])
def test_a_reading_from_another_day_is_refused_next_to_its_time(client, people, protocols, when):
    patient = in_dosing(people.patient, people.lead, protocols)
    session = held_session(patient, people.lead, protocols)
    login(client, people.lead)
    taken = stamp(ago(60 * 24 * 3)) if when == "days before" else when
    response = client.post(
        session_url(patient, session, "/vitals"), data={**vitals_form(**FULL_SET), "taken_at": taken}
    )
    assert response.status_code == 422
    assert 'id="taken_at-error"' in response.text or "not a valid" in response.text.lower()
    assert db.session.scalar(select(func.count()).select_from(VitalReading)) == 0


# --- The record changed after sign-off ------------------------------------------------------------------------------


def test_a_pregnancy_test_required_at_sign_off_stays_required_after_the_record_changes(client, people, protocols):
    patient = people.patient
    clear_for_dosing(patient, people.lead, protocols)
    checklist = current_checklist(db.session, patient)
    assert checklist.record_at_sign_off == {"pregnancy_possible": True}
    answered = next(a for a in checklist.answers if a.item_id == "pregnancy-test")
    answered.done_on = TODAY() - timedelta(days=9)  # the test is too old for the next dose
    db.session.commit()

    def unmet() -> list[str]:
        return [
            u.condition
            for u in gate.check(db.session, patient, protocols["mdma-ptsd"], gate.Door.MOVE_TO_DOSING, now=utcnow())
        ]

    assert unmet() == ["pre_dosing_checks"]
    login(client, people.lead)
    page = client.get(f"/patients/{patient.id}/edit")
    version = page.text.split('name="version_id" type="hidden" value="')[1].split('"')[0]
    changed = client.post(
        f"/patients/{patient.id}/edit",
        data=_form(
            people,
            record_number=patient.record_number,
            given_name=patient.given_name,
            family_name=patient.family_name,
            can_become_pregnant="no",
            version_id=version,
        ),
    )
    assert changed.status_code == 302
    db.session.expire_all()
    assert unmet() == ["pre_dosing_checks"]  # the record changed; the test signed off as needed stays needed
    checklist.record_at_sign_off = {"pregnancy_possible": False}  # (had the record said so at sign-off)
    db.session.commit()
    assert unmet() == []


def test_male_at_birth_and_able_to_become_pregnant_is_refused(client, people):
    login(client, people.lead)
    response = client.post("/patients/new", data=_form(people, sex_at_birth="male", can_become_pregnant="yes"))
    assert response.status_code == 422 and "pregnancy is not possible" in response.text
    assert db.session.scalar(select(Patient).where(Patient.record_number == "H-2001")) is None
    fine = client.post(
        "/patients/new", data=_form(people, sex_at_birth=SexAtBirth.MALE.value, can_become_pregnant="no")
    )
    assert fine.status_code == 302


def test_the_protocol_cannot_change_once_dosing_has_begun(client, people, protocols, dosed):
    patient = people.patient
    from tracker import workflow
    from tracker.models import Phase

    workflow.move(db.session, patient, Phase.ON_HOLD, people.lead, protocols["mdma-ptsd"], reason="Travelling.")
    db.session.commit()
    page = client.get(f"/patients/{patient.id}/edit")
    version = page.text.split('name="version_id" type="hidden" value="')[1].split('"')[0]
    response = client.post(
        f"/patients/{patient.id}/edit",
        data=_form(
            people,
            record_number=patient.record_number,
            given_name=patient.given_name,
            family_name=patient.family_name,
            indication="major_depression",
            protocol_code="psilocybin-mdd",
            version_id=version,
        ),
    )
    assert response.status_code == 422 and "Dosing has begun under this protocol" in response.text
    db.session.expire_all()
    assert db.session.get(Patient, patient.id).protocol_code == "mdma-ptsd"


# --- Medications ------------------------------------------------------------------------------------------------


def test_a_combination_is_recorded_one_drug_per_line(client, people):
    login(client, people.lead)
    response = client.post(
        f"/patients/{people.patient.id}/medications",
        data={
            "name": "Zoloft + Nardil",
            "drug_class": "",
            "dose": "",
            "started_on": "",
            "stopped_on": "",
            "taper_plan": "",
            "taper_end_on": "",
        },
    )
    assert response.status_code == 422 and "sertraline and phenelzine" in response.text
    assert db.session.scalar(select(func.count()).select_from(Medication)) == 0


def test_a_drug_name_run_into_its_dose_is_still_known(people):
    medication = add_medication(people.lead, people.patient, MedicationInput("Nardil15mg", ""))
    assert medication.drug_class == "maoi"


def test_a_stop_date_cannot_be_back_dated_behind_what_the_record_showed(people):
    nardil = add_medication(
        people.lead, people.patient, MedicationInput("Phenelzine", "", started_on=TODAY() - timedelta(days=200))
    )
    db.session.flush()
    assert nardil.last_current_on == TODAY()
    given = MedicationInput("Phenelzine", "maoi", started_on=nardil.started_on)
    with pytest.raises(ScreeningError, match="cannot have stopped before"):
        back_dated = MedicationInput(**{**vars(given), "stopped_on": TODAY() - timedelta(days=30)})
        update_medication(people.lead, people.patient, nardil, back_dated)
    update_medication(people.lead, people.patient, nardil, MedicationInput(**{**vars(given), "stopped_on": TODAY()}))


@pytest.mark.parametrize(
    "field,value,words",
    [
        ("stopped_on", "0001-01-01", "1900"),
        ("started_on", "0001-01-01", "1900"),
    ],
)
def test_implausible_medication_dates_are_refused(client, people, field, value, words):
    login(client, people.lead)
    data = {
        "name": "Sertraline",
        "drug_class": "ssri",
        "dose": "",
        "started_on": "",
        "stopped_on": "",
        "taper_plan": "",
        "taper_end_on": "",
        field: value,
    }
    response = client.post(f"/patients/{people.patient.id}/medications", data=data)
    assert response.status_code == 422 and words in response.text


def test_a_future_stop_date_is_refused(people):
    with pytest.raises(ScreeningError, match="once it has happened"):
        add_medication(
            people.lead, people.patient, MedicationInput("Sertraline", "ssri", stopped_on=TODAY() + timedelta(days=3))
        )


def test_an_maoi_cannot_be_renamed_away(people):
    nardil = add_medication(people.lead, people.patient, MedicationInput("Nardil 15 mg", ""))
    db.session.flush()
    with pytest.raises(ScreeningError, match="take away what Nardil 15 mg is"):
        update_medication(people.lead, people.patient, nardil, MedicationInput("Vitamin D", "other"))


# --- Screening: self-review, findings after sign-off, another protocol's yes --------------------------------------


def test_the_author_of_a_correction_cannot_clear_it(people, protocols):
    mdma = protocols["mdma-ptsd"]
    checklist = current_checklist(db.session, people.patient)
    answer_item(people.lead, checklist, mdma, "ventricular-arrhythmia", AnswerInput(AnswerValue.YES), TODAY())
    answer_item(
        people.supervisor,
        checklist,
        mdma,
        "ventricular-arrhythmia",
        AnswerInput(AnswerValue.NO, note="Entered against the wrong patient."),
        TODAY(),
    )
    db.session.flush()
    state = screening_state(db.session, people.patient, mdma, TODAY())
    with pytest.raises(ScreeningError, match="another supervisor reviews it"):
        review_item(
            people.supervisor,
            state.checklist,
            state.assessment,
            "ventricular-arrhythmia",
            ReviewDecision.CLEARED,
            "Checked.",
        )


def test_a_new_finding_after_sign_off_is_recorded_and_holds_dosing(client, people, protocols):
    patient = people.patient
    clear_for_dosing(patient, people.lead, protocols)
    db.session.commit()
    assert move_refusals(patient, protocols) == []
    login(client, people.lead)
    response = client.post(
        f"/patients/{patient.id}/screening/items/ventricular-arrhythmia",
        data={"ventricular-arrhythmia-answer": "yes", "ventricular-arrhythmia-note": ""},
    )
    assert response.status_code == 302
    assert any("Absolute exclusion" in m for m in move_refusals(patient, protocols))
    # A plain "no" after sign-off is still refused; only a reasoned correction goes to review.
    refused = client.post(
        f"/patients/{patient.id}/screening/items/psychotic-disorder",
        data={"psychotic-disorder-answer": "no", "psychotic-disorder-note": ""},
    )
    assert refused.status_code == 422


def test_a_yes_under_one_protocol_carries_to_another_asking_the_same_item(people, protocols):
    patient = people.patient
    mdma = protocols["mdma-ptsd"]
    psilocybin = protocols["psilocybin-mdd"]
    shared = next(
        i.id
        for i in mdma.screening
        if i.kind.value != "requirement" and any(j.id == i.id for j in psilocybin.screening)
    )
    answer_item(
        people.lead, current_checklist(db.session, patient), mdma, shared, AnswerInput(AnswerValue.YES), TODAY()
    )
    db.session.flush()
    patient.protocol_code = psilocybin.code
    fresh = start_checklist(db.session, patient, people.lead, protocols)
    db.session.flush()
    carried = [a for a in fresh.answers if a.item_id == shared]
    assert carried and carried[0].answer is AnswerValue.YES and mdma.name in (carried[0].note or "")
